"""Tables built from the store: the study's per-language layout (its Table 6), a language-by-strategy
summary, and transfer gaps. Values are mean ± SD over seeds."""
from __future__ import annotations

from collections import defaultdict
from contextvars import ContextVar

from xlt.evaluate.compare import score
from xlt.evaluate.metrics import bootstrap_ci, mean_sd
from xlt.protocol.strategies import STRATEGIES, is_reference, table_order

BASELINE_NAMES = {"tfidf-lr": "TF-IDF + LR", "embedding-lr": "Frozen embeddings + LR"}


# the experiment description of the report being written (a strategy may name its rows from it: the translator)
REPORT_META: ContextVar[dict] = ContextVar("report_meta", default={})


def row_name(strategy: str, n: int | None, method: str | None = None) -> str:
    name = STRATEGIES.get(strategy).row_name(n, REPORT_META.get())
    return f"{BASELINE_NAMES[method]}: {name}" if method in BASELINE_NAMES else name


def fmt(values: list[float], ci: bool = False) -> str:
    """mean, or mean ± SD over seeds; with ci, the 95% bootstrap interval of the mean as well (3+ seeds)."""
    if not values:
        return ""
    m, s = mean_sd(values)
    if len(values) == 1:
        return f"{m:.2f}"
    out = f"{m:.2f} ± {s:.2f}"
    if ci and len(values) >= 3:
        lo, hi = bootstrap_ci(values)
        out += f" [{lo:.2f}, {hi:.2f}]"
    return out


def group(runs: list[dict]) -> dict:
    """(dataset/language, strategy, n) -> list of runs over seeds (runs of one method)."""
    g = defaultdict(list)
    for r in runs:
        g[(f"{r['dataset']}/{r['language']}", r["strategy"], r["n"])].append(r)
    return g


def sort_key(item) -> tuple:
    (_, strategy, n) = item
    return table_order(strategy), n or 10**9


def _rows_for(runs: list[dict], language_key: str, main_method: str):
    """(method, strategy, n, runs over seeds) for one language: the main method first, then the others."""
    methods = [main_method] + sorted({r["method"] for r in runs} - {main_method})
    for m in methods:
        for (lang, strategy, n), rs in sorted(group([r for r in runs if r["method"] == m]).items(),
                                              key=lambda kv: sort_key(kv[0])):
            if lang == language_key:
                yield m, strategy, n, rs


def table6(runs: list[dict], language_key: str, labels: list[str], main_method: str) -> tuple[list[str], list[list[str]]]:
    """Rows = strategy and N (the method's, then the baselines'); columns = per-class recall and F1,
    macro precision and F1, accuracy."""
    header = ["Method"] + [f"{lab} {m}" for lab in labels for m in ("Recall", "F1")] + \
             ["Macro Precision", "Macro F1", "Accuracy", "Seeds", "Selection", "Collapsed"]
    rows = []
    for method, strategy, n, rs in _rows_for(runs, language_key, main_method):
        line = [row_name(strategy, n, method)]
        for lab in labels:
            for m in ("recall", "f1"):
                line.append(fmt([r["metrics"]["per_class"].get(lab, {}).get(m, 0.0) for r in rs]))
        line += [fmt([r["metrics"]["macro_precision"] for r in rs]), fmt([r["metrics"]["macro_f1"] for r in rs], ci=True),
                 fmt([r["metrics"]["accuracy"] for r in rs]), str(len(rs)), rs[0]["selection"] or "",
                 f"{sum(r['metrics']['collapsed'] for r in rs)}/{len(rs)}"]
        rows.append(line)
    return header, rows


def table5(runs: list[dict], language_key: str, positive: str, main_method: str) -> tuple[list[str], list[list[str]]]:
    """The study's Experiment 1 layout (its Table 5) for a binary task: accuracy, and precision, recall
    and F1 of the positive class, one row per strategy (the study's "Baseline" is target-only, its
    "Pre-trained" is full-shot transfer)."""
    header = ["Method", "Accuracy", f"Precision ({positive})", f"Recall ({positive})", f"F1 ({positive})", "Seeds"]
    rows = []
    for method, strategy, n, rs in _rows_for(runs, language_key, main_method):
        pc = [r["metrics"]["per_class"].get(positive, {}) for r in rs]
        rows.append([row_name(strategy, n, method), fmt([r["metrics"]["accuracy"] for r in rs]),
                     *[fmt([c.get(m, 0.0) for c in pc]) for m in ("precision", "recall", "f1")], str(len(rs))])
    return header, rows


def summary(runs: list[dict], languages: list[str]) -> tuple[list[str], list[list[str]]]:
    """Macro-F1, language by strategy, with the mean over target languages and its 95% bootstrap CI."""
    g = group(runs)
    cols = sorted({(s, n) for (_, s, n) in g if not is_reference(s)}, key=lambda sn: (table_order(sn[0]), sn[1] or 10**9))
    header = ["Language"] + [row_name(s, n) for s, n in cols]
    rows = []
    per_col = defaultdict(list)
    for lang in languages:
        line = [lang]
        for s, n in cols:
            vals = [score(r) for r in g.get((lang, s, n), [])]
            line.append(fmt(vals))
            if vals:
                per_col[(s, n)].append(mean_sd(vals)[0])
        rows.append(line)
    if len(languages) > 1:
        mean_line, ci_line = ["Mean over languages"], ["95% CI (bootstrap over languages)"]
        for col in cols:
            vals = per_col[col]
            mean_line.append(fmt(vals))
            lo, hi = bootstrap_ci(vals)
            ci_line.append("" if lo != lo else f"[{lo:.2f}, {hi:.2f}]")
        rows += [mean_line, ci_line]
    return header, rows


def transfer_gaps(runs: list[dict], source_key: str) -> dict[str, dict[str, float]]:
    """Source-language test score minus target score, per language and transfer strategy (seed means)."""
    g = group(runs)
    src = [score(r) for (lang, s, _n), rs in g.items() if lang == source_key and is_reference(s) for r in rs]
    if not src:
        return {}
    base = mean_sd(src)[0]
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (lang, s, n), rs in sorted(g.items(), key=lambda kv: sort_key(kv[0])):
        if STRATEGIES.get(s).from_source and not is_reference(s):
            out[lang][row_name(s, n)] = base - mean_sd([score(r) for r in rs])[0]
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
