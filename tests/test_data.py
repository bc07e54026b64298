"""Readers, preprocessing across scripts, splits and k-shot sampling invariants."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from xlt.config import Preprocess
from xlt.data.examples import Example
from xlt.data.preprocess import preprocess, remove_non_alnum
from xlt.data.readers import read_records, records_to_examples
from xlt.data.splits import k_shot, stratified_split
from xlt.errors import XltError

from conftest import SHARED_DATA, needs_shared_data


def test_csv_quoted_fields_hold_commas_tabs_and_newlines(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('text,label\n"one, two\tthree\nfour",pos\nplain,neg\n', encoding="utf-8")
    rows = records_to_examples(read_records(p), p, "text", "label")
    assert [r.text for r in rows] == ["one, two\tthree\nfour", "plain"]


def test_tsv_is_quote_aware(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text('category\theadline\ttext\nsports\t"He said ""go"""\t"line1\nline2"\n', encoding="utf-8")
    rows = records_to_examples(read_records(p), p, ["headline", "text"], "category")
    assert rows == [Example('He said "go" line1\nline2', "sports")]


def test_jsonl_and_xlsx(tmp_path):
    from openpyxl import Workbook

    j = tmp_path / "a.jsonl"
    j.write_text(json.dumps({"t": "héllo", "y": 1}) + "\n\n" + json.dumps({"t": "x", "y": 0}) + "\n", encoding="utf-8")
    assert [(r.text, r.label) for r in records_to_examples(read_records(j), j, "t", "y")] == [("héllo", "1"), ("x", "0")]
    wb = Workbook()
    ws = wb.active
    ws.append([None, "text", "label"])
    ws.append([0, "مرحبا", 1])
    ws.append([None, "второй", 0.0])
    x = tmp_path / "a.xlsx"
    wb.save(x)
    assert [(r.text, r.label) for r in records_to_examples(read_records(x), x, "text", "label")] == [("مرحبا", "1"), ("второй", "0")]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"text,label\n\xff\xfe bad bytes,1\n", "not valid UTF-8"),
])
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(XltError, match=message):
        read_records(p)


def test_missing_column_and_unknown_label(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("text,label\nhi,a\nho,b\nhu,c\n")
    with pytest.raises(XltError, match="no column 'body'.*columns are"):
        records_to_examples(read_records(p), p, "body", "label")
    from xlt.data.pipeline import map_labels

    rows = records_to_examples(read_records(p), p, "text", "label")
    with pytest.raises(XltError, match=r"a.csv: labels \['c'\] \(1 rows\) are not in label_map"):
        map_labels(rows, {"a": "x", "b": "y"}, {}, p, [])
    assert [r.label for r in map_labels(rows, {"a": "x", "b": "y", "c": None}, {}, p, [])] == ["x", "y"]  # null drops


def test_non_alnum_removal_keeps_letters_and_marks_of_every_script():
    samples = {
        "arabic": "أشعر بالاكتئاب!!", "cyrillic": "Мне грустно...", "devanagari": "मुझे दुख है।",
        "geez": "ሰላም፣ ዓለም።", "latin": "café—naïve?",
    }
    cleaned = {k: " ".join(remove_non_alnum(v).split()) for k, v in samples.items()}
    assert cleaned == {"arabic": "أشعر بالاكتئاب", "cyrillic": "Мне грустно", "devanagari": "मुझे दुख है",
                       "geez": "ሰላም ዓለም", "latin": "café naïve"}


def test_preprocess_steps_and_report():
    rows = [Example("RT @alice Check https://x.co/abc <b>now</b> mail me a@b.com", "pos"),
            Example("Short one", "neg"),
            Example("the THE the cat sat on the mat today", "neg"),
            Example("the THE the cat sat on the mat today", "neg")]
    cfg = Preprocess(lowercase=True, remove_urls=True, remove_emails=True, remove_handles=True, remove_html=True,
                     remove_platform_artifacts=True, remove_stopwords=True, min_words=3, dedupe=True)
    out, rep, kept = preprocess(rows, cfg, "eng")
    # row 1 loses its URL, handle, e-mail, tag, "RT" and stopwords; min_words counts the words of the
    # post as written (9), so it stays; "Short one" (2 words) is dropped
    assert [r.text for r in out] == ["check mail", "cat sat mat"]
    steps = {s.step: s for s in rep.steps}
    assert steps["min_words(3)"].dropped == 1
    assert steps["remove_urls"].changed == 1 and steps["remove_handles"].changed == 1
    assert steps["dedupe"].dropped == 1
    assert rep.rows_in == 4 and rep.rows_out == len(out) and kept == [0, 2]
    assert rep.classes_before == {"neg": 3, "pos": 1}


def test_scrub_pii_replaces_identifiers():
    rows = [Example("call me on +44 20 7946 0958 or mail jo.doe@mail.org, @jo_doe http://me.com", "x")]
    out, _, _ = preprocess(rows, Preprocess(scrub_pii=True), "eng")
    t = out[0].text
    assert "[PHONE]" in t and "[EMAIL]" in t and "@user" in t and "[URL]" in t
    assert "7946" not in t and "jo.doe" not in t and "jo_doe" not in t
    kept, _, _ = preprocess([Example("rated 1 2 3 4 5 6 7 8, version 0 of 3", "x")], Preprocess(scrub_pii=True), "eng")
    assert kept[0].text == "rated 1 2 3 4 5 6 7 8, version 0 of 3"  # digit runs are not phone numbers


def test_stratified_split_ratios():
    rows = [Example(str(i), "a" if i % 4 else "b") for i in range(400)]
    parts = stratified_split(rows, {"train": 0.7, "validation": 0.15, "test": 0.15}, seed=0)
    sizes = [len(parts[k]) for k in ("train", "validation", "test")]
    assert sizes[0] == 280 and abs(sizes[1] - 60) <= 1 and sum(sizes) == 400  # per-class rounding moves at most one
    for part in parts.values():
        assert Counter(r.label for r in part)["b"] / len(part) == pytest.approx(0.25, abs=0.02)
    assert len({r.text for p in parts.values() for r in p}) == 400


def test_k_shot_is_nested_stratified_and_deterministic():
    rows = [Example(str(i), ["neg", "neu", "pos"][i % 10 % 3]) for i in range(500)]
    share = {k: v / 500 for k, v in Counter(r.label for r in rows).items()}
    samples = {n: k_shot(rows, n, seed=3) for n in (50, 100, 250)}
    assert set(samples[50]) <= set(samples[100]) <= set(samples[250])
    for n, s in samples.items():
        assert len(s) == n == len(set(s))
        for lab, count in Counter(r.label for r in s).items():
            assert abs(count - share[lab] * n) <= 1
    assert k_shot(rows, 100, seed=3) == samples[100]
    assert k_shot(rows, 100, seed=4) != samples[100]


def test_k_shot_errors():
    rows = [Example(str(i), "a" if i < 8 else "b") for i in range(10)]
    with pytest.raises(XltError, match="larger than the 10"):
        k_shot(rows, 11, 0)
    with pytest.raises(XltError, match="smaller than the number of classes"):
        k_shot(rows, 1, 0)


@needs_shared_data()
def test_named_datasets_load_from_the_mirror():
    from xlt.config import DataSource
    from xlt.data.pipeline import load_language

    ratios = {"train": 0.7, "validation": 0.15, "test": 0.15}
    ld, _ = load_language(DataSource(dataset="nusax-senti", language="javanese"), Preprocess(), str(SHARED_DATA), ratios)
    assert ld.language == "jav" and {k: len(v) for k, v in ld.splits.items()} == {"train": 500, "validation": 100, "test": 400}
    ld, _ = load_language(DataSource(dataset="depression-reddit-en"), Preprocess(), str(SHARED_DATA), ratios)
    assert ld.labels == ["control", "depression"]
    assert sum(len(v) for v in ld.splits.values()) == 7731  # the stray trailing ',' record is not a row
    assert any("made 0.7/0.15/0.15 train/validation/test (stratified by label" in n for n in ld.notes) and any("train/test overlap" in n for n in ld.notes)
    ld, _ = load_language(DataSource(dataset="masakhanews", language="amh"), Preprocess(), str(SHARED_DATA), ratios)
    overlap = next(n for n in ld.notes if n.startswith("train/test"))
    assert overlap.startswith("train/test overlap: 3 of")  # 3 texts of the 50-shot train are also in test


def test_min_words_counts_words_in_scripts_without_spaces():
    from xlt.data.preprocess import count_words

    assert count_words("i feel so tired today") == 5
    assert count_words("今日はとても疲れた") == 5  # 9 characters, about two a word
    assert count_words("мне грустно") == 2
    rows = [Example("今日はとても疲れたので早く寝ます", "1"), Example("はい", "0")]
    out, _, _ = preprocess(rows, Preprocess(min_words=5), "jpn")
    assert [r.text for r in out] == ["今日はとても疲れたので早く寝ます"]


def test_a_missing_relative_path_says_where_it_was_looked_for(tmp_path, monkeypatch):
    """Relative paths in a config are read from the current directory; the error says which one."""
    from xlt.data.conll import read_conll
    from xlt.data.readers import read_records

    monkeypatch.chdir(tmp_path)
    for read in (read_records, read_conll):
        with pytest.raises(XltError, match=r"data file not found: nope\.csv \(relative paths are read from the "
                                           r"current directory, .+\)"):
            read("nope.csv")
    with pytest.raises(XltError) as absolute:
        read_records(tmp_path / "nope.csv")
    assert "current directory" not in str(absolute.value)
