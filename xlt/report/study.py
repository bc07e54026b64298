"""The report of a study (several source sets or several models, xlt/protocol/study.py): each group's own
report, and on top the target-by-setting table of the source sets, the transfer matrix (a table and a
heatmap) when every source ran on its own, how much of each source a joint training set drew, and, with
several models, the models compared with paired tests."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from xlt.errors import XltError
from xlt.evaluate.compare import score
from xlt.evaluate.metrics import mean_sd
from xlt.protocol.strategies import is_reference, plain_transfer
from xlt.report.doc import Doc
from xlt.report.tables import BASELINE_NAMES, fmt, row_name, sort_key
from xlt.store import Store
from xlt.tasks import get_task


def study_runs(out: Path, study: dict) -> list[dict]:
    """Every finished run of every group, each with its group's name under "sources"."""
    runs = []
    for g in study["groups"]:
        db = out / g["folder"] / "results.sqlite"
        if not db.exists():
            continue
        store = Store(db)
        try:
            runs += [{**r, "sources": g["name"], "model_name": g.get("model")}
                     for r in store.runs("done")]
        finally:
            store.close()
    return runs


def build_study_report(out: Path, study: dict) -> tuple[Path, Path]:
    from xlt.report import build_report

    runs = study_runs(out, study)
    if not runs:
        raise XltError(f"{out}: no finished runs yet; run `xlt run CONFIG` first")
    for g in study["groups"]:
        if g["folder"] != "." and any(r["sources"] == g["name"] for r in runs):
            build_report(out / g["folder"])
    metric = get_task(study["task"]).metric_name
    doc = Doc(f"xlt report: {study['name']}")
    out_of = "leave-one-out: each target from every other language of the set, " if study["leave_one_out"] else ""
    kind = {"each": "every source language on its own (the transfer matrix)",
            "pooled": out_of + "one model from the sources pooled",
            "merge": out_of + "each source's own model, merged", "single": "one source"}[study["combine"]]
    models = study.get("models") or [None]
    sets = len({g["name"] for g in study["groups"]})
    doc.para(f"{sets} source set(s), {kind}" + (f"; {len(models)} models ({', '.join(models)})" if models[0] else "")
             + f"; {len(runs)} finished runs. Values are mean ± SD over seeds; test split of each target. Each "
             "source set's own report is in its folder.")
    for model in models:
        _method_sections(doc, [r for r in runs if r["model_name"] == model], study, metric, out, model)
    if len(models) > 1:
        _model_comparison(doc, runs, models, metric)
    shares = source_shares(runs)
    if shares:
        doc.section("What each joint training set drew from its sources")
        doc.table("Rows per source (drawn of available, share of the set)", ["Source set", "Source", "Rows",
                                                                            "Drawn", "Share"], shares)
    return doc.write(out)


def _method_sections(doc: Doc, runs: list[dict], study: dict, metric: str, out: Path, model: str | None) -> None:
    at = f", {model}" if model else ""
    for m in dict.fromkeys(r["method"] for r in runs):
        name = BASELINE_NAMES.get(m, m)
        doc.section(f"{metric} (test), {name}{at}")
        if study["combine"] != "each":
            doc.table(f"{metric} by target and setting, {name}{at}", *by_target(runs, m))
        else:
            header, rows, grid = matrix(runs, m)
            if rows:
                doc.table(f"Zero-shot {metric}, source (rows) to target (columns), {name}{at}", header, rows)
                doc.image(heatmap(grid, header[1:-1], [r[0] for r in rows], out / "figures",
                                  f"{model}-{m}" if model else m, metric), f"Zero-shot transfer matrix, {name}{at}")


def _model_comparison(doc: Doc, runs: list[dict], models: list[str], metric: str) -> None:
    """Each method's runs under every pair of models, paired by source set, language, setting and seed."""
    from xlt.report.tokens import comparison

    doc.section("Models compared")
    doc.para("Each pair of models ran the same runs on the same data. Permutation p: paired permutation test (sign "
             "flips of the differences, 9,999 resamples); t-test p: paired t-test; Cohen's d: mean difference over "
             "SD of the differences (d_z). The first block pairs every language x seed; the second pairs "
             "per-language seed means. Values in percent.")
    for m in dict.fromkeys(r["method"] for r in runs):
        # a model's name stands in the method column, so the method comparison pairs models
        mine = [{**r, "method": r["model_name"], "dataset": f"{r['sources']}:{r['dataset']}"} for r in runs
                if r["method"] == m]
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                header, rows = comparison(mine, a, b)
                if rows:
                    doc.table(f"{metric}: {a} vs {b}, {BASELINE_NAMES.get(m, m)}", header, rows)


def by_target(runs: list[dict], method: str) -> tuple[list[str], list[list[str]]]:
    """Target rows, setting columns (strategy and N); each target's source set named."""
    cells: dict = defaultdict(list)
    sets: dict = defaultdict(set)
    for r in runs:
        if r["method"] != method or is_reference(r["strategy"]):
            continue
        key = f"{r['dataset']}/{r['language']}"
        cells[(key, r["strategy"], r["n"], r["sources"])].append(score(r))
        sets[key].add(r["sources"])
    settings = sorted({(s, n) for (_, s, n, _) in cells}, key=lambda x: sort_key((None, *x)))
    header = ["Target", "Source set", *[row_name(s, n) for s, n in settings]]
    rows = []
    for key in sorted(sets):
        for src in sorted(sets[key]):
            rows.append([key, src, *[fmt(cells.get((key, s, n, src), [])) for s, n in settings]])
    if len(rows) > 1:
        means = [[mean_sd(cells[k])[0] for k in cells if (k[1], k[2]) == sn] for sn in settings]
        rows.append(["Mean over rows", "", *[f"{sum(v) / len(v):.2f}" if v else "" for v in means]])
    return header, rows


def matrix(runs: list[dict], method: str):
    """The zero-shot transfer matrix: source languages by target languages, with each source's mean."""
    cells: dict = defaultdict(list)
    transfer = plain_transfer()
    for r in runs:
        if r["method"] == method and r["strategy"] == transfer:
            cells[(r["sources"], r["language"])].append(score(r))
    sources = sorted({s for s, _ in cells})
    targets = sorted({t for _, t in cells})
    grid = [[mean_sd(cells[(s, t)])[0] if (s, t) in cells else None for t in targets] for s in sources]
    rows = []
    for s, line in zip(sources, grid):
        vals = [v for v in line if v is not None]
        rows.append([s, *[f"{v:.2f}" if v is not None else "" for v in line], f"{sum(vals) / len(vals):.2f}"])
    return ["Source \\ target", *targets, "Mean"], rows, grid


def heatmap(grid: list[list], targets: list[str], sources: list[str], fig_dir: Path, method: str,
            metric: str) -> Path | None:
    """The matrix as a PNG, rows sources and columns targets, each cell labelled with its score x 100."""
    if not grid:
        return None
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.array([[np.nan if v is None else v for v in row] for row in grid], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(targets), max(3.0, 1.0 + 0.45 * len(sources))))
    im = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(targets)), targets, rotation=60)
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    for i in range(len(sources)):
        for j in range(len(targets)):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{100 * values[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if values[i, j] < np.nanmean(values) else "black")
    fig.colorbar(im, ax=ax, label=textwrap.fill(f"zero-shot {metric}", 28))  # a long metric name stays inside
    fig.tight_layout()
    fig_dir.mkdir(parents=True, exist_ok=True)
    path = fig_dir / f"transfer_matrix_{method}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def source_shares(runs: list[dict]) -> list[list[str]]:
    seen: dict = {}
    for r in runs:
        for src, v in (r.get("train_info") or {}).get("sources", {}).items():
            seen[(r["sources"], src)] = v
    return [[s, src, str(v["rows"]), str(v["drawn"]), f"{100 * v['share']:.1f}%"] for (s, src), v in sorted(seen.items())]
