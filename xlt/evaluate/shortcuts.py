"""Shortcut and leakage checks, run with every classification experiment.

Small, keyword-selected datasets (depression data often is) let a model score well by spotting one
word. These statistics say how far a keyword, the text length or a bag of words alone gets, so a
report can say in plain words when a score is too good to trust.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

from xlt.data.examples import Example
from xlt.data.preprocess import NO_SPACE_RE, count_words
from xlt.evaluate.metrics import macro_f1

WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> set[str]:
    """Lower-cased word tokens; in scripts written without spaces (Japanese, Chinese, Thai) a
    whitespace "word" is a whole clause, so those runs give their character 2- and 3-grams instead."""
    out: set[str] = set()
    for w in WORD_RE.findall(text.lower()):
        if NO_SPACE_RE.search(w):
            out.update(w[i:i + n] for n in (2, 3) for i in range(len(w) - n + 1))
        else:
            out.add(w)
    return out


@dataclass
class TokenStat:
    token: str
    label: str
    precision: float  # share of train texts containing the token that have this label
    coverage: float  # share of this label's train texts that contain the token
    count: int


@dataclass
class ShortcutReport:
    language: str
    top_tokens: dict[str, list[TokenStat]]
    keyword: str | None
    keyword_share: dict[str, float]  # label -> share of its test texts containing the keyword
    keyword_rule_f1: float | None  # macro-F1 on test of "predict the keyword's label when it is present"
    median_words: dict[str, float]
    length_only_f1: float | None
    duplicates_train_test: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def top_predictive_tokens(rows: list[Example], k: int = 10, min_count: int = 5) -> dict[str, list[TokenStat]]:
    """Per label, the tokens whose presence most often means that label (precision), ties by count."""
    labels = Counter(r.label for r in rows)
    doc_freq: Counter = Counter()
    by_label: dict[str, Counter] = {lab: Counter() for lab in labels}
    for r in rows:
        ws = words(r.text)
        doc_freq.update(ws)
        by_label[r.label].update(ws)
    out = {}
    for lab in sorted(labels):
        stats = [TokenStat(w, lab, by_label[lab][w] / n, by_label[lab][w] / labels[lab], n)
                 for w, n in doc_freq.items() if n >= min_count and by_label[lab][w]]
        stats.sort(key=lambda s: (-s.precision, -s.count, s.token))
        out[lab] = stats[:k]
    return out


def keyword_share(rows: list[Example], keyword: str) -> dict[str, float]:
    """Share of each label's texts that contain the keyword (as a substring: Arabic clitics attach)."""
    labels = Counter(r.label for r in rows)
    hits = Counter(r.label for r in rows if keyword in r.text.lower())
    return {lab: hits[lab] / n for lab, n in sorted(labels.items())}


def keyword_rule_f1(train: list[Example], test: list[Example], keyword: str, label: str) -> float:
    """Macro-F1 of: the keyword's label if the keyword is in the text, else the most common other label."""
    others = Counter(r.label for r in train if r.label != label)
    fallback = others.most_common(1)[0][0] if others else label
    pred = [label if keyword in r.text.lower() else fallback for r in test]
    return macro_f1([r.label for r in test], pred)


def length_only_f1(train: list[Example], test: list[Example]) -> float | None:
    """Macro-F1 of a logistic regression on log word count alone (words as `count_words` counts them)."""
    if len({r.label for r in train}) < 2:
        return None

    def x(rows):
        return np.log1p([[count_words(r.text)] for r in rows])

    clf = LogisticRegression(max_iter=1000).fit(x(train), [r.label for r in train])
    return macro_f1([r.label for r in test], clf.predict(x(test)))


def shortcut_report(language: str, splits: dict[str, list[Example]], keyword: str | None = None) -> ShortcutReport:
    """All checks for one language. Without a given keyword, the most precise frequent token of the
    smallest-precision-gap class (the top token overall) is used."""
    train, test = splits["train"], splits["test"]
    top = top_predictive_tokens(train)
    kw_label = None
    if keyword is None:
        best = max((s for stats in top.values() for s in stats[:1]), key=lambda s: (s.precision * s.coverage, s.count),
                   default=None)
        if best is not None:
            keyword, kw_label = best.token, best.label
    else:
        keyword = keyword.lower()
        share_train = keyword_share(train, keyword)
        kw_label = max(share_train, key=share_train.get)
    train_texts = {(r.text, r.text_pair) for r in train}
    med = {lab: float(np.median([count_words(r.text) for r in test if r.label == lab]))
           for lab in sorted({r.label for r in test})}
    return ShortcutReport(
        language=language, top_tokens=top, keyword=keyword,
        keyword_share=keyword_share(test, keyword) if keyword else {},
        keyword_rule_f1=keyword_rule_f1(train, test, keyword, kw_label) if keyword else None,
        median_words=med, length_only_f1=length_only_f1(train, test),
        duplicates_train_test=sum((r.text, r.text_pair) in train_texts for r in test))


def verdict(rep: dict, model_f1: float | None, bow_f1: float | None, share: float = 0.9) -> list[str]:
    """Plain-words warnings when a keyword, length or bag of words alone reaches most of the model's score."""
    out = []
    if model_f1 is None or model_f1 <= 0:
        return out
    for name, f1 in (("a single keyword rule ('" + str(rep.get("keyword")) + "')", rep.get("keyword_rule_f1")),
                     ("text length alone", rep.get("length_only_f1")), ("a bag-of-words (TF-IDF) classifier", bow_f1)):
        if f1 is not None and f1 >= share * model_f1:
            out.append(f"{name} reaches {f1:.2f} macro-F1, {f1 / model_f1:.0%} of the model's {model_f1:.2f}: "
                       "the score may come from this shortcut rather than from what the texts mean.")
    if rep.get("duplicates_train_test"):
        out.append(f"{rep['duplicates_train_test']} test texts also appear in train; scores on them are memorised.")
    return out
