"""Zero-shot recipes that read more than the source data: self-training on unlabelled target text
(which must never read a target label) and LP-FT's head probe, on the tiny model."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import tiny_config
from xlt.errors import XltError
from xlt.tasks.classification import confident_per_class
from xlt.tasks.tagging import confident_sentences, repair_iob2


def test_confident_per_class_is_balanced_and_most_confident_first():
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1],  # four say class 0
                      [0.1, 0.5, 0.4], [0.1, 0.3, 0.6]])
    # fraction 1.0 of 6 texts over 3 classes: at most 2 per predicted class
    assert confident_per_class(probs, 1.0) == [0, 1, 4, 5]
    assert confident_per_class(probs, 0.5) == [0, 4, 5]  # 1 per class
    assert confident_per_class(probs, 0.01) == [0, 4, 5]  # never fewer than one of a predicted class


def test_confident_sentences_rank_by_least_sure_word_and_cap_entity_free_ones():
    tags = [["B-PER", "O"], ["O", "O"], ["B-LOC", "I-LOC"], ["O"], ["O", "B-ORG"], ["O", "O"]]
    conf = [[0.99, 0.6], [0.99, 0.99], [0.9, 0.8], [0.97], [0.7, 0.95], [0.5, 0.99]]
    # least sure word: 0.6, 0.99, 0.8, 0.97, 0.7, 0.5. With entities, ranked: 2 (0.8), 4 (0.7), 0 (0.6)
    assert confident_sentences(tags, conf, 1.0, 0.0) == [0, 2, 4]  # no entity-free sentence in the source
    assert confident_sentences(tags, conf, 0.67, 0.0) == [2, 4]  # floor(0.67 * 3) = 2
    # entity-free share 0.5: as many entity-free as with entities, the surest first (1 at 0.99, 3 at 0.97)
    assert confident_sentences(tags, conf, 0.67, 0.5) == [1, 2, 3, 4]
    assert confident_sentences(tags, conf, 0.5, None) == [1, 2, 3]  # POS: the top half of all sentences
    assert confident_sentences([], [], 0.5, 0.2) == []


def test_repair_iob2_starts_entities_that_do_not_continue_one():
    assert repair_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-LOC"]) == ["B-PER", "I-PER", "O", "B-LOC",
                                                                                "B-ORG", "B-LOC"]
    assert repair_iob2(["B-PER", "I-PER", "I-PER"]) == ["B-PER", "I-PER", "I-PER"]


def _relabel(path, label: str, out):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([{**r, "label": label} for r in rows])
    return out


def _self_training_runs(tiny_model_dir, files, out):
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, files, out, method={"name": "frozen"})
    cfg["protocol"] = {"strategies": ["zero_shot", "self_training"], "seeds": [0],
                       "self_training": {"rounds": 2, "fraction": 0.5}}
    run_experiment(parse_config(cfg))
    return Store(out / "results.sqlite").runs()


def test_self_training_never_reads_target_labels(tiny_model_dir, tiny_data, tmp_path):
    runs = _self_training_runs(tiny_model_dir, tiny_data, tmp_path / "a")
    strategies = sorted((r["method"], r["strategy"]) for r in runs)
    # the baselines keep their zero-shot rows and do not self-train
    assert ("frozen", "self_training") in strategies
    assert not any(s == "self_training" and m != "frozen" for m, s in strategies)
    st = next(r for r in runs if r["strategy"] == "self_training")
    rounds = st["train_info"]["self_training"]
    assert [r["round"] for r in rounds] == [1, 2]
    n_unlabelled = 100 + 30  # the target's train and validation texts
    assert all(r["unlabelled"] == n_unlabelled for r in rounds)
    assert all(0 < sum(r["pseudo_labelled"].values()) and max(r["pseudo_labelled"].values()) <= n_unlabelled // 4
               for r in rounds)  # fraction 0.5 over 2 classes: at most 32 per class
    assert st["selection"] == "source-validation"
    # the same run with every target train/validation label replaced gives the same predictions
    files = dict(tiny_data)
    for split in ("train", "validation"):
        files[f"tgt_{split}"] = _relabel(tiny_data[f"tgt_{split}"], "negative", tmp_path / f"tgt_{split}.csv")
    other = _self_training_runs(tiny_model_dir, files, tmp_path / "b")
    st2 = next(r for r in other if r["strategy"] == "self_training")
    assert st2["metrics"]["macro_f1"] == st["metrics"]["macro_f1"]
    assert st2["train_info"]["self_training"][-1]["pseudo_labelled"] == rounds[-1]["pseudo_labelled"]
    from xlt.report import build_report

    md, _ = build_report(tmp_path / "a")
    assert "Zero-shot + self-training (unlabelled target text)" in md.read_text()


def test_few_shot_self_training_pseudo_labels_only_the_texts_outside_the_shots(tiny_model_dir, tiny_data, tmp_path):
    """Few-shot + self-training: the few-shot model labels the target texts other than the N shots, each round
    refits from the source stage; recorded per round; its own row in the report and learning curve."""
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.data.pipeline import load_language
    from xlt.data.splits import k_shot
    from xlt.report import build_report
    from xlt.store import Store

    out = tmp_path / "out"
    cfg = tiny_config(tiny_model_dir, tiny_data, out, method={"name": "frozen"})
    cfg["protocol"] = {"strategies": ["few_shot", "few_shot_self_training"], "shots": [20], "seeds": [0],
                       "self_training": {"rounds": 2, "fraction": 0.5}}
    exp = parse_config(cfg)
    run_experiment(exp)
    runs = Store(out / "results.sqlite").runs()
    assert {(r["method"], r["n"]) for r in runs if r["strategy"] == "few_shot_self_training"} == {("frozen", 20)}
    fs = next(r for r in runs if r["strategy"] == "few_shot" and r["method"] == "frozen")
    fst = next(r for r in runs if r["strategy"] == "few_shot_self_training")
    rounds = fst["train_info"]["self_training"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    target = load_language(exp.targets[0], exp.preprocess, None, exp.split_ratios, exp.split_seed)[0]
    shots = {r.text for r in k_shot(target.splits["train"], 20, 0)}
    others = [r.text for r in target.splits["train"] + target.splits["validation"] if r.text not in shots]
    assert all(r["unlabelled"] == len(others) for r in rounds[1:]) and len(others) >= 100
    # round 0 is the plain few-shot run: the same refit on source + shots as the few_shot row
    assert rounds[0]["few_shot"]["rows"] == 100 + 20
    assert rounds[0]["few_shot"]["best_val_f1"] == fs["train_info"]["best_val_f1"]
    pseudo = sum(rounds[-1]["pseudo_labelled"].values())  # fraction 0.5 over 2 classes: at most 27 per class
    assert 0 < pseudo and max(rounds[-1]["pseudo_labelled"].values()) <= len(others) // 4
    assert rounds[-1]["rows"] == 100 + pseudo + 20
    assert fst["selection"] == "target-validation"
    md, _ = build_report(out)
    assert "Few-shot + self-training (unlabelled target text) (N=20)" in md.read_text()


def test_lora_with_probed_head_records_the_probe(tiny_model_dir, tiny_data, tmp_path):
    import json

    from xlt import run_experiment
    from xlt.config import parse_config

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "lora"}, baselines=[])
    cfg["protocol"] = {"strategies": ["zero_shot"], "seeds": [0]}
    cfg["training"].update(head_init="probe", epochs=2, min_steps=10)
    out = run_experiment(parse_config(cfg))
    info = json.loads(next((out / "stages").glob("*.json")).read_text())
    assert info["head_init"]["method"] == "probe" and info["head_init"]["val_score"] > 0.5


@pytest.mark.parametrize("change, message", [
    ({"task": "ner", "training": {"head_init": "probe"}}, "head_init: probe fits"),
    ({"protocol": {"self_training": {"fraction": 0}}}, "fraction"),
])
def test_bad_recipe_settings_end_in_one_error(tiny_model_dir, tiny_data, tmp_path, change, message):
    from xlt.config import parse_config

    cfg = {**tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", baselines=[]), **change}
    with pytest.raises(XltError, match=message):
        parse_config(cfg)


@pytest.mark.parametrize("content, message", [(b"", "has no text"), (b"\n  \n", "has no text"),
                                              (b"caf\xe9 au lait\n", "is not valid UTF-8")])
def test_unusable_unlabelled_file_ends_in_one_error_before_training(tiny_model_dir, tiny_data, tmp_path, content,
                                                                      message):
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.store import Store

    (tmp_path / "u.txt").write_bytes(content)
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "frozen"}, baselines=[])
    cfg["targets"][0]["unlabelled"] = str(tmp_path / "u.txt")
    cfg["protocol"] = {"strategies": ["zero_shot", "self_training"], "seeds": [0]}
    with pytest.raises(XltError, match=message):
        run_experiment(parse_config(cfg))
    assert Store(tmp_path / "out" / "results.sqlite").runs() == []  # failed before any run, none left behind
