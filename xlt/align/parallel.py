"""Where parallel sentences come from, and reading them: Tatoeba (up to 1,000 sentences per language paired
with English, LASER's test sets), a parallel dataset's training rows (rows sharing an id translate each other:
NusaX, SIB-200), or two line-aligned files of your own. Every problem is one XltError before any work."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from xlt.data import registry
from xlt.errors import XltError
from xlt.settings import Strict, setting

TATOEBA = registry.DatasetSpec(
    name="tatoeba", folder="tatoeba",
    base_url="https://raw.githubusercontent.com/facebookresearch/LASER/74bc6ae7ffb7cba670fe0f428d0ede9f666fb821/"
             "data/tatoeba/v1",
    files={"eng": "tatoeba.{lang}-eng.eng", "other": "tatoeba.{lang}-eng.{lang}"}, languages={}, text="", label="",
    citation="Artetxe and Schwenk 2019, LASER (Tatoeba similarity-search test sets)",
    licence="Tatoeba terms of use (CC BY 2.0 FR)")
# ISO 639-3 macro-language codes that Tatoeba files under an individual language's code
TATOEBA_CODES = {"swa": "swh", "msa": "zsm", "zho": "cmn", "fas": "pes", "lav": "lvs", "nor": "nob", "est": "est"}
TATOEBA_LANGUAGES = (
    "afr amh ang ara arq arz ast awa aze bel ben ber bos bre bul cat cbk ceb ces cha cmn cor csb cym dan deu dsb "
    "dtp ell epo est eus fao fin fra fry gla gle glg gsw heb hin hrv hsb hun hye ido ile ina ind isl ita jav jpn "
    "kab kat kaz khm kor kur kzj lat lfn lit lvs mal mar max mhr mkd mon nds nld nno nob nov oci orv pam pes pms "
    "pol por ron rus slk slv spa sqi srp swe swg swh tam tat tel tgl tha tuk tur tzl uig ukr urd uzb vie war wuu "
    "xho yid yue zsm").split()


class DatasetPairs(Strict):
    """Rows of a parallel dataset that share an id in the source and the target language."""

    dataset: str
    """A named dataset whose rows share ids across languages: nusax-senti, sib-200."""
    split: str = setting("train")
    """Only train: a validation or test row used for alignment would be seen before it is scored."""


class FilePairs(Strict):
    """Your own line-aligned files: line i of one translates line i of the other."""

    files: dict[str, tuple[str, str]]
    """Target language -> [source-language file, target-language file], UTF-8, one sentence per line."""


ParallelData = Literal["tatoeba"] | DatasetPairs | FilePairs
WHERE = ("parallel: tatoeba (112 languages paired with English), parallel: {dataset: nusax-senti} (a parallel "
         "dataset's training rows), or parallel: {files: {LANG: [SOURCE_FILE, TARGET_FILE]}} (your own files)")


def tatoeba_code(language: str) -> str | None:
    code = TATOEBA_CODES.get(language, language)
    return code if code in TATOEBA_LANGUAGES else None


def check_pairs_available(parallel: ParallelData, source: str, target: str) -> None:
    """Refuse, before any work, a pairing the configured parallel data cannot give."""
    if parallel == "tatoeba":
        if source != "eng":
            raise XltError(f"Tatoeba pairs each language with English, and the source language is {source}; give "
                           "parallel: {dataset: nusax-senti} (a parallel dataset's training rows) or parallel: "
                           "{files: {LANG: [SOURCE_FILE, TARGET_FILE]}} (your own files)")
        if tatoeba_code(target) is None:
            raise XltError(f"Tatoeba has no {target}-English sentences; give {WHERE}")
    elif isinstance(parallel, DatasetPairs):
        if parallel.split == "test":
            raise XltError(f"parallel: {{dataset: {parallel.dataset}, split: test}} aligns on the test rows that the "
                           "runs are scored on, which leaks them into training; use split: train")
        if parallel.split != "train":
            raise XltError(f"parallel sentences come from a dataset's train split only ({parallel.split} rows select "
                           "and score models); use split: train")
        from xlt.translate.translators.parallel import parallel_spec

        spec = parallel_spec(parallel.dataset)
        for lang in (source, target):
            try:
                registry.language_code(spec, lang)
            except XltError:
                raise XltError(f"{parallel.dataset} has no {lang} rows to align on; it has "
                               f"{', '.join(spec.languages)}; or give {WHERE}") from None
    elif target not in parallel.files:
        raise XltError(f"parallel: files has no entry for {target} (it has {', '.join(parallel.files) or 'none'}); "
                       f"add {target}: [SOURCE_FILE, TARGET_FILE], or give {WHERE}")


def sentence_pairs(parallel: ParallelData, source: str, target: str, data_dir: str | None,
                   max_pairs: int) -> tuple[list[tuple[str, str]], str]:
    """(source sentence, target sentence) pairs, at most `max_pairs` (the first ones), and a description of
    where they came from for the run record."""
    check_pairs_available(parallel, source, target)
    if parallel == "tatoeba":
        code = tatoeba_code(target)
        spec = replace(TATOEBA, languages={code: code})
        paths = registry.locate(spec, code, registry.data_dir(data_dir))
        src, tgt = _lines(paths["eng"]), _lines(paths["other"])
        _same_length(paths["eng"], src, paths["other"], tgt)
        pairs, where = list(zip(src, tgt)), f"Tatoeba {code}-eng"
    elif isinstance(parallel, DatasetPairs):
        from xlt.translate.induce import sentence_pairs as dataset_pairs

        pairs, where = dataset_pairs(parallel.dataset, source, target, "train", data_dir), \
            f"{parallel.dataset} train rows sharing an id"
    else:
        a, b = (Path(p).expanduser() for p in parallel.files[target])
        for p in (a, b):
            if not p.is_file():
                raise XltError(f"parallel file {p} does not exist; parallel: files maps {target} to two line-aligned "
                               "files (source language first)")
        src, tgt = _lines(a), _lines(b)
        _same_length(a, src, b, tgt)
        pairs, where = list(zip(src, tgt)), f"files {a.name} / {b.name}"
    pairs = [(s, t) for s, t in pairs if s.strip() and t.strip()][:max_pairs]
    if len(pairs) < 10:
        raise XltError(f"{where} gives {len(pairs)} {source}-{target} sentence pairs; alignment needs at least 10")
    return pairs, where


def pairs_by_target(ctx, parallel: ParallelData, max_pairs: int) -> dict[str, tuple[list[tuple[str, str]], str]]:
    """Each target language's (pairs, where they came from) with the source language, read once per experiment
    (the source's own language, where a target shares it, has nothing to align)."""
    source = ctx.source.language
    return {lang: sentence_pairs(parallel, source, lang, ctx.data_dir, max_pairs)
            for lang in dict.fromkeys(t.language for t in ctx.targets if t.language != source)}


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise XltError(f"parallel file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8, one sentence "
                       "per line") from None


def _same_length(a: Path, lines_a: list[str], b: Path, lines_b: list[str]) -> None:
    if len(lines_a) != len(lines_b):
        raise XltError(f"parallel files differ in line count: {a} has {len(lines_a)} lines and {b} has "
                       f"{len(lines_b)}; line i of one must translate line i of the other")
