"""The one data pipeline: read, map labels, preprocess, split, limit, check overlap, for texts and tags."""
from __future__ import annotations

from collections import Counter

import pytest

from conftest import synthetic_rows, write_csv
from xlt.config import DataSource, Preprocess
from xlt.data.pipeline import load_language
from xlt.errors import XltError

RATIOS = {"train": 0.7, "validation": 0.15, "test": 0.15}


def load(src: dict, ratios=RATIOS, seed: int = 0):
    return load_language(DataSource(**src), Preprocess(), None, ratios, seed)


def conll(path, n: int):
    path.write_text("\n\n".join(f"w{i} B-PER\nsaid O\nhello O" for i in range(n)) + "\n", encoding="utf-8")
    return str(path)


def test_one_split_policy_for_texts_and_tags(tmp_path):
    text = write_csv(tmp_path / "all.csv", synthetic_rows(200, 0))
    data, report = load({"path": str(text), "text": "text", "label": "label", "language": "xxx"})
    sizes = {k: len(v) for k, v in data.splits.items()}
    assert sizes["train"] == 140 and abs(sizes["validation"] - 30) <= 1 and sum(sizes.values()) == 200
    assert data.made_splits == ["train", "validation", "test"]
    for rows in data.splits.values():  # stratified: each split keeps the 50/50 class mix
        counts = Counter(r.label for r in rows)
        assert abs(counts["positive"] - counts["negative"]) <= 1
    assert any("made 0.7/0.15/0.15 train/validation/test (stratified by label, seed 0)" in n for n in data.notes)
    tags, _ = load({"path": conll(tmp_path / "all.conll", 100), "format": "conll", "language": "xxx"})
    sizes = [len(tags.splits[k]) for k in ("train", "validation", "test")]
    assert sizes[0] == 70 and abs(sizes[1] - 15) <= 1 and sum(sizes) == 100
    assert any("(sentences at random, seed 0)" in n for n in tags.notes)
    other, _ = load({"path": str(text), "text": "text", "label": "label", "language": "xxx"},
                    {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=3)
    assert len(other.splits["train"]) == 160 and other.splits["test"] != data.splits["test"]
    # a missing validation split is held out of train in the same proportions, for either kind of data
    held, _ = load({"files": {"train": conll(tmp_path / "t.conll", 85), "test": conll(tmp_path / "s.conll", 5)},
                    "format": "conll", "language": "xxx"})
    assert (len(held.splits["train"]), len(held.splits["validation"])) == (70, 15) and held.made_splits == ["validation"]


def test_train_limit_works_for_texts_and_keeps_the_class_mix(tmp_path):
    files = {s: str(write_csv(tmp_path / f"{s}.csv", synthetic_rows(n, i)))
             for i, (s, n) in enumerate((("train", 300), ("validation", 40), ("test", 40)))}
    src = {"files": files, "text": "text", "label": "label", "language": "xxx"}
    full, _ = load(src)
    small, _ = load({**src, "train_limit": 50})
    assert len(full.splits["train"]) == 300 and len(small.splits["train"]) == 50
    assert Counter(r.label for r in small.splits["train"]) == {"positive": 25, "negative": 25}
    assert set(small.splits["train"]) <= set(full.splits["train"])
    larger, _ = load({**src, "train_limit": 100})
    assert small.splits["train"] == larger.splits["train"][:50]  # nested, like the few-shot samples
    assert small.splits["test"] == full.splits["test"]
    assert any(n.startswith("train_limit: 50 of 300 training texts used") for n in small.notes)


def test_a_target_with_a_test_split_alone_loads(tmp_path):
    test = write_csv(tmp_path / "test.csv", synthetic_rows(30, 1))
    data, _ = load({"files": {"test": str(test)}, "text": "text", "label": "label", "language": "xxx"})
    assert data.splits["train"] == [] and data.splits["validation"] == [] and len(data.splits["test"]) == 30
    assert any("zero-shot target only" in n for n in data.notes) and not data.made_splits
    with pytest.raises(XltError, match="no test split"):
        load({"files": {"train": str(test)}, "text": "text", "label": "label", "language": "xxx"})


def test_label_mapping_comes_before_cleaning_and_splitting(tmp_path):
    rows = [(t, {"positive": "pos", "negative": "neg"}[lab]) for t, lab in synthetic_rows(100, 2)]
    rows += [("a stray row", "spam")] * 5
    path = write_csv(tmp_path / "all.csv", rows)
    src = {"path": str(path), "text": "text", "label": "label", "language": "xxx"}
    with pytest.raises(XltError, match=r"labels \['spam'\] \(5 rows\) are not in label_map"):
        load({**src, "label_map": {"pos": "positive", "neg": "negative"}})
    data, _ = load({**src, "label_map": {"pos": "positive", "neg": "negative", "spam": None}})
    assert data.labels == ["negative", "positive"] and sum(len(v) for v in data.splits.values()) == 100


def test_rows_emptied_by_preprocessing_are_an_error_naming_the_split(tmp_path):
    files = {s: str(write_csv(tmp_path / f"{s}.csv", [("ok", "a"), ("no", "b")] * 5)) for s in ("train", "test")}
    with pytest.raises(XltError, match="the train split is empty after preprocessing"):
        load_language(DataSource(files=files, text="text", label="label", language="xxx"), Preprocess(min_words=3),
                      None, RATIOS)
