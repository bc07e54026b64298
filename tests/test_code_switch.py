"""Code-switching augmentation: dictionary reading, word replacement that keeps labels and tags, and
the copies reaching the source stage of a real (tiny) run."""
from __future__ import annotations

import re

import pytest

from conftest import tiny_config
from xlt.config import parse_config
from xlt.data.code_switch import code_switch
from xlt.data.lexicons import read_pairs
from xlt.data.examples import Example, TokenExample
from xlt.errors import XltError

WORDS = {"good": ["bagus", "baik"], "movie": ["film"], "the": ["si"]}


def test_read_pairs_both_orders_skips_unusable_lines(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("bagus\tGood\nbaik\tgood\nfilm movie\nkosong\t\nsatu dua\tthree words\nbagus\tgood\n", encoding="utf-8")
    # target first (Wiktionary BLI xx-en); the empty and multi-word lines are skipped; repeats merged
    assert read_pairs(p, "target-source") == {"good": ["bagus", "baik"], "movie": ["film"]}
    q = tmp_path / "e.txt"
    q.write_text("the si\nthe the\ncat kucing\n", encoding="utf-8")  # English first (MUSE en-xx)
    assert read_pairs(q, "source-target") == {"the": ["si"], "cat": ["kucing"]}  # identity pair dropped


def test_code_switch_replaces_known_words_keeps_labels_and_spacing():
    rows = [Example("The movie was good, really good!", "positive"), Example("bad movie", "negative")]
    out, stats = code_switch(rows, WORDS, ratio=1.0, copies=2, seed=0)
    assert len(out) == 4 and [r.label for r in out] == ["positive", "negative"] * 2
    # a capital is kept, and so are punctuation, spacing and the words the dictionary lacks
    assert re.fullmatch(r"Si film was (bagus|baik), really (bagus|baik)!", out[0].text)
    # every known word replaced at ratio 1: the(1) movie(2) good(2) per copy; unknown ones counted, kept
    assert stats.rows == 4 and stats.words == 2 * (6 + 2) and stats.replaced == 2 * (4 + 1)
    assert code_switch(rows, WORDS, 1.0, 2, seed=0)[0] == out  # seeded
    low, low_stats = code_switch(rows * 50, WORDS, ratio=0.3, copies=1, seed=1)
    assert 0.2 < low_stats.replaced / (50 * 5) < 0.4  # about 30% of the 5 known words per pair of rows


def test_code_switch_keeps_token_tags_aligned():
    rows = [TokenExample(("The", "good", "movie", "Paris"), ("O", "O", "B-MISC", "B-LOC"))]
    out, stats = code_switch(rows, WORDS, ratio=1.0, copies=1, seed=0)
    assert out[0].tokens[0] == "Si" and out[0].tokens[2] == "film" and out[0].tokens[3] == "Paris"
    assert out[0].tags == rows[0].tags and stats.replaced == 3


def test_dictionary_settings_are_checked():
    base = {"source": {"dataset": "x"}, "targets": [{"dataset": "y"}]}
    bad = [{"dictionaries": [{"path": "d.txt"}]},  # no order
           {"dictionaries": [{"dictionary": "muse"}]},  # no language
           {"dictionaries": [{"dictionary": "muse", "language": "rus", "path": "d.txt"}]},
           {"dictionaries": []}, {"dictionaries": [{"dictionary": "muse", "language": "rus"}], "ratio": 0}]
    for cs in bad:
        with pytest.raises(XltError):
            parse_config({**base, "augment": {"code_switch": cs}})
    # code-switched source data identifies the source stage (and so every run)
    from xlt.identity import run_hash

    def stage(cfg):
        exp = parse_config(cfg)
        return run_hash(exp, exp.method.name, None, ["a", "b"])

    assert stage(base) == stage({**base, "augment": {}})
    assert stage(base) != stage({**base, "augment": {"code_switch": {"dictionaries": [{"dictionary": "muse",
                                                                                         "language": "rus"}]}}})


def test_code_switched_copies_reach_the_source_stage(tiny_model_dir, tiny_data, tmp_path):
    from xlt import run_experiment
    from xlt.store import Store

    words = tmp_path / "tiny-en.txt"
    words.write_text("good bagus\ngreat hebat\nbad buruk\nmovie film\nfood makanan\n", encoding="utf-8")
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "run", method={"name": "frozen"}, baselines=[],
                      augment={"code_switch": {"dictionaries": [{"path": str(words), "order": "source-target"}],
                                               "ratio": 0.5, "copies": 2}})
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    run_experiment(parse_config(cfg))
    runs = {r["strategy"]: r for r in Store(tmp_path / "run" / "results.sqlite").runs()}
    cs = runs["source"]["train_info"]["code_switch"]
    assert cs["rows_added"] == 2 * 100 and 0 < cs["words_replaced"] < cs["words"]
    # the frozen method's convex head is refitted on the source rows, their copies and the 10 target rows
    assert runs["few_shot"]["train_info"]["examples_seen"] == 100 + 200 + 10
    assert runs["few_shot"]["train_info"]["head_c"] is not None
    assert "tiny-en.txt: 5 source words" in (tmp_path / "run" / "data_report.txt").read_text()
    missing = tiny_config(tiny_model_dir, tiny_data, tmp_path / "run2", augment={"code_switch": {
        "dictionaries": [{"path": str(tmp_path / "absent.txt"), "order": "source-target"}]}})
    with pytest.raises(XltError, match="absent.txt does not exist"):
        run_experiment(parse_config(missing))


def test_a_word_list_that_is_not_utf8_is_one_clear_error(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café kafe\n".encode("latin-1"))
    with pytest.raises(XltError, match=r"latin1.txt is not valid UTF-8 \(byte 3\); re-save it as UTF-8"):
        read_pairs(bad, "source-target")
