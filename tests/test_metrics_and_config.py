"""Metrics against hand-computed values, the collapse warning, and config validation messages."""
from __future__ import annotations

import math

import pytest

from conftest import tiny_config
from xlt.config import load_config, parse_config
from xlt.errors import XltError
from xlt.evaluate.metrics import bootstrap_ci, classification_metrics, mean_sd


def test_metrics_match_hand_computation():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    m = classification_metrics(gold, pred, ["a", "b", "c"])
    # a: P 2/2, R 2/3, F1 0.8; b: P 1/2, R 1/2, F1 0.5; c: P 1/2, R 1/1, F1 2/3
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["macro_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m["weighted_f1"] == pytest.approx((0.8 * 3 + 0.5 * 2 + 2 / 3) / 6)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert not m["collapsed"]


def test_collapse_is_flagged():
    gold = ["control"] * 50 + ["depression"] * 50
    pred = ["control"] * 4 + ["depression"] * 96  # control recall 0.08, like the study's baseline
    m = classification_metrics(gold, pred, ["control", "depression"])
    assert m["collapsed"] and "control recall 0.08" in m["collapse_reason"] and "96%" in m["collapse_reason"]


def test_seed_statistics():
    assert mean_sd([0.5, 0.7]) == pytest.approx((0.6, math.sqrt(0.02)))
    assert mean_sd([0.5]) == (0.5, 0.0)
    lo, hi = bootstrap_ci([0.5, 0.6, 0.7, 0.8])
    assert 0.5 <= lo < 0.65 < hi <= 0.8
    assert all(math.isnan(x) for x in bootstrap_ci([0.5]))


BASE = """
name: t
source: {dataset: nusax-senti, language: eng}
targets:
  - {dataset: nusax-senti, language: jav}
"""


def test_config_typo_names_file_line_and_suggestion(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(BASE + "training:\n  epochs: 2\n  learning_rat: 0.1\n")
    with pytest.raises(XltError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:8: unknown key 'training.learning_rat'; ")
    p.write_text(BASE + "protocl:\n  seeds: [0]\n")
    with pytest.raises(XltError, match=r"c.yaml:6: unknown key 'protocl'; did you mean 'protocol'\?"):
        load_config(p)


def test_config_missing_and_wrong_values(tmp_path):
    with pytest.raises(XltError, match="missing required key 'targets'"):
        parse_config({"source": {"dataset": "nusax-senti"}})
    with pytest.raises(XltError, match="protocol.strategies.0"):
        parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "protocol": {"strategies": ["zero-shot"]}})
    with pytest.raises(XltError, match="exactly one of dataset"):
        parse_config({"source": {"dataset": "x", "path": "a.csv"}, "targets": [{"dataset": "y"}]})
    for where in ({"training": {"lr": float("inf")}}, {"methods": [{"name": "lora", "lr_continue": float("nan")}]},
                  {"protocol": {"self_training": {"lr": float("inf")}}}):  # YAML's 1e999 and .nan
        with pytest.raises(XltError, match="Input should be a finite number"):
            parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], **where})
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(XltError, match="invalid YAML"):
        load_config(p)


def test_preset_fills_steps_and_config_wins():
    exp = parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}],
                        "preprocess": {"preset": "depression-study", "remove_stopwords": False}})
    assert exp.preprocess.min_words == 10 and exp.preprocess.scrub_pii and not exp.preprocess.remove_stopwords
    assert "not a diagnosis" in exp.notice
    with pytest.raises(XltError, match="unknown preprocess preset"):
        parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "preprocess": {"preset": "nope"}})


def test_config_hash_ignores_output_dir():
    a = parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "output": {"dir": "a"}})
    b = parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "output": {"dir": "b"}})
    c = parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "split_seed": 1})
    assert a.hash() == b.hash() != c.hash()


def test_run_hash_depends_on_what_changes_a_run():
    base = {"source": {"dataset": "x"}, "targets": [{"dataset": "y", "language": "a"}],
            "protocol": {"seeds": [0], "shots": [10]}}
    labels = ["neg", "pos"]

    def h(cfg, method="lora", target=0, lab=labels):
        exp = parse_config(cfg)
        return exp.run_hash(method, exp.targets[target] if target is not None else None, lab)

    same = h(base)
    # more seeds, another N, another target language, another method: the existing runs stay valid
    wider = {**base, "protocol": {"seeds": [0, 1, 2], "shots": [10, 100], "strategies": ["zero_shot", "few_shot"]},
             "targets": [*base["targets"], {"dataset": "y", "language": "b"}],
             "methods": [{"name": "lora"}, {"name": "full"}]}
    assert h(wider) == same and h(wider, target=None) == h(base, target=None)
    # anything the run's result depends on changes it
    assert h({**base, "training": {"lr": 1e-4}}) != same
    assert h({**base, "method": {"name": "lora", "r": 16}}) != same
    assert h({**base, "targets": [{"dataset": "y", "language": "a", "train_limit": 50}]}) != same
    assert h(base, lab=["neg", "neu", "pos"]) != same
    assert h(wider, method="full") != same
    assert h(base, target=None) != same  # the source stage does not depend on the target
    # the target stage's own settings change target runs, never the source stage (so it is reused)
    continued = {**base, "training": {"lr_continue": 1e-4, "epochs_continue": 20}}
    assert h(continued) != same and h(continued, target=None) == h(base, target=None)
    retrained = {**base, "protocol": {"self_training": {"rounds": 1}}}
    assert h(retrained) != same and h(retrained, target=None) == h(base, target=None)
    assert h({**base, "training": {"epochs": 9}}, target=None) != h(base, target=None)
    # a method's own learning rates likewise: lr_continue is the target stage's alone
    assert h({**base, "method": {"name": "lora", "lr": 1e-4}}) != same
    own = {**base, "method": {"name": "lora", "lr_continue": 1e-4}}
    assert h(own) != same and h(own, target=None) == h(base, target=None)


def test_new_config_keys_at_their_defaults_keep_old_hashes():
    """Finished stores resume only while their runs' hashes stay the same: a key added later
    (head_init, self_training, rewrite_text) must not enter the hash at the value that does what xlt
    did before it existed. The literals were computed before those keys existed (commit 2693e09 and
    earlier). fast_dropout, batching and micro_batching are the exceptions that prove it: their defaults
    (cheaper masks on a CPU; batches that keep the class mix; batches run as pieces, which draws dropout
    masks in another order) train differently, so those runs are new; `off` (torch's dropout), `length`
    and `off` keep the old hashes, and for token tasks, where stratified batches are length batches, so
    does batching's default."""
    from xlt.config import parse_config

    cfg = {"name": "h", "model": "embedded:multilingual-e5-small", "method": {"name": "lora"},
           "source": {"dataset": "nusax-senti", "language": "eng"},
           "targets": [{"dataset": "nusax-senti", "language": "jav"}],
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [100], "seeds": [0]},
           "training": {"fast_dropout": "off", "batching": "length", "micro_batching": "off"}}
    e = parse_config(cfg)
    assert e.hash() == "4e81b522f53a3063"
    assert e.run_hash("lora", e.targets[0], ["negative", "neutral", "positive"]) == "30ee28bf0d5f332c"
    assert e.run_hash("lora", None, ["a"]) == "d744fb1cf648ecfd"
    assert parse_config({**cfg, "training": {}}).hash() != "4e81b522f53a3063"  # the default draws other masks
    assert parse_config({**cfg, "training": {"fast_dropout": "off", "micro_batching": "off"}}).hash() \
        != "4e81b522f53a3063"  # other batches
    assert parse_config({**cfg, "training": {"fast_dropout": "off", "batching": "length"}}).hash() \
        != "4e81b522f53a3063"  # pieces
    ner = {**cfg, "task": "ner", "method": {"name": "full"}, "baselines": [],
           "training": {"fast_dropout": "off", "micro_batching": "off"},
           "source": {"dataset": "conll2003", "language": "eng"},
           "targets": [{"dataset": "masakhaner2", "language": "hau"}]}
    assert parse_config(ner).hash() == "e6995d36dc84b4a4"  # computed before batching existed (commit d9b14ab)
    # self_training's epochs and lr (added with few_shot_self_training), unset, keep a non-default
    # self_training's hash (computed at commit 89bfa2f)
    retrained = {**cfg, "protocol": {**cfg["protocol"], "self_training": {"rounds": 1}}}
    assert parse_config(retrained).hash() == "35c6f79cbc498672"
    assert parse_config({**cfg, "protocol": {**cfg["protocol"], "self_training": {"rounds": 1, "lr": 1e-5}}}).hash() \
        != "35c6f79cbc498672"
    cfg["training"] = {"fast_dropout": "off", "micro_batching": "off", "head_init": "probe"}
    assert parse_config(cfg).hash() != "4e81b522f53a3063"  # a non-default value is part of the hash


def test_lora_takes_the_tagging_defaults_for_token_tasks_and_written_values_win():
    """NER/POS LoRA: r 16 on every linear layer at lr 5e-4 unless the config says otherwise; classification
    keeps r 8 on query/value at lr 1e-3 (and its old hashes, checked above)."""
    from xlt.config import parse_config
    from xlt.methods import get_method

    base = {"name": "t", "model": "embedded:multilingual-e5-small", "baselines": [],
            "source": {"dataset": "conll2003", "language": "eng"},
            "targets": [{"dataset": "masakhaner2", "language": "hau"}]}
    for task in ("ner", "pos"):
        m = parse_config({**base, "task": task}).method  # no method: section: LoRA
        assert (m.name, m.r, m.alpha, m.target_modules) == ("lora", 16, 32, ["query", "key", "value", "dense"])
        assert get_method(m, task).default_lr == 5e-4
    m = parse_config({**base, "task": "ner", "method": {"name": "lora", "r": 4, "target_modules": ["query"]}}).method
    assert (m.r, m.alpha, m.target_modules) == (4, 32, ["query"])
    two = parse_config({**base, "task": "ner", "methods": [{"name": "lora"}, {"name": "full"}]}).methods
    assert two[0].r == 16 and two[1].r == 8  # only LoRA is touched (full ignores r)
    cls = parse_config({**base, "source": {"dataset": "nusax-senti", "language": "eng"},
                        "targets": [{"dataset": "nusax-senti", "language": "jav"}]}).method
    assert (cls.r, cls.alpha, cls.target_modules) == (8, 16, ["query", "value"])
    assert get_method(cls, "classification").default_lr == 1e-3


def test_lora_target_modules_that_match_no_layer_get_one_clear_error():
    """A hub encoder with other layer names (DistilBERT's q_lin) must not end in peft's traceback."""
    from transformers import BertConfig, BertForTokenClassification

    from xlt.config import Method
    from xlt.errors import XltError
    from xlt.methods import get_method

    model = BertForTokenClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=32, num_labels=3))
    with pytest.raises(XltError, match=r"\['q_lin'\] match no linear layer.*'dense', 'key', 'query', 'value'"):
        get_method(Method(name="lora", target_modules=["query", "q_lin"]), "ner").prepare(model)
    peft_model = get_method(Method(name="lora", target_modules=["attention.self.query", "dense"]), "ner").prepare(model)
    assert any("lora_A" in n for n, _ in peft_model.named_parameters())


def test_a_method_s_own_learning_rates_win_over_training_s(tiny_model_dir, tiny_data, tmp_path):
    """Methods compared in one config each train at their own rate: method lr, else training's, else the
    method's default; and the rate used is the one recorded with each run."""
    from xlt import run_experiment
    from xlt.methods import get_method
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "run", baselines=[],
                      methods=[{"name": "full", "freeze_embeddings": False},
                               {"name": "lora", "lr": 2e-3, "lr_continue": 4e-3}])
    cfg.pop("method")
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["training"].update(epochs=2, min_steps=0, lr=3e-3, lr_continue=None)
    exp = parse_config(cfg)
    full, lora = (get_method(m) for m in exp.methods)
    assert (full.lr(exp.training), full.lr_continue(exp.training)) == (3e-3, full.default_lr_continue)
    assert (lora.lr(exp.training), lora.lr_continue(exp.training)) == (2e-3, 4e-3)
    run_experiment(exp)
    recorded = {(r["method"], r["strategy"]): r["train_info"] for r in Store(tmp_path / "run" / "results.sqlite").runs()}
    assert recorded[("full", "few_shot")]["lr"] == full.default_lr_continue
    assert recorded[("full", "few_shot")]["source_stage"]["lr"] == 3e-3
    assert recorded[("lora", "few_shot")]["lr"] == 4e-3 and recorded[("lora", "few_shot")]["source_stage"]["lr"] == 2e-3
