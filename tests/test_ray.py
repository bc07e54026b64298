"""Runs on Ray (`xlt run --ray`): the same metrics as a sequential run, a killed worker's run retried
without duplicates, and an unreachable cluster refused quickly with nothing written."""
from __future__ import annotations

import os
import time

import pytest
from conftest import cli_in_process, tiny_config

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")


@pytest.fixture()
def local_ray(tmp_path, monkeypatch):
    """A local Ray instance with 2 CPUs, as on this machine, which `xlt run --ray` joins; its workers kill
    themselves once (the marker file it yields says when), after the first run they finish."""
    from xlt.protocol.on_ray import KILL_ONCE_ENV

    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_ONCE_ENV, str(marker))  # workers inherit the environment Ray starts with
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield marker
    ray.shutdown()


def _config(tiny_model_dir, tiny_data, out):
    cfg = tiny_config(tiny_model_dir, tiny_data, out)
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0, 1]}
    cfg["training"].update(epochs=1, min_steps=4, threads=1)
    cfg["baselines"] = ["tfidf-lr"]
    return cfg


def _metrics(out) -> dict:
    from xlt.store import Store

    store = Store(out / "results.sqlite")
    try:
        return {r["run_id"]: r["metrics"] for r in store.runs(None)} | {"_all": len(store.runs(None))}
    finally:
        store.close()


def test_ray_gives_the_sequential_metrics_and_survives_a_killed_worker(local_ray, tiny_model_dir, tiny_data,
                                                                        tmp_path):
    import xlt

    sequential = _metrics(xlt.run(_config(tiny_model_dir, tiny_data, tmp_path / "seq"), progress=False).output_dir)

    import yaml

    cfg_path = tmp_path / "ray.yaml"
    cfg_path.write_text(yaml.safe_dump(_config(tiny_model_dir, tiny_data, tmp_path / "ray")))
    res = cli_in_process("run", cfg_path, "--ray")
    assert res.returncode == 0, res.stderr
    assert local_ray.exists()  # a worker was killed mid-run, and its run was retried
    on_ray = _metrics(tmp_path / "ray")
    assert on_ray["_all"] == sequential["_all"] == 12  # none twice, none lost: 2 seeds x (reference, zero-, few-shot) x 2 methods
    assert on_ray.keys() == sequential.keys()
    for run_id, want in sequential.items():
        if run_id != "_all":
            assert on_ray[run_id]["score"] == pytest.approx(want["score"], abs=1e-6), run_id
    stages = sorted(p.name for p in (tmp_path / "ray" / "stages").glob("*.safetensors"))
    assert len(stages) == 2  # one source stage per seed, trained once for the reference, zero- and few-shot

    again = cli_in_process("run", cfg_path, "--ray")  # everything finished: nothing is run again
    assert again.returncode == 0 and "12 runs (0 to run" in again.stdout


def test_an_unreachable_cluster_is_refused_quickly_with_nothing_written(tiny_model_dir, tiny_data, tmp_path):
    import yaml

    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(_config(tiny_model_dir, tiny_data, tmp_path / "out")))
    t0 = time.perf_counter()
    res = cli_in_process("run", cfg_path, "--ray", "127.0.0.1:9")  # the discard port: nothing listens
    assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, res.stderr
    assert "no Ray cluster answers at 127.0.0.1:9" in res.stderr
    assert time.perf_counter() - t0 < 120  # bounded: the check gives up after seconds, not Ray's minutes
    assert not (tmp_path / "out").exists()
    bad = cli_in_process("run", cfg_path, "--ray", "nonsense")
    assert bad.returncode == 2 and "is not a cluster address" in bad.stderr


def test_a_models_study_on_ray_matches_the_sequential_one(tiny_model_dir, tiny_data, tmp_path):
    """Several models (a study of groups, each with its own store): every group's runs go to Ray together,
    and each store gets exactly its own runs."""
    import xlt
    from xlt.protocol.run import run_experiment

    def cfg(out):
        c = tiny_config(tiny_model_dir, tiny_data, out, models=[{"path": str(tiny_model_dir), "name": "mean"},
                                                                 {"path": str(tiny_model_dir), "name": "cls",
                                                                  "pooling": "cls"}])
        c.pop("model")
        c["protocol"] = {"strategies": ["zero_shot"], "seeds": [0]}
        c["training"].update(epochs=1, min_steps=4, threads=1)
        c["baselines"] = []
        return xlt.config.Experiment(**c)

    run_experiment(cfg(tmp_path / "seq"), stream=open("/dev/null", "w"))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        run_experiment(cfg(tmp_path / "ray"), stream=open("/dev/null", "w"), ray="local")
    finally:
        ray.shutdown()
    for model in ("mean", "cls"):
        seq, on_ray = _metrics(tmp_path / "seq" / model), _metrics(tmp_path / "ray" / model)
        assert on_ray.keys() == seq.keys() and on_ray["_all"] == 2  # the reference and zero-shot
        for run_id in seq.keys() - {"_all"}:
            assert on_ray[run_id]["score"] == pytest.approx(seq[run_id]["score"], abs=1e-6)
