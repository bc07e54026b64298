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

from xlt.data.examples import Example, TokenExample

WORD_RE = re.compile(r"\w+|\W+")


@dataclass
class SwitchStats:
    rows: int = 0  # code-switched rows added
    words: int = 0  # words seen in them
    replaced: int = 0  # of which replaced

    def as_dict(self) -> dict:
        return {"rows_added": self.rows, "words": self.words, "words_replaced": self.replaced,
                "share_replaced": round(self.replaced / max(self.words, 1), 3)}


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
