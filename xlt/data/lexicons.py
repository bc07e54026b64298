"""Bilingual word lists (lexicons): named public lists mirrored like the datasets (Wiktionary BLI, MUSE),
downloaded when online, or your own file. Code-switching (xlt/data/code_switch.py) and the dictionary
translator (xlt/translate/translators/dictionary.py) read them."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from xlt.data import registry
from xlt.errors import XltError
from xlt.files import read_utf8
from xlt.settings import Strict

WIKTIONARY_BLI = "https://raw.githubusercontent.com/mikeizbicki/wiktionary_bli/a75387f3acb839fa8a26b983b8e382925420c9bc/final"
MUSE = "https://dl.fbaipublicfiles.com/arrival/dictionaries"
XLING_EVAL = ("https://raw.githubusercontent.com/codogogo/xling-eval/008a643439707ff64a95e282cc10613124dffce1/"
              "bli_datasets")
MUSE_LANGS = {"ara": "ar", "deu": "de", "spa": "es", "hin": "hi", "rus": "ru"}

# name -> (spec, order): which column holds the source (English) word
DICTIONARIES: dict[str, tuple[registry.DatasetSpec, str]] = {
    "wiktionary-bli": (registry.DatasetSpec(
        name="wiktionary-bli", folder="wiktionary_bli", base_url=WIKTIONARY_BLI,
        files={"train": "{lang}-en.train", "test": "{lang}-en.test"},  # both halves: the BLI split is irrelevant here
        languages={"amh": "am", "swa": "sw", "yor": "yo", "ind": "id", "jav": "jv", "tgl": "tl", "hin": "hi",
                   "mar": "mr", "tel": "te"},
        text="", label="", citation="Izbicki, Aligning Word Vectors on Low-Resource Languages with Wiktionary",
        licence="none stated (extracted from Wiktionary)"), "target-source"),
    "muse": (registry.DatasetSpec(
        name="muse", folder="muse_nlaugmenter", base_url=MUSE, files={"all": "{lang}.txt"}, languages=MUSE_LANGS,
        download_urls={f"{x}.txt": f"{MUSE}/en-{x}.txt" for x in MUSE_LANGS.values()},
        text="", label="", citation="Lample et al., Word translation without parallel data, ICLR 2018",
        licence="CC BY-NC 4.0"), "source-target"),
    "xling-eval-bli": (registry.DatasetSpec(
        name="xling-eval-bli", folder="xling_eval_bli", base_url=XLING_EVAL,
        files={"train": "en-{lang}/yacle.train.freq.5k.en-{lang}.tsv",
               "test": "en-{lang}/yacle.test.freq.2k.en-{lang}.tsv"},
        languages={"deu": "de", "fin": "fi", "fra": "fr", "hrv": "hr", "ita": "it", "rus": "ru", "tur": "tr"},
        text="", label="", citation="Glavaš et al., How to (Properly) Evaluate Cross-Lingual Word Embeddings, ACL 2019",
        licence="none stated"), "source-target"),
}

class Dictionary(Strict):
    """A bilingual word list for code-switching: a named one (dictionary + language) or your own file."""

    dictionary: Literal["wiktionary-bli", "muse", "xling-eval-bli"] | None = None
    """A named word list from the data mirror (or downloaded)."""
    language: str | None = None
    """ISO 639-3 code of the other language (ind, swa, rus, ...)."""
    path: str | None = None
    """Your own word list: one pair per line."""
    order: Literal["source-target", "target-source"] | None = None
    """Own files: which word comes first."""

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.dictionary is None) == (self.path is None):
            raise ValueError("give dictionary: (wiktionary-bli, muse or xling-eval-bli) with language:, or path: with order:")
        if self.dictionary is not None and (self.language is None or self.order is not None):
            raise ValueError(f"dictionary: {self.dictionary} needs language: (an ISO 639-3 code) and no order:")
        if self.path is not None and self.order is None:
            raise ValueError(f"{self.path}: say which word comes first on each line: order: source-target "
                             "(as MUSE en-xx files) or order: target-source (as Wiktionary BLI xx-en files)")
        return self


def lexicon_paths(cfg: Dictionary, data_dir: str | None) -> tuple[list[Path], str, str]:
    """(files, order, name) of one configured word list."""
    if cfg.dictionary is not None:
        if cfg.dictionary not in DICTIONARIES:
            raise XltError(f"unknown dictionary {cfg.dictionary!r}; known: {', '.join(DICTIONARIES)}, "
                           "or give path: and order: for your own word list")
        spec, order = DICTIONARIES[cfg.dictionary]
        if cfg.language not in spec.languages:
            raise XltError(f"dictionary {cfg.dictionary} has no language {cfg.language!r}; it has "
                           f"{', '.join(spec.languages)} (ISO 639-3), or give path: and order: for your own list")
        paths = list(registry.locate(spec, cfg.language, registry.data_dir(data_dir)).values())
        return paths, order, f"{cfg.dictionary}/{cfg.language}"
    if not Path(cfg.path).is_file():
        raise XltError(f"dictionary {cfg.path} does not exist; give the path of a word list "
                       "(one pair per line) or a named dictionary: " + ", ".join(DICTIONARIES))
    return [Path(cfg.path)], cfg.order, cfg.path


def read_pairs(path: Path, order: str) -> dict[str, list[str]]:
    """source word (lower-cased) -> its one-word translations, in file order, without repeats."""
    words: dict[str, list[str]] = {}
    text = read_utf8(path)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue  # empty side or a multi-word entry: not a one-for-one replacement
        src, tgt = parts if order == "source-target" else parts[::-1]
        cands = words.setdefault(src.lower(), [])
        if tgt not in cands and tgt.lower() != src.lower():
            cands.append(tgt)
    return {w: c for w, c in words.items() if c}


def load_dictionaries(cfgs, data_dir: str | None) -> tuple[dict[str, list[str]], list[str]]:
    """All configured dictionaries merged (a word's translations from every list), and a report line each."""
    merged: dict[str, list[str]] = {}
    lines = []
    for cfg in cfgs:
        paths, order, name = lexicon_paths(cfg, data_dir)
        words: dict[str, list[str]] = {}
        for p in paths:
            _merge(words, read_pairs(p, order))
        if not words:
            raise XltError(f"dictionary {name} has no usable word pairs (one `word<whitespace>word` per line, "
                           f"order {order}); check the file and its order:")
        lines.append(f"{name}: {len(words)} source words, {sum(map(len, words.values()))} translations")
        _merge(merged, words)
    return merged, lines


def _merge(into: dict[str, list[str]], words: dict[str, list[str]]) -> None:
    for w, cands in words.items():
        have = into.setdefault(w, [])
        have += [c for c in cands if c not in have]


