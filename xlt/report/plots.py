"""Plots from the store: learning curves over N, confusion matrices, transfer-gap bars."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from xlt.evaluate.compare import score  # noqa: E402
from xlt.evaluate.metrics import mean_sd  # noqa: E402
from xlt.protocol.strategies import is_reference, ordered  # noqa: E402
from xlt.report.tables import group, row_name, sort_key  # noqa: E402


STYLE_NAMES = {":": "dotted", "--": "dashed", "-.": "dash-dot", "-": "solid", (0, (3, 1, 1, 1, 1, 1)): "dash-dot-dot",
               (0, (5, 5)): "loosely dashed"}


def learning_curves(runs: list[dict], out_dir: Path, metric: str = "macro-F1", suffix: str = "") -> list[Path]:
    """One PNG per target dataset: the score against N for strategies with shots, and the strategies that
    declare a line style (zero-shot, full-shot, target-only) as reference lines."""
    g = group(runs)
    curves = [s for s in ordered() if s.uses_shots]
    lines = [s for s in ordered() if s.line_style]
    by_dataset = defaultdict(set)
    for (lang, s, _n) in g:
        if not is_reference(s):
            by_dataset[lang.split("/")[0]].add(lang)
    paths = []
    for dataset, langs in sorted(by_dataset.items()):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, lang in enumerate(sorted(langs)):
            color = f"C{i % 10}"
            for curve in curves:
                pts = sorted((n, [score(r) for r in rs]) for (l2, s, n), rs in g.items() if l2 == lang and s == curve.name)
                if pts:
                    ns = [p[0] for p in pts]
                    ms = [mean_sd(v) for _, v in pts]
                    ax.errorbar(ns, [m for m, _ in ms], yerr=[s for _, s in ms], marker=curve.curve_marker,
                                linestyle=curve.curve_line, color=color, capsize=3,
                                label=f"{lang.split('/')[1]} {curve.name.replace('_', '-')}")
            for strategy in lines:
                rs = g.get((lang, strategy.name, None))
                if rs:
                    ax.axhline(mean_sd([score(r) for r in rs])[0], color=color, linestyle=strategy.line_style,
                               linewidth=1)
        ax.set_xscale("log")
        shots = sorted({n for (_l, s, n) in g if n and s in {c.name for c in curves}})
        if shots:
            ax.set_xticks(shots, [str(n) for n in shots])
            ax.minorticks_off()
        ax.set_xlabel("target training examples N (log scale)")
        ax.set_ylabel(f"{metric} (test)")
        shown = ", ".join(f"{STYLE_NAMES.get(s.line_style, s.line_style)}: {s.name.replace('_', '-')}" for s in lines
                          if any(k[1] == s.name for k in g))
        ax.set_title(f"{dataset}: few-shot learning curves" + (f"\n({shown})" if shown else ""))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"learning_curve_{dataset}{suffix}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def confusion_matrices(runs: list[dict], language_key: str, out_dir: Path) -> Path | None:
    """One figure per language: a confusion matrix (summed over seeds) per strategy."""
    g = {k: v for k, v in group(runs).items() if k[0] == language_key}
    if not g:
        return None
    items = sorted(g.items(), key=lambda kv: sort_key(kv[0]))
    cols = min(4, len(items))
    rows = int(np.ceil(len(items) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, ((_, s, n), rs) in zip(axes.flat, items):
        labels = rs[0]["metrics"]["labels"]
        cm = np.sum([np.array(r["metrics"]["confusion"]) for r in rs if r["metrics"]["labels"] == labels], axis=0)
        ax.axis("on")
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, int(v), ha="center", va="center", fontsize=8, color="black" if v < cm.max() / 2 else "white")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(row_name(s, n), fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("gold", fontsize=7)
    fig.tight_layout()
    path = out_dir / f"confusion_{language_key.replace('/', '_')}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def transfer_gap_bars(gaps: dict[str, dict[str, float]], out_dir: Path) -> Path | None:
    if not gaps:
        return None
    langs = sorted(gaps)
    strategies = list(dict.fromkeys(s for v in gaps.values() for s in v))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(langs) * max(1, len(strategies)) / 2), 4))
    width = 0.8 / len(strategies)
    for i, s in enumerate(strategies):
        ax.bar(np.arange(len(langs)) + i * width, [gaps[lang].get(s, np.nan) for lang in langs], width, label=s)
    ax.set_xticks(np.arange(len(langs)) + 0.4 - width / 2, [lang.split("/")[1] for lang in langs])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("source F1 - target F1 (macro)")
    ax.set_title("Transfer gap (lower is better)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "transfer_gap.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
