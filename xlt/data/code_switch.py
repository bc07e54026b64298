"""Code-switching augmentation of the source training data (CoSDA-ML, Qin et al., IJCAI 2020).

Words of each source example that a bilingual dictionary knows are replaced, at random and at the
configured rate, by one of their translations; the code-switched copies join the original examples
wherever the source data is trained on (source stage, self-training, joint). Labels are untouched:
token tags stay on their word, since every replacement is one word for one word. No target-language
label is read, so a run with it is still zero-shot; the dictionary is an extra resource and the
report says so. A dictionary of a related language helps too: on NusaX-senti an English-Indonesian
word list lifts every local language (BENCHMARKS.md, "code-switching").

Dictionaries are named public word lists (mirrored like the datasets, downloaded when online) or
your own file, one `source<whitespace>target` (or target first) pair per line.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

from xlt.data import registry
from xlt.data.examples import Example, TokenExample
from xlt.errors import XltError
from xlt.files import read_utf8

WIKTIONARY_BLI = "https://raw.githubusercontent.com/mikeizbicki/wiktionary_bli/a75387f3acb839fa8a26b983b8e382925420c9bc/final"
MUSE = "https://dl.fbaipublicfiles.com/arrival/dictionaries"
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
}
WORD_RE = re.compile(r"\w+|\W+")


@dataclass
class SwitchStats:
    rows: int = 0  # code-switched rows added
    words: int = 0  # words seen in them
    replaced: int = 0  # of which replaced

    def as_dict(self) -> dict:
        return {"rows_added": self.rows, "words": self.words, "words_replaced": self.replaced,
                "share_replaced": round(self.replaced / max(self.words, 1), 3)}


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
        if cfg.dictionary is not None:
            if cfg.dictionary not in DICTIONARIES:
                raise XltError(f"unknown dictionary {cfg.dictionary!r}; known: {', '.join(DICTIONARIES)}, "
                               "or give path: and order: for your own word list")
            spec, order = DICTIONARIES[cfg.dictionary]
            if cfg.language not in spec.languages:
                raise XltError(f"dictionary {cfg.dictionary} has no language {cfg.language!r}; it has "
                               f"{', '.join(spec.languages)} (ISO 639-3), or give path: and order: for your own list")
            code = cfg.language
            paths = list(registry.locate(spec, code, registry.data_dir(data_dir)).values())
            name = f"{cfg.dictionary}/{code}"
        else:
            paths, order, name = [Path(cfg.path)], cfg.order, cfg.path
            if not paths[0].is_file():
                raise XltError(f"code-switching dictionary {cfg.path} does not exist; give the path of a word list "
                               "(one pair per line) or a named dictionary: " + ", ".join(DICTIONARIES))
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


def _switch_word(word: str, words: dict[str, list[str]], ratio: float, rng: random.Random, stats: SwitchStats) -> str:
    cands = words.get(word.lower())
    if not word[:1].isalnum():
        return word
    stats.words += 1
    if not cands or rng.random() >= ratio:
        return word
    stats.replaced += 1
    new = rng.choice(cands)
    return new[:1].upper() + new[1:] if word[:1].isupper() else new


def code_switch(rows: list, words: dict[str, list[str]], ratio: float, copies: int, seed: int) -> tuple[list, SwitchStats]:
    """`copies` code-switched copies of `rows` (texts or token sentences), seeded; originals not included."""
    rng = random.Random(seed)
    stats = SwitchStats()
    out = []
    for _ in range(copies):
        for r in rows:
            if isinstance(r, TokenExample):
                out.append(replace(r, tokens=tuple(_switch_word(t, words, ratio, rng, stats) for t in r.tokens)))
            else:
                def switch(text: str | None) -> str | None:
                    if text is None:
                        return None
                    return "".join(_switch_word(t, words, ratio, rng, stats) for t in WORD_RE.findall(text))
                out.append(Example(text=switch(r.text), label=r.label, text_pair=switch(r.text_pair)))
    stats.rows = len(out)
    return out, stats
