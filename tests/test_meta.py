"""X-MAML (strategy few_shot_meta): meta-training over auxiliary languages before the N shots, recorded per run,
the target's own language left out, and one clear error for a config that cannot run it."""
from __future__ import annotations

import json
import sqlite3

import pytest
import yaml
from conftest import cli_in_process
from test_contract import _data, tiny_random_bert  # noqa: F401  (a fixture)

from xlt.tasks import TASKS


def _config(model, tmp_path, meta: dict | None, method="lora") -> dict:
    data = _data(TASKS.get("classification"), tmp_path)
    protocol = {"strategies": ["few_shot", "few_shot_meta"], "shots": [8], "seeds": [0]}
    if meta is not None:
        protocol["meta"] = {k: (v if v != "SRC+TGT" else [data["src"], data["tgt"]]) for k, v in meta.items()}
    return {"model": str(model), "method": {"name": method}, "baselines": [], "source": data["src"],
            "targets": [data["tgt"]], "protocol": protocol,
            "training": {"epochs": 1, "min_steps": 4, "batch_size": 8, "max_length": 32, "threads": 1},
            "output": {"dir": str(tmp_path / "out")}}


@pytest.mark.parametrize("algorithm", ["reptile", "fomaml"])
def test_meta_training_runs_and_leaves_out_the_targets_own_language(tiny_random_bert, tmp_path, algorithm):
    import xlt

    cfg = _config(tiny_random_bert, tmp_path, {"languages": "SRC+TGT", "algorithm": algorithm, "steps": 3,
                                               "inner_steps": 2, "task_size": 4})
    results = xlt.run(cfg, progress=False, report=False)
    con = sqlite3.connect(results.store)
    rows = dict(con.execute("SELECT strategy, train_info FROM runs WHERE status = 'done' AND language = 'tgt'"))
    con.close()
    meta = json.loads(rows["few_shot_meta"])["meta"]
    assert meta["algorithm"] == algorithm and meta["languages"] == {"src": 24}  # tgt's own rows are not read
    assert [h["language"] for h in meta["history"]] == ["src"] * 3
    assert all(h["support_loss"] >= 0 for h in meta["history"])
    assert ("query_loss" in meta["history"][0]) == (algorithm == "fomaml")
    assert "meta" not in json.loads(rows["few_shot"])
    runs = results.runs
    assert sorted(runs[runs["language"] == "tgt"]["strategy"]) == ["few_shot", "few_shot_meta"]


def test_top_k_meta_trains_on_the_auxiliary_languages_the_source_ranker_puts_first(tiny_random_bert, tmp_path):
    """protocol.meta.top_k: of the listed languages (the target's own left out), the k the zero-data ranker scores
    highest for the target; the ranking is recorded. A language written like the target outranks one that is not."""
    import xlt

    cfg = _config(tiny_random_bert, tmp_path, {"languages": "SRC+TGT", "steps": 2, "inner_steps": 1, "task_size": 4,
                                               "top_k": 1})
    near = {**cfg["targets"][0], "language": "near"}  # the target's texts under another language's name
    cfg["protocol"]["meta"]["languages"].append(near)
    results = xlt.run(cfg, progress=False, report=False)
    con = sqlite3.connect(results.store)
    info = json.loads(con.execute("SELECT train_info FROM runs WHERE status = 'done' AND strategy = 'few_shot_meta'")
                      .fetchone()[0])
    con.close()
    ranking = info["meta"]["ranking"]
    assert [name for name, _ in ranking] == ["near", "src"] and ranking[0][1] > ranking[1][1]
    assert info["meta"]["languages"] == {"near": 24}

    cfg["protocol"]["meta"]["top_k"] = 4
    from xlt.errors import XltError

    with pytest.raises(XltError, match="top_k 4 asks for more auxiliary languages than the 3 listed"):
        xlt.run(cfg, progress=False, report=False)


def test_meta_learning_bad_input_is_one_error_and_nothing_written(tiny_random_bert, tmp_path):
    cases = {"meta-trains on auxiliary languages, and none are given": (None, "lora"),
             "meta-learning needs auxiliary languages": ({"languages": []}, "lora"),
             "method frozen fits a convex head": ({"languages": "SRC+TGT"}, "frozen")}
    for i, (message, (meta, method)) in enumerate(cases.items()):
        (tmp_path / f"c{i}").mkdir()
        cfg = _config(tiny_random_bert, tmp_path / f"c{i}", meta, method)
        path = tmp_path / f"c{i}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = cli_in_process("run", path)
        assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, (message, res.stderr)
        assert message in res.stderr and not (tmp_path / f"c{i}" / "out").exists(), (message, res.stderr)


def test_meta_trained_weights_are_saved_once_and_shared_across_n(tiny_random_bert, tmp_path):
    """The meta-trained weights depend on the source stage, seed and auxiliary data, not on N: the second N loads
    them (recorded as reused) and scores as a run that meta-trained afresh does."""
    import xlt

    meta = {"languages": "SRC+TGT", "steps": 3, "inner_steps": 2, "task_size": 4}
    scores = {}
    for name, shots in (("both", [4, 8]), ("alone", [8])):
        (tmp_path / name).mkdir()
        cfg = _config(tiny_random_bert, tmp_path / name, meta)
        cfg["protocol"].update(shots=shots, strategies=["few_shot_meta"])
        results = xlt.run(cfg, progress=False, report=False)
        con = sqlite3.connect(results.store)
        rows = con.execute("SELECT n, train_info FROM runs WHERE status = 'done' AND language = 'tgt' ORDER BY "
                           "finished").fetchall()
        con.close()
        infos = {n: json.loads(info)["meta"] for n, info in rows}
        assert len(list((tmp_path / name / "out" / "stages").glob("meta-*.safetensors"))) == 1
        runs = results.runs
        scores[name] = float(runs[(runs["language"] == "tgt") & (runs["n"] == 8)]["score"].iloc[0])
        if name == "both":
            assert [i["reused"] for i in infos.values()] == [False, True]
            assert infos[4]["history"] == infos[8]["history"]
        else:
            assert infos[8]["reused"] is False
    assert scores["both"] == pytest.approx(scores["alone"], abs=1e-9)


def test_an_unreadable_saved_stage_is_one_error_naming_it_and_finished_runs_stay(tiny_random_bert, tmp_path):
    """A saved meta stage cut short (a copy interrupted) stops the run with one line naming the file to delete;
    the run that finished before it is kept."""
    meta = {"languages": "SRC+TGT", "steps": 2, "inner_steps": 1, "task_size": 4}
    cfg = _config(tiny_random_bert, tmp_path, meta)
    cfg["protocol"].update(shots=[4], strategies=["few_shot_meta"])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli_in_process("run", path).returncode == 0
    stage = next((tmp_path / "out" / "stages").glob("meta-*.safetensors"))
    stage.write_bytes(stage.read_bytes()[:10])
    cfg["protocol"]["shots"] = [4, 8]
    path.write_text(yaml.safe_dump(cfg))
    res = cli_in_process("run", path)
    assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, res.stderr
    assert f"saved stage {stage} cannot be read" in res.stderr and "delete it" in res.stderr, res.stderr
    con = sqlite3.connect(tmp_path / "out" / "results.sqlite")
    done = con.execute("SELECT n FROM runs WHERE status = 'done' AND strategy = 'few_shot_meta'").fetchall()
    con.close()
    assert done == [(4,)]
