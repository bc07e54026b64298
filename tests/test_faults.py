"""Faults that must lose nothing: a second process on the same output folder, a full disk, a damaged
store; and a server fed hundreds of malformed requests."""
from __future__ import annotations

import errno
import json
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from conftest import tiny_config
from conftest import cli_in_process
from xlt.errors import XltError


def _config(tiny_model_dir, tiny_data, tmp_path, **over):
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "frozen"}, baselines=["tfidf-lr"],
                      **over)
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10, 40], "seeds": [0, 1]}
    cfg["output"]["save_models"] = []
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return cfg, path


def _done(db) -> list[str]:
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'done'")]
    con.close()
    return ids


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_writes(tiny_model_dir, tiny_data, tmp_path):
    from xlt.protocol.run import output_lock

    cfg, path = _config(tiny_model_dir, tiny_data, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):  # as a running `xlt run` holds it
        res = cli_in_process("run", path)
    assert res.returncode == 2 and "is being written by another xlt run (pid" in res.stderr, res.stderr[-1000:]
    assert not (out / "results.sqlite").exists()
    res = cli_in_process("run", path)  # once the first is gone, the folder is free
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(_done(out / "results.sqlite")) == 16


def test_two_runs_checking_sibling_folders_under_one_new_parent_both_pass(tmp_path, monkeypatch):
    """Two `xlt run`s started together, writing to parent/a and parent/b: one's check must not fail on, or
    remove, the parent the other is writing in."""
    import tempfile

    from xlt.files import check_output_dir

    parent = tmp_path / "parent"
    real = tempfile.TemporaryFile

    def other_run_starts_writing(*args, **kwargs):  # the other run's folder appears during this check
        (parent / "b").mkdir(exist_ok=True)
        (parent / "b" / "results.sqlite").write_text("")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", other_run_starts_writing)
    check_output_dir(parent / "a")
    assert (parent / "b" / "results.sqlite").exists() and not (parent / "a").exists()
    monkeypatch.setattr(tempfile, "TemporaryFile", real)
    check_output_dir(parent / "b")  # its own parent already there: nothing is created or removed
    assert (parent / "b" / "results.sqlite").exists()


def test_a_full_disk_ends_in_one_error_and_the_store_resumes(tiny_model_dir, tiny_data, tmp_path, monkeypatch):
    import xlt
    from xlt.store import Store

    cfg, _ = _config(tiny_model_dir, tiny_data, tmp_path)
    finish, calls = Store.finish, []

    def full_on_the_fourth(self, *a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return finish(self, *a, **k)

    monkeypatch.setattr(Store, "finish", full_on_the_fourth)
    with pytest.raises(XltError, match="no space left on the device .* the finished runs are kept"):
        xlt.run(cfg, progress=False, report=False)
    assert len(_done(tmp_path / "out" / "results.sqlite")) == 3
    monkeypatch.setattr(Store, "finish", finish)
    # a stage file that cannot be written leaves no temporary file behind
    from xlt import files

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        files._atomic(tmp_path / "out" / "stages" / "x.json", lambda tmp: (tmp.write_text("half"), no_space()))
    assert not list((tmp_path / "out" / "stages").glob("*.tmp"))
    results = xlt.run(cfg, progress=False, report=False)
    ids = _done(tmp_path / "out" / "results.sqlite")
    assert len(results.runs) == len(ids) == len(set(ids)) == 16


def test_a_damaged_store_is_one_clear_error_and_recover_keeps_what_can_be_read(tiny_model_dir, tiny_data, tmp_path):
    cfg, path = _config(tiny_model_dir, tiny_data, tmp_path)
    assert cli_in_process("run", path).returncode == 0
    db = tmp_path / "out" / "results.sqlite"
    good = set(_done(db))
    shutil.copy(db, tmp_path / "intact.sqlite")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])  # truncated, as a disk or a copy can leave it
    damaged = db.read_bytes()
    res = cli_in_process("run", path)
    errors = [line for line in res.stderr.splitlines() if line.startswith("xlt: error:")]
    assert res.returncode == 2 and len(errors) == 1 and "is damaged" in errors[0] and "xlt recover" in errors[0]
    assert db.read_bytes() == damaged  # left as it was
    db.write_bytes(b"this is not a database at all, just bytes" * 100)
    res = cli_in_process("run", path)
    assert res.returncode == 2 and "is damaged" in res.stderr
    shutil.copy(tmp_path / "intact.sqlite", db)
    with open(db, "r+b") as fh:  # a damaged page in the middle of an otherwise readable file
        fh.seek(len(data) // 2)
        fh.write(b"\xff" * 4096)
    res = cli_in_process("recover", tmp_path / "out")
    assert res.returncode == 0 and "kept" in res.stdout, res.stderr[-2000:]
    kept = set(_done(db))
    assert kept <= good and (tmp_path / "out" / "results.damaged.sqlite").exists()
    res = cli_in_process("run", path)  # the rest is redone, nothing duplicated
    assert res.returncode == 0, res.stderr[-2000:]
    assert set(_done(db)) == good


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(rng: random.Random, n: int) -> list[tuple[bytes, dict]]:
    """Random and malformed requests: bytes, wrong shapes and types, empty and huge texts, bad headers."""
    shapes = [lambda: {"texts": [rng.choice(["", " ", "\t\n", "ok", "a" * rng.randint(1, 80)])
                                 for _ in range(rng.randint(1, 5))]},
              lambda: {"texts": rng.choice([[], None, "a string", 3, [1, 2], [None], [["nested"]], [{"a": 1}]])},
              lambda: {"text": "wrong key"}, lambda: [1, 2, 3], lambda: "texts", lambda: None,
              lambda: {"texts": ["x"] * rng.randint(60, 80)}, lambda: {"texts": ["y" * 12000]},
              lambda: {"texts": ["\ud800" if False else "é ∆ 😀 \u0000"]}]
    out = []
    for _ in range(n):
        kind = rng.random()
        headers = {"Content-Type": "application/json"}
        if kind < 0.25:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        elif kind < 0.35:
            body = json.dumps({"texts": ["ok"]}).encode()[: rng.randint(0, 14)]  # cut short
        elif kind < 0.4:
            body = b'{"texts": ' + b"[" * 5000 + b"]" * 5000 + b"}"  # deep nesting
        else:
            body = json.dumps(rng.choice(shapes)()).encode()
        if rng.random() < 0.05:
            headers["Content-Length"] = rng.choice(["abc", "-1", "99999999999"])
        out.append((body, headers))
    return out


def test_the_server_answers_500_malformed_requests_without_a_server_error(tiny_model_dir, tmp_path):
    from xlt.models import load_classifier, resolve, save_for_transformers

    spec = resolve(str(tiny_model_dir))
    model_dir = tmp_path / "model"
    save_for_transformers(load_classifier(spec, 2, {0: "neg", 1: "pos"}), spec.tokenizer(), model_dir,
                          {"xlt_text_prefix": "", "xlt_notice": "screening signal, not a diagnosis"})
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "xlt.cli", "serve", str(model_dir), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import http.client

    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        statuses, started = [], time.time()
        for body, headers in _bodies(random.Random(0), 520):
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                con.putrequest("POST", "/predict")
                for k, v in headers.items():
                    con.putheader(k, v)
                if "Content-Length" not in headers:
                    con.putheader("Content-Length", str(len(body)))
                con.endheaders(body)
                resp = con.getresponse()
                statuses.append(resp.status)
                payload = resp.read()
                if resp.status == 200:
                    preds = json.loads(payload)["predictions"]
                    sent = json.loads(body)["texts"]
                    assert all(("error" in p) == (not t.strip()) for p, t in zip(preds, sent)), (sent, preds)
            except (ConnectionError, http.client.HTTPException):
                statuses.append(400)  # the server closed a connection it could not parse: no answer, no crash
            finally:
                con.close()
        assert time.time() - started < 300
        assert len(statuses) >= 500 and not [s for s in statuses if s >= 500], sorted(set(statuses))
        assert {200, 413, 422} <= set(statuses)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).status == 200  # still up
    finally:
        proc.terminate()
        proc.wait(timeout=30)
