"""The protocol: runs planned from the strategies' declarations, a target with a test split alone, the
progress a person sees, and one clear error for each strategy a config cannot run."""
from __future__ import annotations

import re

import pytest

from conftest import tiny_config
from conftest import cli_in_process
from test_end_to_end import write_config
from xlt.config import parse_config
from xlt.errors import XltError
from xlt.protocol import check_experiment
from xlt.protocol.strategies import STRATEGIES


def test_the_plan_follows_the_declarations(tiny_model_dir, tiny_data, tmp_path):
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", baselines=["tfidf-lr"])
    cfg["protocol"] = {"strategies": ["target_only", "zero_shot", "self_training", "few_shot", "full_shot", "joint"],
                       "shots": [10, 40], "seeds": [0, 1]}
    plan = check_experiment(parse_config(cfg))
    for method in ("full", "tfidf-lr"):
        keys = [k for k in plan.keys if k.method == method]
        per_seed = 1 + sum(len(cfg["protocol"]["shots"]) if STRATEGIES.get(s).uses_shots else 1
                           for s in cfg["protocol"]["strategies"] if method == "full" or STRATEGIES.get(s).baselines)
        assert len(keys) == 2 * per_seed, method
        assert keys[0].strategy == "source" and {k.n for k in keys if k.strategy == "few_shot"} == {10, 40}
    assert not [k for k in plan.keys if k.method == "tfidf-lr" and k.strategy == "self_training"]
    assert not (tmp_path / "out").exists()  # checking writes nothing


def test_a_target_with_a_test_split_alone_is_a_zero_shot_target(tiny_model_dir, tiny_data, tmp_path):
    import xlt

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", baselines=["tfidf-lr"])
    cfg["targets"][0]["files"] = {"test": str(tiny_data["tgt_test"])}
    cfg["protocol"] = {"strategies": ["zero_shot"], "seeds": [0]}
    cfg["output"]["save_models"] = []
    results = xlt.run(cfg, progress=False)
    assert sorted(zip(results.runs["method"], results.runs["strategy"])) == [
        ("full", "source"), ("full", "zero_shot"), ("tfidf-lr", "source"), ("tfidf-lr", "zero_shot")]
    assert (results.runs[results.runs["strategy"] == "zero_shot"]["language"] == "tgt").all()
    for strategy in ("few_shot", "target_only"):
        cfg["protocol"]["strategies"] = ["zero_shot", strategy]
        with pytest.raises(XltError, match=rf"tiny/tgt has no training data, so {strategy} \(which trains on its "
                                           r"labels\) is impossible; .* can be used with zero_shot, zero_shot_lapt, "
                                           r"translate_test, translate_train, self_training"):
            check_experiment(parse_config(cfg))


def test_a_long_stage_writes_a_line_now_and_then_to_a_log_and_a_bar_to_a_terminal():
    import io

    from tqdm.auto import tqdm

    from xlt.progress import stage_bar, stages_to

    log = io.StringIO()
    bar = stage_bar(range(5), total=5, desc="source stage", stream=log, every=0.0)
    bar.set_postfix({"epoch": 1, "loss": 0.4321})
    assert list(bar) == list(range(5))
    lines = log.getvalue().splitlines()  # every step but the last, which the run's own line reports
    assert [line.split(",")[0] for line in lines] == [f"  source stage: step {i} of 5" for i in range(1, 5)]
    assert re.fullmatch(r"  source stage: step 1 of 5, \d+\.\d min so far, about \d+\.\d min left, epoch 1, "
                        r"loss 0\.4321", lines[0]), lines[0]
    quiet = io.StringIO()
    list(stage_bar(range(5), total=5, desc="short stage", stream=quiet))  # shorter than the interval: silent
    assert quiet.getvalue() == ""
    run_stream = io.StringIO()
    with stages_to(run_stream):  # what a run does: its stages write where its own lines go
        list(stage_bar(range(3), total=3, desc="inner", every=0.0))
    assert run_stream.getvalue().startswith("  inner: step 1 of 3, ")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(stage_bar(range(5), total=5, desc="x", stream=Terminal()), tqdm)


def test_progress_is_one_line_per_run_when_output_is_not_a_terminal(tiny_model_dir, tiny_data, tmp_path):
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", baselines=["tfidf-lr"], method={"name": "frozen"})
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    res = cli_in_process("run", write_config(tmp_path / "c.yaml", cfg))
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith("tiny: every check passed. 6 runs (6 to run, 0 finished)")
    runs = [line for line in lines if line.startswith("[")]
    assert len(runs) == 6 and runs[-1].startswith("[6/6] ")
    pattern = r"\[\d/6\] (frozen|tfidf-lr) tiny/(src|tgt) (source|zero_shot|few_shot N=10) seed 0: Macro-F1 \d\.\d{3} \(\d+ s\)"
    assert all(re.fullmatch(pattern, line) for line in runs), runs
