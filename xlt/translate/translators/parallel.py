"""Gold translations from a parallel dataset: rows that share an id in two languages translate each other
(NusaX, SIB-200). Not a machine translator but the oracle: what translate-test and translate-train would
reach with perfect translation, labelled "(oracle)" in every table. Texts are matched after whitespace
is normalised; a text the set does not hold is an error (the oracle never guesses)."""
from __future__ import annotations

import hashlib
from typing import Literal

from xlt.data import registry
from xlt.data.readers import read_records
from xlt.errors import XltError
from xlt.translate import TRANSLATORS
from xlt.translate.translators.base import Translator, TranslatorConfig


class ParallelConfig(TranslatorConfig):
    """Gold translations from a named parallel dataset."""

    name: Literal["parallel"] = "parallel"
    dataset: str
    """A named parallel dataset whose rows share ids across languages (nusax-senti, sib-200)."""


def _norm(text: str) -> str:
    return " ".join(text.split())


def parallel_spec(dataset: str) -> registry.DatasetSpec:
    """A named dataset whose rows share ids across languages (one clear error for any other)."""
    spec = registry.get_spec(dataset)
    if spec.id is None:
        parallel = [n for n, s in registry.DATASETS.items() if s.id is not None]
        raise XltError(f"dataset {dataset} has no row ids shared across languages, so it gives no translations; "
                       f"parallel datasets: {', '.join(parallel)}")
    return spec


def texts_by_id(spec: registry.DatasetSpec, language: str, data_dir: str | None,
                splits: list[str] | None = None) -> dict[str, str]:
    """Row id -> text (whitespace normalised) of one language, from the given splits (default: all)."""
    code = registry.language_code(spec, language)
    paths = registry.locate(spec, code, registry.data_dir(data_dir))
    missing = [s for s in splits or [] if s not in paths]
    if missing:
        raise XltError(f"{spec.name}/{language} has no {missing[0]} split; it has {', '.join(paths)}")
    column = spec.text if isinstance(spec.text, str) else spec.text[0]
    return {str(rec[spec.id]): _norm(str(rec[column]))
            for split, path in paths.items() if splits is None or split in splits for rec in read_records(path)}


@TRANSLATORS.register
class Parallel(Translator):
    name = "parallel"
    config = ParallelConfig
    oracle = True

    def __init__(self, cfg: ParallelConfig, data_dir: str | None = None):
        super().__init__(cfg, data_dir)
        self.spec = parallel_spec(cfg.dataset)
        self._by_id: dict[str, dict[str, str]] = {}

    def pairs(self) -> list[tuple[str, str]]:
        langs = list(self.spec.languages)
        return [(a, b) for a in langs for b in langs if a != b]

    def version(self, src: str, tgt: str) -> str:
        return f"{self.spec.name}@{hashlib.sha256(self.spec.base_url.encode()).hexdigest()[:12]}"

    def _texts(self, lang: str) -> dict[str, str]:
        """id -> text of every split of one language."""
        if lang not in self._by_id:
            self._by_id[lang] = texts_by_id(self.spec, lang, self.data_dir)
        return self._by_id[lang]

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        a, b = self._texts(src), self._texts(tgt)
        lookup = {text: b[i] for i, text in a.items() if i in b}
        missing = [t for t in texts if _norm(t) not in lookup]
        if missing:
            raise XltError(f"parallel translator: {len(missing)} of {len(texts)} {src} texts are not in "
                           f"{self.spec.name} (first: {missing[0][:80]!r}); the oracle translates only the "
                           "dataset's own texts, so preprocessing that rewrites them (lowercase, ...) cannot be used")
        return [lookup[_norm(t)] for t in texts]
