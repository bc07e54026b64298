"""The Python API: `xlt.run` runs a config and returns its results; `xlt.load` opens a saved model.

    import xlt
    results = xlt.run("examples/nusax/lora.yaml")          # or a dict, or an xlt.Experiment
    results.runs                                             # one row per finished run (pandas)
    model = xlt.load("runs/nusax-lora/models/full_shot-jav-seed0")
    model.predict(["aku seneng banget"]), model.predict_proba(["aku seneng banget"])
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xlt.config import Experiment, load_config, parse_config
from xlt.errors import XltError
from xlt.protocol.study import STUDY_FILE, read_study


@dataclass
class Results:
    """What a run of a config left behind: its finished runs as a table, and where the store and report are."""

    runs: pd.DataFrame  # one row per finished run: method, strategy, n, seed, dataset, language, score, metrics
    output_dir: Path
    store: Path  # results.sqlite (a study: its study.json, which lists each source set's folder)
    report: Path | None  # report.html (None when not built)
    report_markdown: Path | None

    @classmethod
    def from_dir(cls, output_dir: str | Path) -> "Results":
        """The results of an output directory written by `xlt run` (finished runs only)."""
        from xlt.store import Store

        out = Path(output_dir)
        study = read_study(out)
        if study is not None:  # several source sets or models: every group's runs, with a "sources" column
            from xlt.report.study import study_runs

            rows = study_runs(out, study)
            table = pd.DataFrame([{"sources": r["sources"], **_flat(r)} for r in rows],
                                 columns=["sources", *_COLUMNS] if not rows else None)
            html, md = out / "report.html", out / "report.md"
            return cls(table, out, out / STUDY_FILE, html if html.exists() else None, md if md.exists() else None)
        db = out / "results.sqlite"
        if not db.exists():
            raise XltError(f"{out} has no results.sqlite; give the output directory of an `xlt run`")
        store = Store(db)
        try:
            rows = store.runs("done")
        finally:
            store.close()
        table = pd.DataFrame([_flat(r) for r in rows], columns=_COLUMNS if not rows else None)
        html, md = out / "report.html", out / "report.md"
        return cls(table, out, db, html if html.exists() else None, md if md.exists() else None)

    def summary(self) -> pd.DataFrame:
        """Mean and SD of the score over seeds, per method, strategy, N and language."""
        keys = ["method", "strategy", "n", "dataset", "language"]
        return self.runs.groupby(keys, dropna=False)["score"].agg(["mean", "std", "count"]).reset_index()


_COLUMNS = ["model", "method", "strategy", "n", "seed", "dataset", "language", "score", "collapsed", "selection",
            "train_seconds", "eval_seconds", "run_id"]


def _flat(run: dict) -> dict:
    """One store row as a table row: the identifying columns, then every scalar metric."""
    from xlt.models.resolve import model_name

    m = run["metrics"]
    row = {k: run[k] for k in _COLUMNS if k in run}
    row["model"] = run.get("model_name") or model_name(run.get("model") or "")
    row["score"] = m.get("score", m.get("macro_f1"))
    row["collapsed"] = bool(m.get("collapsed"))
    row.update({k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                and k not in row})
    return row


def run(config: str | Path | dict | Experiment, *, data_dir: str | None = None, output_dir: str | None = None,
        report: bool = True, progress: bool = True, ray: str | None = None) -> Results:
    """Run every strategy, N, seed, target and method of `config` (a YAML path, a dict of the same keys, or
    an Experiment); finished runs in the output directory are skipped. Writes the report unless `report`
    is False; prints the plan and progress unless `progress` is False. `ray` ("local", "auto" or a cluster
    address) runs the runs as Ray tasks, as `xlt run --ray` does."""
    from xlt.protocol import run_experiment

    exp = _experiment(config)
    out = run_experiment(exp, data_dir, output_dir, None if progress else io.StringIO(), ray)
    if report:
        from xlt.report import build_report

        build_report(out)
    return Results.from_dir(out)


def _experiment(config) -> Experiment:
    if isinstance(config, Experiment):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise XltError(f"xlt.run takes a config path, a dict or an xlt.Experiment, not {type(config).__name__}")


def load(model_dir: str | Path, onnx: str | None = None):
    """A saved model directory as a predictor: `.predict(texts)`, `.predict_proba(texts)`, `.labels`;
    `onnx="int8"` runs its ONNX export (make it with `xlt export-onnx`)."""
    from xlt.serve.predict import Predictor

    return Predictor(model_dir, onnx=onnx)
