"""Report sections for token tasks (NER, POS): per-type scores, a language-by-method heat map, and
the method comparison in the layout of Khademi & Moradi (2024) (setting x model rows, mean ± SD per language,
then mean difference with permutation and t-test p-values and Cohen's d)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from xlt.evaluate.compare import compare_methods, score  # noqa: E402
from xlt.evaluate.metrics import mean_sd  # noqa: E402
from xlt.protocol.strategies import is_reference, table_order  # noqa: E402
from xlt.report.tables import row_name  # noqa: E402

PCT = 100.0  # token scores are shown in percent, as the papers do


def pct(values: list[float]) -> str:
    """Percent with one decimal: mean, or mean ± SD over seeds."""
    vals = [v * PCT for v in values if v == v]
    if not vals:
        return ""
    m, sd = mean_sd(vals)
    return f"{m:.1f}" if len(vals) == 1 else f"{m:.1f} ± {sd:.1f}"


def _settings(runs: list[dict]) -> list[tuple[str, int | None]]:
    return sorted({(r["strategy"], r["n"]) for r in runs if not is_reference(r["strategy"])},
                  key=lambda sn: (table_order(sn[0]), sn[1] or 0))


def setting_by_method(runs: list[dict], languages: list[str], methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Rows = setting x method; columns = languages and their mean (mean ± SD over seeds, percent)."""
    g = defaultdict(list)
    for r in runs:
        g[(r["strategy"], r["n"], r["method"], f"{r['dataset']}/{r['language']}")].append(score(r))
    header = ["Setting", "Method"] + [lang.split("/")[-1] for lang in languages] + ["Mean over languages"]
    rows = []
    for s, n in _settings(runs):
        for m in methods:
            cells = [pct(g.get((s, n, m, lang), [])) for lang in languages]
            means = [np.mean(g[(s, n, m, lang)]) for lang in languages if g.get((s, n, m, lang))]
            rows.append([row_name(s, n), m, *cells, pct(means)])
    return header, rows


def per_type(runs: list[dict], language: str, methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Per entity type (or tag) F1 for one language, every setting and method."""
    mine = [r for r in runs if f"{r['dataset']}/{r['language']}" == language]
    types = sorted({t for r in mine for t in r["metrics"].get("per_type", {})})
    ner = any("f1" in r["metrics"] and "precision" in r["metrics"] for r in mine)
    header = ["Setting", "Method", *[f"{t} F1" for t in types]]
    header += ["Precision", "Recall", "Entity F1", "Seen-type F1"] if ner else ["Accuracy", "Macro-F1 over tags"]
    header += ["Seeds", "Collapsed"]
    rows = []
    settings = sorted({(r["strategy"], r["n"]) for r in mine}, key=lambda sn: (table_order(sn[0]), sn[1] or 0))
    for s, n in settings:
        for m in methods:
            rs = [r for r in mine if (r["strategy"], r["n"], r["method"]) == (s, n, m)]
            if not rs:
                continue
            cells = [pct([r["metrics"]["per_type"].get(t, {}).get("f1", 0.0) for r in rs]) for t in types]
            if ner:
                seen = [r["metrics"]["seen_types_f1"] for r in rs if "seen_types_f1" in r["metrics"]]
                cells += [pct([r["metrics"]["precision"] for r in rs]), pct([r["metrics"]["recall"] for r in rs]),
                          pct([score(r) for r in rs]), pct(seen)]
            else:
                cells += [pct([score(r) for r in rs]), pct([r["metrics"]["macro_f1"] for r in rs])]
            rows.append([row_name(s, n), m, *cells, str(len(rs)), f"{sum(r['metrics']['collapsed'] for r in rs)}/{len(rs)}"])
    return header, rows


def comparison(runs: list[dict], a: str, b: str) -> tuple[list[str], list[list[str]]]:
    header = ["Setting", "Languages x seeds", f"{a} mean", f"{b} mean", f"{a} - {b}", "Permutation p", "t-test p",
              "Cohen's d", "Over language means: diff", "p (perm.)", "d"]
    rows = []
    for c in compare_methods(runs, a, b):
        p, lm = c["pairs"], c["language_means"]
        rows.append([row_name(c["strategy"], c["n"]), f"{c['languages']} x {c['seeds']}", f"{p['mean_a'] * PCT:.1f}",
                     f"{p['mean_b'] * PCT:.1f}", f"{p['mean_diff'] * PCT:+.1f}", f"{p['p_permutation']:.4f}",
                     f"{p['p_ttest']:.4f}", f"{p['cohens_d']:.2f}", f"{lm['mean_diff'] * PCT:+.1f}",
                     f"{lm['p_permutation']:.4f}", f"{lm['cohens_d']:.2f}"])
    return header, rows


def heat_map(runs: list[dict], languages: list[str], methods: list[str], out_dir: Path, title: str) -> Path | None:
    """Language x (method, setting) mean score, one image."""
    cols = [(m, s, n) for s, n in _settings(runs) for m in methods]
    if not cols or not languages:
        return None
    g = defaultdict(list)
    for r in runs:
        g[(r["method"], r["strategy"], r["n"], f"{r['dataset']}/{r['language']}")].append(score(r))
    data = np.array([[np.mean(g[(m, s, n, lang)]) * PCT if g.get((m, s, n, lang)) else np.nan for (m, s, n) in cols]
                     for lang in languages])
    fig, ax = plt.subplots(figsize=(1.3 * len(cols) + 2, 0.45 * len(languages) + 1.8))
    im = ax.imshow(data, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{m}\n{row_name(s, n).replace(' (transfer)', '')}" for m, s, n in cols], fontsize=8)
    ax.set_yticks(range(len(languages)), [lang.split("/")[-1] for lang in languages])
    for i in range(len(languages)):
        for j in range(len(cols)):
            if not np.isnan(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if data[i, j] < np.nanmean(data) else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    fig.tight_layout()
    path = out_dir / "heatmap_language_by_method.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
