"""The results store: atomic run records, and stores written by earlier versions of xlt resuming."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from conftest import cli_in_process
from xlt.store import RunKey, Store

SCHEMA1 = Path(__file__).parent / "fixtures" / "schema1-store"


def runs_of(db: Path) -> dict[tuple, tuple]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT method, strategy, n, seed, language, run_id, started FROM runs "
                       "WHERE status = 'done'").fetchall()
    con.close()
    return {r[:5]: r[5:] for r in rows}


def test_a_run_is_recorded_whole_or_not_at_all(tmp_path):
    store = Store(tmp_path / "results.sqlite")
    key = RunKey("lora", "few_shot", 10, 0, "d", "jav")
    store.mark_started("h:lora:few_shot:10:0:d/jav", key, "h", {"experiment": "e", "model": "m"})
    assert store.runs("done") == [] and len(store.runs("running")) == 1
    with pytest.raises(sqlite3.IntegrityError):  # a failure inside the transaction leaves the run as it was
        with store.transaction() as db:
            db.execute("UPDATE runs SET status='done' WHERE run_id = ?", ("h:lora:few_shot:10:0:d/jav",))
            db.execute("INSERT INTO predictions VALUES ('h:lora:few_shot:10:0:d/jav', 0, 'a', 'a', '[]')")
            db.execute("INSERT INTO predictions VALUES ('h:lora:few_shot:10:0:d/jav', 0, 'a', 'a', '[]')")
    assert store.runs("done") == []
    store.finish("h:lora:few_shot:10:0:d/jav", {"score": 0.5}, "target-validation", 1.0, 0.5, {"xlt": "x"},
                 {"steps": 3}, [("a", "b", [0.25, 0.75])])
    (run,) = store.runs("done")
    assert run["metrics"] == {"score": 0.5} and run["train_info"] == {"steps": 3} and run["n"] == 10
    assert store.db.execute("SELECT probs FROM predictions").fetchone()[0] == "[0.25, 0.75]"
    store.close()


def test_a_runs_stored_predictions_read_back_in_test_order(tmp_path):
    from xlt.store import open_existing, run_predictions

    store = Store(tmp_path / "results.sqlite")
    for run_id, probs in (("h:a", [[0.25, 0.75], [0.9, 0.1]]), ("h:b", [[], []])):
        key = RunKey("lora", "zero_shot", None, 0, "d", run_id[-1])
        store.mark_started(run_id, key, "h", {"experiment": "e", "model": "m"})
        store.finish(run_id, {"score": 0.5}, "source-validation", 1.0, 0.5, {}, {},
                     [(g, g, p) for g, p in zip(("neg", "pos"), probs)])
    store.close()
    with open_existing(tmp_path / "results.sqlite") as con:
        assert run_predictions(con, "h:a") == (["neg", "pos"], [[0.25, 0.75], [0.9, 0.1]])
        assert run_predictions(con, "h:b") == (["neg", "pos"], [])  # a run that stored no probabilities


@pytest.mark.parametrize("config", ["classification.yaml", "ner.yaml"])
def test_a_store_written_before_the_identity_schema_resumes_without_repeating_a_run(tmp_path, config):
    work = tmp_path / "study"
    shutil.copytree(SCHEMA1, work)
    cfg = yaml.safe_load((work / config).read_text())
    # the few-shot behaviour its runs were made with: text classification's default has since moved to prior
    # matching, under which those few-shot runs would rightly run again
    cfg["protocol"]["prior_matching"] = 0.0
    (work / config).write_text(yaml.safe_dump(cfg))
    out = work / cfg["output"]["dir"]
    before = runs_of(out / "results.sqlite")
    old_stages = sorted(p.name for p in (out / "stages").glob("*.safetensors"))
    assert before and old_stages

    res = cli_in_process("run", config, cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resuming: {len(before)} of {len(before)} runs already finished" in res.stdout, res.stdout
    # runs made before code was fingerprinted are kept, and the plan says so before anything runs
    assert f"{len(before)} of the {len(before)} finished runs kept were made by other xlt code" in res.stdout
    after = runs_of(out / "results.sqlite")
    assert after.keys() == before.keys()
    assert all(after[k][1] == before[k][1] for k in before)  # not one run started again
    assert all(after[k][0] != before[k][0] for k in before)  # renamed to this version's identities
    con = sqlite3.connect(out / "results.sqlite")
    assert json.loads(con.execute("SELECT value FROM meta WHERE key = 'identity_schema'").fetchone()[0]) == 2
    assert con.execute("SELECT count(DISTINCT run_id) FROM predictions").fetchone()[0] == len(after)
    con.close()
    stages = sorted((out / "stages").glob("*.safetensors"))
    assert len(stages) == len(old_stages) and not {p.name for p in stages} & set(old_stages)
    mtimes = {p.name: p.stat().st_mtime_ns for p in stages}

    # a new N on the resumed store trains only the new runs, on the renamed source stages
    cfg = yaml.safe_load((work / config).read_text())
    cfg["protocol"]["shots"] = [10, 20]
    (work / config).write_text(yaml.safe_dump(cfg))
    res = cli_in_process("run", config, cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    grown = runs_of(out / "results.sqlite")
    assert {k for k in grown if k not in after} and all(k[2] == 20 for k in grown if k not in after)
    assert all(grown[k] == after[k] for k in after)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stages").glob("*.safetensors")} == mtimes


def test_an_old_store_with_few_shot_runs_is_refused_under_prior_matching_with_nothing_written(tmp_path):
    """Text classification's default now matches priors in few-shot runs: a store whose few-shot runs were
    made without it holds runs of other settings, and one report must not mix them (prior_matching: 0 resumes
    it, as above)."""
    work = tmp_path / "study"
    shutil.copytree(SCHEMA1, work)
    out = work / yaml.safe_load((work / "classification.yaml").read_text())["output"]["dir"]
    db = (out / "results.sqlite").read_bytes()
    res = cli_in_process("run", "classification.yaml", cwd=work)
    assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1
    assert "few_shot" in res.stderr and "new directory" in res.stderr
    assert (out / "results.sqlite").read_bytes() == db


def test_older_and_newer_stores_get_a_clear_message(tmp_path):
    work = tmp_path / "study"
    shutil.copytree(SCHEMA1, work)
    cfg = yaml.safe_load((work / "classification.yaml").read_text())
    cfg["training"]["epochs"] = 3  # not the settings its runs were made with
    (work / "changed.yaml").write_text(yaml.safe_dump(cfg))
    res = cli_in_process("run", "changed.yaml", cwd=work)
    assert res.returncode == 2 and "written by an earlier xlt (run-identity schema 1)" in res.stderr, res.stderr
    assert "made with different settings" in res.stderr and "Traceback" not in res.stderr
    con = sqlite3.connect(work / "out-classification" / "results.sqlite")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('identity_schema', '3')")
    con.commit()
    con.close()
    res = cli_in_process("run", "classification.yaml", cwd=work)
    assert res.returncode == 2 and "written by a newer xlt (run-identity schema 3" in res.stderr, res.stderr


def test_the_report_says_when_a_stores_runs_were_made_by_different_code():
    from xlt.report import mixed_code
    from xlt.store import code_fingerprint, versions

    assert versions()["xlt_code"] == code_fingerprint() and len(code_fingerprint()) == 12
    same = [{"versions": {"xlt_code": "a"}}] * 3
    assert mixed_code(same) is None
    text = mixed_code(same + [{"versions": {"xlt_code": "b"}}, {"versions": {}}])
    assert "3 versions" in text and "3 by a" in text and "1 by unrecorded" in text and "new output.dir" in text
    # a run continuing from a stage trained by other code (zero-shot keeps the stage's record as its own)
    assert mixed_code([{"versions": {"xlt_code": "a"}, "train_info": {"xlt_code": "a"}}]) is None
    stale = mixed_code([{"versions": {"xlt_code": "a"}, "train_info": {"source_stage": {"xlt_code": "b"}}},
                        {"versions": {"xlt_code": "a"}, "train_info": {"xlt_code": "b"}},
                        {"versions": {"xlt_code": "a"}, "train_info": {}}])
    assert stale.startswith("2 run(s) continued from source stages trained by other xlt code")
    assert "new output.dir" in stale and "versions of xlt's code" not in stale
