"""Warnings about the data that matter for conclusions, found once the languages are loaded: a split with a
single class, a test split that is mostly duplicates, and a target that mostly repeats the source. Where no
result could mean anything (a source with one class) it is an error instead."""
from __future__ import annotations

from collections import Counter

from xlt.data.examples import LanguageData, TokenExample
from xlt.errors import XltError

MOSTLY = 0.5  # above this share a split "mostly" repeats itself or the source


def _key(row):
    return row.tokens if isinstance(row, TokenExample) else (row.text, row.text_pair)


def data_warnings(source: LanguageData, targets: list[LanguageData]) -> list[str]:
    """Plain-words warnings for the run output and the report; raises XltError for a source with one class."""
    out = []
    if source.kind == "text":
        classes = {r.label for r in source.splits["train"]}
        if len(classes) < 2:
            raise XltError(f"the source {source.key()} has one class in its training data ({sorted(classes)}); "
                           "a classifier cannot learn a task from it: check its label column and label_map")
    source_texts = {_key(r) for r in source.splits["train"]}
    for d in [source, *targets]:
        if d.kind == "text":
            for split, rows in d.splits.items():
                classes = Counter(r.label for r in rows)
                if rows and len(classes) == 1:
                    out.append(f"{d.key()}: its {split} split has a single class ({next(iter(classes))!r}, "
                               f"{len(rows)} rows): scores on it measure one class's recall, not a classifier")
        test = d.splits["test"]
        repeats = len(test) - len({_key(r) for r in test})
        if test and repeats / len(test) > MOSTLY:
            out.append(f"{d.key()}: {repeats} of its {len(test)} test examples repeat another test example; the "
                       "score rests on few distinct texts")
        if d is not source and test:
            shared = sum(_key(r) in source_texts for r in test)
            if shared / len(test) > MOSTLY:
                out.append(f"{d.key()}: {shared} of its {len(test)} test examples are in the source's training "
                           "data; transfer to it is not tested (is it the source language again?)")
    return out
