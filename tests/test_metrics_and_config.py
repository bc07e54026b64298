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


def test_command_line_settings_over_a_config(tmp_path):
    """`xlt run CONFIG --set key.path=value`: YAML values, sections created, the file untouched; a bad setting is
    one error that names it rather than a line of the file, and nothing is run."""
    from conftest import cli_in_process

    p = tmp_path / "c.yaml"
    p.write_text(BASE + "training:\n  epochs: 2\n")
    before = p.read_text()
    exp = load_config(p, ["protocol.seeds=[3, 4]", "training.lr=5e-5", "targets.0.language=sun"])
    assert exp.protocol.seeds == [3, 4] and exp.training.lr == 5e-5 and exp.training.epochs == 2
    assert exp.targets[0].language == "sun" and p.read_text() == before
    assert load_config(p, ["protocol.seeds=[1]", "protocol.seeds=[2]"]).protocol.seeds == [2]  # the last wins
    for setting, message in [
            ("protocol.sedes=[1]", "with --set 'protocol.sedes=[1]': unknown key 'protocol.sedes'; did you mean 'seeds'"),
            ("training.lr=fast", "with --set 'training.lr=fast': training.lr: Input should be a valid number"),
            ("protocol.seeds=[1", "not valid YAML"),
            ("seeds", "write KEY=VALUE"),
            ("training.epochs.x=1", "training.epochs is 2 in the config, not a section of keys"),
            ("targets.1.language=sun", "a list of 1; give a position from 0 to 0, e.g. --set targets.0.language="),
            ("targets.language=sun", "a list of 1; give a position from 0 to 0, e.g. --set targets.0.language=")]:
        with pytest.raises(XltError, match=message.replace("[", r"\[").replace("(", r"\(")):
            load_config(p, [setting])
    res = cli_in_process("run", p, "--set", "protocol.sedes=[1]", "--output", tmp_path / "out")
    assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, res.stderr
    assert not (tmp_path / "out").exists()


def test_config_missing_and_wrong_values(tmp_path):
    with pytest.raises(XltError, match="missing required key 'targets'"):
        parse_config({"source": {"dataset": "nusax-senti"}})
    with pytest.raises(XltError, match="unknown strategy 'zero-shot'; did you mean 'zero_shot'"):
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


def test_a_method_section_without_a_name_is_the_task_s_default_method(tmp_path):
    """`method: {lr: ...}` (or `--set method.lr=...`) tunes the task's default method rather than switching
    to another one; a key of another method is one error that says whose key it is."""
    data = {"source": {"dataset": "x"}, "targets": [{"dataset": "y"}]}
    assert parse_config(data).method.name == "frozen"  # classification's default, written nowhere
    exp = parse_config({**data, "method": {"lr": 1e-4}})
    assert (exp.method.name, exp.method.lr) == ("frozen", 1e-4)
    exp = parse_config({**data, "task": "ner", "method": {"r": 4}})
    assert (exp.method.name, exp.method.r) == ("lora", 4)
    assert [m.name for m in parse_config({**data, "methods": [{"name": "lora"}, {}]}).methods] == ["lora", "frozen"]
    p = tmp_path / "c.yaml"
    p.write_text(BASE)
    assert load_config(p, ["method.lr=1e-4"]).method.name == "frozen"
    with pytest.raises(XltError, match="unknown key 'method.r' for method frozen.*'r' is a key of method lora"):
        load_config(p, ["method.r=4"])


def test_preset_fills_steps_and_config_wins():
    exp = parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}],
                        "preprocess": {"preset": "depression-study", "remove_stopwords": False}})
    assert exp.preprocess.min_words == 10 and exp.preprocess.scrub_pii and not exp.preprocess.remove_stopwords
    assert "not a diagnosis" in exp.notice
    with pytest.raises(XltError, match="unknown preprocess preset"):
        parse_config({"source": {"dataset": "x"}, "targets": [{"dataset": "y"}], "preprocess": {"preset": "nope"}})


def test_lora_takes_the_tagging_defaults_for_token_tasks_and_written_values_win():
    """NER/POS LoRA (their default method): r 16 on every linear layer at lr 5e-4 unless the config says
    otherwise; classification LoRA keeps r 8 on query/value at lr 1e-3 (and its old hashes, checked above);
    classification's default method is frozen."""
    from xlt.config import parse_config
    from xlt.methods import get_method
    from xlt.tasks import get_task

    base = {"name": "t", "model": "embedded:multilingual-e5-small", "baselines": [],
            "source": {"dataset": "conll2003", "language": "eng"},
            "targets": [{"dataset": "masakhaner2", "language": "hau"}]}
    for task in ("ner", "pos"):
        m = parse_config({**base, "task": task}).method  # no method: section: LoRA
        assert (m.name, m.r, m.alpha, m.target_modules) == ("lora", 16, 32, ["query", "key", "value", "dense"])
        assert get_method(m, get_task(task)).default_lr == 5e-4
    m = parse_config({**base, "task": "ner", "method": {"name": "lora", "r": 4, "target_modules": ["query"]}}).method
    assert (m.r, m.alpha, m.target_modules) == (4, 32, ["query"])
    two = parse_config({**base, "task": "ner", "methods": [{"name": "lora"}, {"name": "full"}]}).methods
    assert two[0].r == 16 and "r" not in type(two[1]).model_fields  # full fine-tuning has no rank
    nusax = {**base, "source": {"dataset": "nusax-senti", "language": "eng"},
             "targets": [{"dataset": "nusax-senti", "language": "jav"}]}
    assert parse_config(nusax).method.name == "frozen"  # classification's default method
    cls = parse_config({**nusax, "method": {"name": "lora"}}).method
    assert (cls.r, cls.alpha, cls.target_modules) == (8, 16, ["query", "value"])
    assert get_method(cls, get_task("classification")).default_lr == 1e-3


def test_lora_target_modules_that_match_no_layer_get_one_clear_error():
    """A hub encoder with other layer names (DistilBERT's q_lin) must not end in peft's traceback."""
    from transformers import BertConfig, BertForTokenClassification

    from xlt.errors import XltError
    from xlt.methods import get_method
    from xlt.methods.lora import LoraConfig
    from xlt.tasks import get_task

    model = BertForTokenClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=32, num_labels=3))
    with pytest.raises(XltError, match=r"\['q_lin'\] match no linear layer.*'dense', 'key', 'query', 'value'"):
        get_method(LoraConfig(target_modules=["query", "q_lin"]), get_task("ner")).prepare(model)
    peft_model = get_method(LoraConfig(target_modules=["attention.self.query", "dense"]), get_task("ner")).prepare(model)
    assert any("lora_A" in n for n, _ in peft_model.named_parameters())


def test_a_method_s_own_learning_rates_win_over_training_s(tiny_model_dir, tiny_data, tmp_path):
    """Methods compared in one config each train at their own rate: method lr, else training's, else the
    method's default; and the rate used is the one recorded with each run."""
    from xlt import run_experiment
    from xlt.methods import get_method
    from xlt.store import Store
    from xlt.tasks import get_task

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "run", baselines=[],
                      methods=[{"name": "full", "freeze_embeddings": False},
                               {"name": "lora", "lr": 2e-3, "lr_continue": 4e-3}])
    cfg.pop("method")
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["training"].update(epochs=2, min_steps=0, lr=3e-3, lr_continue=None)
    exp = parse_config(cfg)
    full, lora = (get_method(m, get_task(exp.task)) for m in exp.methods)
    assert (full.lr(exp.training), full.lr_continue(exp.training)) == (3e-3, full.default_lr_continue)
    assert (lora.lr(exp.training), lora.lr_continue(exp.training)) == (2e-3, 4e-3)
    run_experiment(exp)
    recorded = {(r["method"], r["strategy"]): r["train_info"] for r in Store(tmp_path / "run" / "results.sqlite").runs()}
    assert recorded[("full", "few_shot")]["lr"] == full.default_lr_continue
    assert recorded[("full", "few_shot")]["source_stage"]["lr"] == 3e-3
    assert recorded[("lora", "few_shot")]["lr"] == 4e-3 and recorded[("lora", "few_shot")]["source_stage"]["lr"] == 2e-3
