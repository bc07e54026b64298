"""A bilingual word list induced from parallel sentences, for the dictionary translator where no lexicon
exists: each source word is paired with the target word it co-occurs with most consistently, by the Dice
coefficient over sentence pairs (Smadja et al., 1996; the first step of most word aligners). A few hundred
parallel sentences give a small, noisy list of the frequent words: enough for word-by-word translation to
carry sentiment words and function words across, far from a real lexicon."""
from __future__ import annotations

import re
from collections import Counter


WORD = re.compile(r"\w+")


def induce_lexicon(pairs: list[tuple[str, str]], min_count: int = 2,
                   min_dice: float = 0.3) -> list[tuple[str, str, float]]:
    """(source word, target word, Dice) for every source word seen in at least `min_count` sentences whose best
    target word reaches `min_dice`; lower-cased, best first."""
    src_df: Counter = Counter()
    tgt_df: Counter = Counter()
    joint: Counter = Counter()
    for src, tgt in pairs:
        s, t = set(WORD.findall(src.lower())), set(WORD.findall(tgt.lower()))
        src_df.update(s)
        tgt_df.update(t)
        joint.update((a, b) for a in s for b in t)
    best: dict[str, tuple[str, float]] = {}
    for (a, b), n in sorted(joint.items()):  # sorted: ties go to the alphabetically first word, in every run
        if src_df[a] < min_count or n < min_count:
            continue
        dice = 2 * n / (src_df[a] + tgt_df[b])
        if dice >= min_dice and dice > best.get(a, ("", 0.0))[1]:
            best[a] = (b, dice)
    return sorted(((a, b, d) for a, (b, d) in best.items()), key=lambda x: (-x[2], x[0]))


def sentence_pairs(dataset: str, src: str, tgt: str, split: str = "train",
                   data_dir: str | None = None) -> list[tuple[str, str]]:
    """The (src, tgt) sentence pairs of one split of a parallel dataset, joined on its row ids."""
    from xlt.translate.translators.parallel import parallel_spec, texts_by_id

    spec = parallel_spec(dataset)
    a, b = (texts_by_id(spec, lang, data_dir, [split]) for lang in (src, tgt))
    return [(a[i], b[i]) for i in a if i in b]
