"""The real `xlt` CLI end to end on a tiny model built in the test: run, report, predict,
resume after kill -9, and one clear error (exit 2) for each kind of bad input."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import cli_in_process, tiny_config

XLT = [sys.executable, "-m", "xlt.cli"]


def run_cli(args, timeout=600, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(XLT + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, **kw)


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def done_runs(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT run_id, strategy, n, seed, started, method FROM runs WHERE status='done'").fetchall()
    con.close()
    return rows


def test_run_report_and_predict(tiny_model_dir, tiny_data, tmp_path):
    out = tmp_path / "out"
    c = tiny_config(tiny_model_dir, tiny_data, out)
    c["protocol"]["strategies"].append("joint")
    c["training"].update(epochs_continue=3, patience=0)  # no early stopping: step counts are exact
    cfg = write_config(tmp_path / "c.yaml", c)
    res = run_cli(["run", cfg])
    assert res.returncode == 0, res.stderr[-3000:]
    runs = done_runs(out / "results.sqlite")
    expected = sorted([("source", None), ("target_only", None), ("zero_shot", None), ("few_shot", 10), ("few_shot", 40),
                       ("full_shot", None), ("joint", None)])
    for method in ("full", "tfidf-lr", "embedding-lr"):  # the method and the two simple baselines
        assert sorted((r[1], r[2]) for r in runs if r[5] == method) == expected, method
    assert len(list((out / "stages").glob("*.safetensors"))) == 1  # source stage trained once, reused
    report = (out / "report.md").read_text()
    for row in ("Baseline (target-only)", "Zero-shot", "Few-shot (N=10)", "Few-shot (N=40)", "Full-shot (transfer)",
                "Joint (source + target)"):
        assert row in report
    assert (out / "figures" / "learning_curve_tiny.png").stat().st_size > 1000
    assert "data:image/png;base64" in (out / "report.html").read_text()
    assert (out / "config.resolved.yaml").exists()
    con = sqlite3.connect(out / "results.sqlite")
    assert con.execute("SELECT count(*) FROM predictions").fetchone()[0] == 3 * 7 * 30
    recorded = [json.loads(v) for (v,) in con.execute("SELECT versions FROM runs WHERE status = 'done'")]
    assert {v["torch_threads"] for v in recorded} == {1}  # training.threads: 1, recorded for a reproduction
    assert "TF-IDF + LR: Zero-shot" in report and "Frozen embeddings + LR: Few-shot (N=10)" in report
    # the keyword task is learnable: full-shot must beat chance clearly
    f1 = json.loads(con.execute("SELECT metrics FROM runs WHERE strategy='full_shot' AND method='full'").fetchone()[0])["macro_f1"]
    info = {s: json.loads(i) for s, i in con.execute("SELECT strategy, train_info FROM runs WHERE method='full'")}
    # 100 target texts, batch 8: 13 steps an epoch; epochs 10 from scratch, 3 when continuing, but min_steps 60 -> 5
    assert (info["target_only"]["steps"], info["full_shot"]["steps"], info["few_shot"]["steps"]) == (130, 65, 60)
    assert f1 > 0.8
    model_dir = next((out / "models").iterdir())
    assert "## Metrics on the tgt test split" in (model_dir / "README.md").read_text()  # model card
    assert "## Shortcut and leakage checks" in report
    res = run_cli(["predict", model_dir, "great movie and happy day", "awful sad day", "--json"])
    assert res.returncode == 0, res.stderr[-2000:]
    labels = [json.loads(line)["label"] for line in res.stdout.strip().splitlines()]
    assert labels == ["positive", "negative"]
    res = cli_in_process("export-onnx", model_dir, "--precision", "fp32")  # the same model through ONNX Runtime
    assert res.returncode == 0 and "labels agree on 6/6" in res.stdout, res.stderr[-2000:]
    res = cli_in_process("predict", model_dir, "great movie and happy day", "awful sad day", "--json", "--onnx", "fp32")
    assert [json.loads(line)["label"] for line in res.stdout.strip().splitlines()] == labels, res.stderr[-2000:]
    res = cli_in_process("data", "inspect", cfg)
    assert res.returncode == 0 and "## tiny/tgt" in res.stdout and "rows: 160 -> 160" in res.stdout
    # rerunning skips everything
    res = cli_in_process("run", cfg)
    assert res.returncode == 0 and "21 of 21 runs already finished" in res.stdout
    # adding an N to the finished experiment runs only the new few-shot runs, on the saved source stage
    stage = next((out / "stages").glob("*.safetensors"))
    stage_mtime = stage.stat().st_mtime_ns
    c["protocol"]["shots"].append(20)
    write_config(cfg, c)
    res = cli_in_process("run", cfg)
    assert res.returncode == 0 and "21 of 24 runs already finished" in res.stdout, res.stdout[-2000:]
    assert sorted(r[5] for r in done_runs(out / "results.sqlite") if r[2] == 20) == ["embedding-lr", "full", "tfidf-lr"]
    assert list((out / "stages").glob("*.safetensors")) == [stage] and stage.stat().st_mtime_ns == stage_mtime
    # a changed recipe into the same directory is refused: one report would mix two configurations
    c["training"]["lr"] = 1e-3
    write_config(cfg, c)
    resolved = (out / "config.resolved.yaml").read_text()
    res = cli_in_process("run", cfg)
    assert res.returncode == 2 and "made with different settings" in res.stderr, res.stderr[-2000:]
    assert (out / "config.resolved.yaml").read_text() == resolved  # the refused config is not recorded as the store's


def test_resume_after_kill_9(tiny_model_dir, tiny_data, tmp_path):
    out = tmp_path / "out"
    cfg = tiny_config(tiny_model_dir, tiny_data, out)
    cfg["protocol"]["seeds"] = [0, 1, 2]
    cfg["training"]["epochs"] = 12
    cfg["baselines"] = []
    path = write_config(tmp_path / "c.yaml", cfg)
    proc = subprocess.Popen(XLT + ["run", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "results.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline:
        if db.exists():
            try:
                if len(done_runs(db)) >= 3:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {r[0]: r[4] for r in done_runs(db)}
    assert 3 <= len(before) < 18, "kill came too late to test resumption"
    dry = cli_in_process("run", path, "--dry-run")  # says what the resumed run will do, and writes nothing
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert f"18 runs ({18 - len(before)} to run, {len(before)} finished)" in dry.stdout, dry.stdout
    assert {r[0]: r[4] for r in done_runs(db)} == before
    res = cli_in_process("run", path)
    assert res.returncode == 0, res.stderr[-3000:]
    after = done_runs(db)
    assert len(after) == 18 == len({r[0] for r in after})  # every run once
    assert all(before[r[0]] == r[4] for r in after if r[0] in before)  # finished runs were not retrained
    assert not list((out / "stages").glob("*.tmp"))


def test_frozen_method_encodes_each_text_once(tiny_model_dir, tiny_data, tmp_path):
    """Frozen encoder + head: features are computed once and reused by every run and seed."""
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.store import Store
    from xlt.train import _FEATURES

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "frozen"}, baselines=[])
    cfg["protocol"]["seeds"] = [0, 1]
    _FEATURES.clear()
    out = run_experiment(parse_config(cfg))
    runs = Store(out / "results.sqlite").runs()
    assert len(runs) == 12 and all(r["metrics"]["n"] == 30 for r in runs)
    import csv

    texts = {row["text"] for f in tiny_data.values() for row in csv.DictReader(open(f, encoding="utf-8"))}
    assert len(_FEATURES) == len(texts)  # every distinct text of every split encoded exactly once
