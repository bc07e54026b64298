"""Results out of xlt: a flat table of runs (CSV or JSON lines) for pandas and spreadsheets, and MLflow runs
for the tracking servers labs already use.

Each xlt run becomes one MLflow run in an experiment named after the config: its key (model, method,
strategy, N, seed, dataset, language) and settings as parameters, every scalar metric as a metric, and the
report as an artifact. Exporting again adds only runs not exported before (each carries its xlt run id
as a tag), so a growing study can be exported after every resume; an MLflow run left unfinished by an
interrupted export is deleted and written again, never counted as exported.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from xlt.errors import XltError
from xlt.files import atomic_write_text

KEY_COLUMNS = ("model", "sources", "method", "strategy", "n", "seed", "dataset", "language")


def run_table(run_dir: str | Path):
    """Every finished run of an output folder (a study's groups included) as a pandas table."""
    from xlt.api import Results

    return Results.from_dir(run_dir).runs


def write_table(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> tuple[Path, int]:
    """The run table as CSV or JSON lines, written atomically (default: runs.csv / runs.jsonl in the folder)."""
    if fmt not in ("csv", "jsonl"):
        raise XltError(f"unknown export format {fmt!r}; use csv, jsonl, transfer or mlflow")
    table = run_table(run_dir)
    path = Path(out) if out else Path(run_dir) / f"runs.{fmt}"
    text = table.to_csv(index=False) if fmt == "csv" else table.to_json(orient="records", lines=True)
    atomic_write_text(path, text)
    return path, len(table)


def write_transfer(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int]:
    """The run folder's single-source zero-shot scores (mean over seeds) as `source,target,score` rows, the
    CSV `xlt rank-sources --train-from` reads: a transfer matrix to share or to train a ranker elsewhere.
    Written atomically (default: transfer.csv in the folder)."""
    from xlt.ranking.results import measured_transfer

    measured = measured_transfer([Path(run_dir)])
    rows = [(s, t, v) for t, row in sorted(measured.items()) for s, v in sorted(row.items())]
    if not rows:
        raise XltError(f"{run_dir} holds no finished single-source zero-shot runs to export as transfer; run a "
                       "transfer matrix (sources with combine: each) or single-source zero-shot runs first")
    path = Path(out) if out else Path(run_dir) / "transfer.csv"
    atomic_write_text(path, "source,target,score\n" + "".join(f"{s},{t},{v:.6f}\n" for s, t, v in rows))
    return path, len(rows)


def to_mlflow(run_dir: str | Path, tracking_uri: str | None = None, experiment: str | None = None) -> dict:
    """Every finished run not yet exported, as an MLflow run; returns how many were written and skipped."""
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise XltError("xlt export mlflow needs MLflow: pip install 'xlt[mlflow]' (or mlflow)") from None
    import time

    from xlt.api import Results

    res = Results.from_dir(run_dir)
    resolved = Path(run_dir) / "config.resolved.yaml"
    name = experiment or _experiment_name(resolved, Path(run_dir))
    uri, artifacts = _tracking(Path(run_dir), tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    exp_id = found.experiment_id if found is not None else client.create_experiment(
        name, artifact_location=artifacts)
    done = set()
    for r in client.search_runs([exp_id], max_results=50_000):
        if r.info.status == "FINISHED":
            done.add(r.data.tags.get("xlt.run_id"))
        elif "xlt.run_id" in r.data.tags:  # an export cut off half-way: written again in full below
            client.delete_run(r.info.run_id)
    written = skipped = 0
    report = next((p for p in (res.report, res.report_markdown) if p is not None), None)
    for row in res.runs.to_dict("records"):
        if row["run_id"] in done:
            skipped += 1
            continue
        label = "/".join(str(row[k]) for k in KEY_COLUMNS if k in row and _present(row[k]))
        run = client.create_run(exp_id, run_name=label, tags={"xlt.run_id": row["run_id"]})
        now = int(time.time() * 1000)
        params = [Param(k, str(row[k])) for k in KEY_COLUMNS + ("selection",) if k in row and _present(row[k])]
        metrics = [Metric(k, float(v), now, 0) for k, v in row.items()
                   if k not in KEY_COLUMNS and isinstance(v, (int, float)) and not isinstance(v, bool)
                   and _present(v)]
        client.log_batch(run.info.run_id, metrics=metrics, params=params,
                         tags=[RunTag("mlflow.source.name", "xlt")])
        if resolved.exists():
            client.log_artifact(run.info.run_id, str(resolved))
        if report is not None:
            client.log_artifact(run.info.run_id, str(report))
        client.set_terminated(run.info.run_id)
        written += 1
    return {"experiment": name, "experiment_id": exp_id, "written": written, "skipped": skipped,
            "tracking_uri": client.tracking_uri}


def _tracking(run_dir: Path, uri: str | None) -> tuple[str, str | None]:
    """MLflow's tracking URI and, for the default store, where artifacts go.

    The default is MLflow's recommended SQLite backend inside the run folder (mlflow.db, artifacts in
    mlartifacts/). A plain folder or file: URI asks for MLflow's older file store, which it keeps only behind
    a switch; a user who names one explicitly gets it.
    """
    if uri is None:
        return f"sqlite:///{(run_dir / 'mlflow.db').resolve()}", (run_dir / "mlartifacts").resolve().as_uri()
    if "://" not in uri or uri.startswith("file:"):
        import os

        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri, None


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _experiment_name(resolved: Path, run_dir: Path) -> str:
    """The config's name, else the folder's."""
    import yaml

    if resolved.exists():
        name = (yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}).get("name")
        if name:
            return str(name)
    study = run_dir / "study.json"
    if study.exists():
        return json.loads(study.read_text())["name"]
    return run_dir.resolve().name
