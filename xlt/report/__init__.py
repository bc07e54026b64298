"""Reports: Markdown and a self-contained HTML page, rebuilt from the store alone."""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from xlt.errors import XltError
from xlt.files import atomic_write_text
from xlt.report import plots, tokens
from xlt.report.tables import BASELINE_NAMES, html_table, markdown_table, summary, table6, transfer_gaps
from xlt.store import Store

CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
       "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
       "td:first-child,th:first-child{text-align:left}.warn{background:#fff3cd;padding:.6em;border-left:4px solid #e0a800}"
       "img{max-width:100%}")


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write report.md and report.html (plus PNGs) into RUN_DIR; returns their paths."""
    run_dir = Path(run_dir)
    db = run_dir / "results.sqlite"
    if not db.exists():
        raise XltError(f"{run_dir} has no results.sqlite; give the output directory of an `xlt run`")
    store = Store(db)
    runs = store.runs("done")
    meta = store.meta("experiment", {})
    store_meta_shortcuts = store.meta("shortcuts", {})
    store.close()
    if not runs:
        raise XltError(f"{run_dir}: no finished runs yet; run `xlt run CONFIG` first")
    labels = meta.get("labels") or sorted({lab for r in runs for lab in r["metrics"]["labels"]})
    targets = meta.get("targets") or sorted({f"{r['dataset']}/{r['language']}" for r in runs if r["strategy"] != "source"})
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)

    md, html = [f"# xlt report: {meta.get('name', run_dir.name)}"], [f"<h1>xlt report: {escape(meta.get('name', run_dir.name))}</h1>"]

    def para(text: str, cls: str = "") -> None:
        md.append(text + "\n")
        html.append(f"<p class='{cls}'>{escape(text)}</p>")

    def table(title: str, header, rows) -> None:
        md.extend([f"\n### {title}\n", markdown_table(header, rows)])
        html.extend([f"<h3>{escape(title)}</h3>", html_table(header, rows)])

    def image(path: Path | None, caption: str) -> None:
        if path is None:
            return
        md.append(f"\n![{caption}](figures/{path.name})")
        data = base64.b64encode(path.read_bytes()).decode()
        html.append(f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,{data}'><figcaption>{escape(caption)}</figcaption></figure>")

    para(f"Model {meta.get('model')}, method {', '.join(meta.get('methods') or [str(meta.get('method'))])}, source {meta.get('source')}, "
         f"{len(runs)} finished runs. Values are mean ± SD over seeds; test split of each language.")
    if meta.get("notice"):
        para(f"Notice: {meta['notice']}", "warn")
    collapsed = [r for r in runs if r["metrics"].get("collapsed")]  # all methods: checked before filtering
    if collapsed:
        para(f"Warning: {len(collapsed)} run(s) collapsed onto one class (recall below threshold or nearly all "
             "predictions in one class); their scores are not a working classifier:", "warn")
        for r in collapsed:
            para(f"- {r['method']} {r['dataset']}/{r['language']} {r['strategy']}{' N=' + str(r['n']) if r['n'] else ''} "
                 f"seed {r['seed']}: {r['metrics']['collapse_reason']}", "warn")
    for key, unseen in (meta.get("unseen_in_source") or {}).items():
        para(f"Note: {key} has labels the source never saw ({', '.join(unseen)}); zero-shot cannot predict them, and "
             "scores over all gold tags count them as missed (the seen-type column excludes them).", "warn")

    task = meta.get("task", "classification")
    metric = {"classification": "Macro-F1", "ner": "Entity F1 (strict IOB2, all gold tags)", "pos": "Accuracy"}[task]
    methods = meta.get("methods") or [meta.get("method") or runs[0]["method"]]
    methods = [m for m in methods if any(r["method"] == m for r in runs)] or [runs[0]["method"]]
    main = methods[0]
    all_runs, runs = runs, [r for r in runs if r["method"] == main]
    md.append(f"\n## Summary: {metric}, language by strategy")
    html.append(f"<h2>Summary: {escape(metric)}, language by strategy</h2>")
    for m in methods:
        table(f"{metric} (test), {m}", *summary([r for r in all_runs if r["method"] == m], targets))
    for b in sorted({r["method"] for r in all_runs} - set(methods)):
        table(f"{metric} (test), baseline {BASELINE_NAMES.get(b, b)}", *summary([r for r in all_runs if r["method"] == b], targets))
    gaps = transfer_gaps(runs, meta.get("source", ""))
    if gaps:
        cols = list(dict.fromkeys(s for v in gaps.values() for s in v))  # protocol order
        table(f"Transfer gap, {main} (source-language score minus target score)", ["Language", *cols],
              [[lang, *[f"{gaps[lang][c]:.2f}" if c in gaps[lang] else "" for c in cols]] for lang in sorted(gaps)])
    for m in methods:
        for p in plots.learning_curves([r for r in all_runs if r["method"] == m], fig_dir, metric,
                                       f"_{m}" if len(methods) > 1 else ""):
            image(p, f"Learning curve, {m}: {p.stem.replace('learning_curve_', '')}")
    image(plots.transfer_gap_bars(gaps, fig_dir), "Transfer gap by language")
    if task != "classification":
        _token_sections(all_runs, meta, targets, methods, metric, fig_dir, table, para, image, md, html)
        return _write(run_dir, md, html)

    md.append("\n## Per language (the study's Table 6 layout)")
    html.append("<h2>Per language (the study's Table 6 layout)</h2>")
    for key in [meta.get("source", "")] + targets:
        header, rows = table6(all_runs, key, labels, main)
        if not rows:
            continue
        table(key, header, rows)
        image(plots.confusion_matrices(runs, key, fig_dir), f"Confusion matrices, {key} (summed over seeds)")
    _shortcut_section(store_meta_shortcuts, all_runs, main, table, para, md, html)
    _data_notes(meta, md, html, para)
    return _write(run_dir, md, html)


def _token_sections(runs, meta, targets, methods, metric, fig_dir, table, para, image, md, html) -> None:
    md.append("\n## Methods by setting (the seed-003 study's Table 1 layout), percent")
    html.append("<h2>Methods by setting (the seed-003 study's Table 1 layout), percent</h2>")
    table(f"{metric}, mean ± SD over seeds", *tokens.setting_by_method(runs, targets, methods))
    image(tokens.heat_map(runs, targets, methods, fig_dir, f"{metric}, mean over seeds"), "Language by method")
    for other in methods[1:]:
        table(f"Comparison {methods[0]} vs {other} (paired by language, setting and seed)",
              *tokens.comparison(runs, methods[0], other))
        para("Permutation p: paired permutation test (sign flips of the differences, 9,999 resamples); t-test p: "
             "paired t-test; Cohen's d: mean difference over SD of the differences. The first block pairs every "
             "language x seed; the second pairs per-language seed means.")
    md.append("\n## Per type, per language")
    html.append("<h2>Per type, per language</h2>")
    for key in [meta.get("source", "")] + targets:
        header, rows = tokens.per_type(runs, key, methods)
        if rows:
            table(f"{key} (percent)", header, rows)
    infos = {}
    for r in runs:
        for lang, info in (r.get("train_info") or {}).get("language_adapters", {}).items():
            infos[lang] = info
    if infos:
        table("MAD-X language adapters (masked-LM training)", ["Language", "Texts", "Steps", "MLM loss first", "MLM loss last",
                                                               "Seconds", "MLM head"],
              [[k, str(v["texts"]), str(v["steps"]), f"{v['mlm_loss_first']:.2f}", f"{v['mlm_loss_last']:.2f}",
                f"{v['seconds']:.0f}", v.get("mlm_head", "")] for k, v in sorted(infos.items())])
    _data_notes(meta, md, html, para)


def _data_notes(meta: dict, md: list[str], html: list[str], para) -> None:
    notes = meta.get("notes") or {}
    if notes:
        md.append("\n## Data notes")
        html.append("<h2>Data notes</h2>")
        for key, ns in notes.items():
            for n in ns:
                para(f"{key}: {n}")


def _write(run_dir: Path, md: list[str], html: list[str]) -> tuple[Path, Path]:
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    atomic_write_text(md_path, "\n".join(md) + "\n")
    atomic_write_text(html_path, f"<!doctype html><html><head><meta charset='utf-8'><title>xlt report</title>"
                         f"<style>{CSS}</style></head><body>{''.join(html)}</body></html>")
    return md_path, html_path


def _in_language_f1(runs: list[dict], key: str, method: str) -> float | None:
    """Best seed-mean macro-F1 of `method` among strategies that trained on this language's data."""
    from xlt.evaluate.metrics import mean_sd
    from xlt.report.tables import group

    g = group([r for r in runs if r["method"] == method])
    vals = [mean_sd([r["metrics"]["macro_f1"] for r in rs])[0] for (lang, s, _n), rs in g.items()
            if lang == key and s in ("source", "target_only", "few_shot", "full_shot", "joint")]
    return max(vals) if vals else None


def _shortcut_section(shortcuts: dict, runs: list[dict], main: str, table, para, md, html) -> None:
    from xlt.evaluate.shortcuts import verdict

    if not shortcuts:
        return
    md.append("\n## Shortcut and leakage checks")
    html.append("<h2>Shortcut and leakage checks</h2>")
    para("Can a keyword, the text length or a bag of words alone do what the model does? Model F1 is the best "
         "in-language score of the method; keyword and length rules are fitted on train and scored on test.")
    header = ["Language", "Keyword", "Keyword share by class (test)", "Keyword-rule F1", "Length-only F1",
              "Median words by class", "TF-IDF + LR F1", f"Model ({main}) F1", "Train/test duplicates"]
    rows, warnings = [], []
    for key, rep in shortcuts.items():
        model_f1 = _in_language_f1(runs, key, main)
        bow = _in_language_f1(runs, key, "tfidf-lr")
        f = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        rows.append([key, str(rep.get("keyword")), ", ".join(f"{k} {v:.0%}" for k, v in rep["keyword_share"].items()),
                     f(rep.get("keyword_rule_f1")), f(rep.get("length_only_f1")),
                     ", ".join(f"{k} {v:g}" for k, v in rep["median_words"].items()), f(bow), f(model_f1),
                     str(rep["duplicates_train_test"])])
        warnings += [f"{key}: {w}" for w in verdict(rep, model_f1, bow)]
    table("Shortcut statistics", header, rows)
    for w in warnings:
        para(f"Warning: {w}", "warn")
    for key, rep in shortcuts.items():
        top_rows = [[lab, ", ".join(f"{s['token']} ({s['precision']:.2f}, {s['coverage']:.0%})" for s in stats[:6])]
                    for lab, stats in rep["top_tokens"].items()]
        table(f"{key}: most predictive tokens per class (precision, share of the class's train texts)",
              ["Class", "Tokens"], top_rows)
