"""The results store: one SQLite file per output directory.

One row per run (config hash, strategy, N, seed, language): status, timings, versions, metrics.
A run's metrics and predictions are written in the same transaction that marks it done, so an
interrupted run (Ctrl-C, kill -9) leaves either nothing or a complete result; the next invocation
skips finished runs and redoes the rest. Reports read only this file.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from xlt.errors import XltError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, config_hash TEXT, experiment TEXT, method TEXT, model TEXT,
  strategy TEXT, n INTEGER, seed INTEGER, dataset TEXT, language TEXT, selection TEXT,
  status TEXT, started REAL, finished REAL, train_seconds REAL, eval_seconds REAL,
  versions TEXT, metrics TEXT, train_info TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
  run_id TEXT, idx INTEGER, gold TEXT, pred TEXT, probs TEXT, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class RunKey:
    method: str
    strategy: str
    n: int | None
    seed: int
    dataset: str
    language: str

    def run_id(self, config_hash: str) -> str:
        return f"{config_hash}:{self.method}:{self.strategy}:{self.n or 'all'}:{self.seed}:{self.dataset}/{self.language}"

    def label(self) -> str:
        n = f" N={self.n}" if self.n else ""
        return f"{self.method} {self.dataset}/{self.language} {self.strategy}{n} seed {self.seed}"


def versions() -> dict:
    """Library versions and torch's thread count, recorded with every run: on a CPU another thread count sums in
    another order, so the same seed can score differently (MasakhaNER's English stage: up to 4.7 F1 on one
    language), and a reproduction needs both. `xlt_code` fingerprints xlt's own source, which changes between
    releases: a resumed store keeps the runs older code made, and the report says when one store mixes them."""
    import platform

    import peft
    import torch
    import transformers

    import xlt

    return {"xlt": xlt.__version__, "xlt_code": code_fingerprint(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "python": platform.python_version(), "torch_threads": torch.get_num_threads()}


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A short hash of the xlt package's Python sources (paths and contents), the same on every machine."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def _text(v) -> str:
    """Class labels as they are; tag sequences as JSON lists."""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            check_integrity(self.path)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.db.commit()

    @contextmanager
    def transaction(self):
        with self.db:
            yield self.db

    def set_meta(self, key: str, value) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        return read_meta(self.db, key, default)

    def mark_started(self, run_id: str, key: RunKey, config_hash: str, common: dict) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM predictions WHERE run_id = ?", (run_id,))
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, config_hash, experiment, method, model, strategy, n, seed,"
                " dataset, language, status, started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, config_hash, common["experiment"], key.method, common["model"], key.strategy, key.n,
                 key.seed, key.dataset, key.language, "running", time.time()))

    def finish(self, run_id: str, metrics: dict, selection: str, train_seconds: float, eval_seconds: float,
               versions: dict, train_info: dict, predictions: list[tuple[str, str, list[float]]] | None) -> None:
        with self.transaction() as db:
            if predictions:
                db.executemany("INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?)",
                               [(run_id, i, _text(g), _text(p), json.dumps([round(x, 5) for x in pr]))
                                for i, (g, p, pr) in enumerate(predictions)])
            db.execute(
                "UPDATE runs SET status='done', finished=?, selection=?, train_seconds=?, eval_seconds=?, versions=?,"
                " metrics=?, train_info=? WHERE run_id=?",
                (time.time(), selection, train_seconds, eval_seconds, json.dumps(versions), json.dumps(metrics),
                 json.dumps(train_info), run_id))

    def runs(self, status: str | None = "done") -> list[dict]:
        self.db.row_factory = sqlite3.Row
        q = "SELECT * FROM runs" + (" WHERE status = ?" if status else "")
        rows = [dict(r) for r in self.db.execute(q, (status,) if status else ())]
        self.db.row_factory = None
        for r in rows:
            for k in ("metrics", "versions", "train_info"):
                r[k] = json.loads(r[k]) if r.get(k) else {}
        return rows

    def rename_runs(self, renamed: dict[str, str]) -> None:
        """Give runs new ids (an older store's runs, matched to this version's identities), in one transaction."""
        with self.transaction() as db:
            for old, new in renamed.items():
                db.execute("UPDATE runs SET run_id = ?, config_hash = ? WHERE run_id = ?", (new, new.split(":")[0], old))
                db.execute("UPDATE predictions SET run_id = ? WHERE run_id = ?", (new, old))

    def close(self) -> None:
        self.db.close()


@contextmanager
def open_existing(path: Path):
    """A read-only connection to an existing, undamaged store (checks must write nothing)."""
    check_integrity(path)
    with closing(sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)) as con:
        yield con


def read_meta(con, key: str, default=None):
    """One value of a store's `meta` table, read through `con` (a `Store`'s or `open_existing`'s)."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def run_predictions(con, run_id: str) -> tuple[list[str], list[list[float]]]:
    """A run's stored gold labels and class probabilities in test order, read through `con` (`open_existing`);
    the probabilities are empty where the run stored none."""
    rows = con.execute("SELECT gold, probs FROM predictions WHERE run_id = ? ORDER BY idx",
                       (run_id,)).fetchall()
    probs = [json.loads(p) for _, p in rows if p]
    return [g for g, _ in rows], probs if len(probs) == len(rows) and all(probs) else []


def check_integrity(path: Path) -> None:
    """A damaged or truncated store is one clear error; xlt leaves the file as it is."""
    problem = None
    try:
        with closing(sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)) as con:
            rows = con.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                problem = "; ".join(r[0] for r in rows[:2])
            elif not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
                problem = "it holds no runs table"
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    if problem:
        raise XltError(f"{path} is damaged ({problem}); xlt leaves it as it is. `xlt recover {Path(path).parent}` "
                       "copies every run that can still be read into a new store (keeping the damaged file beside "
                       "it), or give output.dir a new directory")


def recover(path: Path) -> tuple[int, Path]:
    """Copy the runs (and their predictions) that can still be read from a damaged store into a new one, keep the
    damaged file as results.damaged[-N].sqlite, and put the new store in its place. Returns (runs kept, where the
    damaged file went)."""
    path = Path(path)
    src = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    new_path = path.with_name(path.name + ".recovered")
    new_path.unlink(missing_ok=True)
    new = Store(new_path)
    kept = 0
    try:
        for row in _readable_rows(src, "runs"):
            run = dict(zip(_columns(src, "runs"), row))
            if run.get("status") != "done":
                continue
            try:  # predictions on a damaged page are left behind; the run's metrics are what reports read
                preds = src.execute("SELECT * FROM predictions WHERE run_id = ?", (run["run_id"],)).fetchall()
            except sqlite3.DatabaseError:
                preds = []
            with new.transaction() as db:
                db.execute(f"INSERT INTO runs ({', '.join(run)}) VALUES ({', '.join('?' * len(run))})", list(run.values()))
                db.executemany("INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?)", preds)
            kept += 1
        for key, value in _readable_rows(src, "meta"):
            with new.transaction() as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    finally:
        src.close()
        new.close()
    damaged = path.with_name("results.damaged.sqlite")
    n = 1
    while damaged.exists():
        damaged, n = path.with_name(f"results.damaged-{n}.sqlite"), n + 1
    os.replace(path, damaged)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.replace(new_path, path)
    return kept, damaged


def _columns(con, table: str) -> list[str]:
    try:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    except sqlite3.DatabaseError:
        return []


def _readable_rows(con, table: str):
    """The rows of `table` that can be read: all at once, else one rowid at a time around damaged pages."""
    try:
        yield from con.execute(f"SELECT * FROM {table}").fetchall()
        return
    except sqlite3.DatabaseError:
        pass
    misses, rowid = 0, 1
    while misses < 1000:
        try:
            row = con.execute(f"SELECT * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            row = None
        misses = 0 if row else misses + 1
        if row:
            yield row
        rowid += 1
