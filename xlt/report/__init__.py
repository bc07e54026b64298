"""Reports: Markdown and a self-contained HTML page, rebuilt from the store alone.

`build_report` reads the finished runs and writes the sections in reading order: overview and
warnings, the language-by-strategy summary, then the sections the task names (`Task.report_sections`:
per-language tables, shortcut checks and the preprocessing ablation for classification; per-type
tables and the method comparison for token tasks), the methods' own set-up, then data notes.
"""
from __future__ import annotations

from pathlib import Path

from xlt.config import PREPROCESS_ABLATION_DIR
from xlt.errors import XltError
from xlt.report import plots, tokens
from xlt.report.ablation import ablation_table, ablation_test
from xlt.report.doc import Doc
from xlt.report.study import build_study_report
from xlt.protocol.study import read_study
from xlt.protocol.strategies import STRATEGIES, is_reference
from xlt.report.trust import trust_warnings
from xlt.report.tables import BASELINE_NAMES, REPORT_META, row_name, summary, table5, table6, transfer_gaps
from xlt.store import Store
from xlt.tasks import DEFAULT_TASK, get_task


def targets_of(runs: list[dict]) -> list[str]:
    """The target languages (dataset/language) runs were scored on, for stores without the list."""
    return sorted({f"{r['dataset']}/{r['language']}" for r in runs if not is_reference(r["strategy"])})


def _load(run_dir: Path) -> tuple[list[dict], dict, dict]:
    db = run_dir / "results.sqlite"
    if not db.exists():
        raise XltError(f"{run_dir} has no results.sqlite; give the output directory of an `xlt run`")
    store = Store(db)
    runs, meta, shortcuts = store.runs("done"), store.meta("experiment", {}), store.meta("shortcuts", {})
    store.close()
    return runs, meta, shortcuts


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write report.md and report.html (plus PNGs) into RUN_DIR; returns their paths."""
    run_dir = Path(run_dir)
    study = read_study(run_dir)
    if study is not None:  # several source sets, each in its own folder
        return build_study_report(run_dir, study)
    runs, meta, shortcuts = _load(run_dir)
    if not runs:
        raise XltError(f"{run_dir}: no finished runs yet; run `xlt run CONFIG` first")
    labels = meta.get("labels") or sorted({lab for r in runs for lab in r["metrics"]["labels"]})
    targets = meta.get("targets") or targets_of(runs)
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    task = get_task(meta.get("task") or DEFAULT_TASK)
    methods = meta.get("methods") or [meta.get("method") or runs[0]["method"]]
    methods = [m for m in methods if any(r["method"] == m for r in runs)] or [runs[0]["method"]]

    token = REPORT_META.set(meta)  # rows named from the experiment (translate rows name their translator)
    try:
        return _write(run_dir, runs, meta, shortcuts, labels, targets, fig_dir, task, methods)
    finally:
        REPORT_META.reset(token)


def _write(run_dir, runs, meta, shortcuts, labels, targets, fig_dir, task, methods) -> tuple[Path, Path]:
    metric = task.metric_name
    doc = Doc(f"xlt report: {meta.get('name', run_dir.name)}")
    _overview(doc, meta, runs)
    for warning in trust_warnings(runs, methods):
        doc.para(f"Warning: {warning}", warn=True)
    _summary(doc, runs, meta, targets, methods, metric, fig_dir)
    sections = {
        "per_language": lambda: _per_language(doc, runs, meta, targets, labels, methods[0], fig_dir),
        "binary": lambda: _binary(doc, runs, meta, targets, labels, methods[0]),
        "shortcuts": lambda: _shortcut_section(doc, shortcuts, runs, methods[0]),
        "ablation": lambda: _ablation_section(doc, run_dir, runs, methods),
        "methods_by_setting": lambda: _methods_by_setting(doc, runs, targets, methods, metric, fig_dir),
        "per_type": lambda: _per_type(doc, runs, meta, targets, methods),
    }
    for name in task.report_sections:
        sections[name]()
    _language_adapters(doc, runs)
    _alignment(doc, runs)
    _adjustments(doc, runs, methods)
    _translations(doc, runs)
    _data_notes(doc, meta)
    return doc.write(run_dir)


def mixed_code(runs: list[dict]) -> str | None:
    """What to say when one store's runs were made by different xlt code (a resumed store keeps finished runs
    whose settings have not changed, even where the code that made them has), or continued from source stages
    saved by other code (a stage is reused wherever its settings match); else None."""
    made_by: dict[str, int] = {}
    for r in runs:
        code = (r.get("versions") or {}).get("xlt_code", "unrecorded")
        made_by[code] = made_by.get(code, 0) + 1
    said = []
    if len(made_by) > 1:
        counts = ", ".join(f"{n} by {code}" for code, n in sorted(made_by.items(), key=lambda kv: -kv[1]))
        said.append(f"the runs were made by {len(made_by)} versions of xlt's code ({counts}; 'unrecorded': before "
                    "versions were fingerprinted). Resuming keeps finished runs whose settings match, even where the "
                    "code that made them has changed since")
    stale = sum(1 for r in runs if _stage_code(r) not in (None, (r.get("versions") or {}).get("xlt_code")))
    if stale:
        said.append(f"{stale} run(s) continued from source stages trained by other xlt code: a saved stage is "
                    "reused wherever its settings match")
    if not said:
        return None
    return "; ".join(said) + ". To compare like with like, run again into a new output.dir."


def _stage_code(run: dict) -> str | None:
    """The code fingerprint of the source stage a run continued from, where its record holds one."""
    info = run.get("train_info") or {}
    return (info.get("source_stage") or {}).get("xlt_code") or info.get("xlt_code")


def _overview(doc: Doc, meta: dict, runs: list[dict]) -> None:
    doc.para(f"Model {meta.get('model')}, method {', '.join(meta.get('methods') or [str(meta.get('method'))])}, "
             f"source {meta.get('source')}, {len(runs)} finished runs. Values are mean ± SD over seeds; test split "
             "of each language.")
    if meta.get("notice"):
        doc.para(f"Notice: {meta['notice']}", warn=True)
    if meta.get("source_shares"):
        doc.table("The joint source: rows drawn from each source (of those available, share of the set)",
                  ["Source", "Rows", "Drawn", "Share"],
                  [[k, str(v["rows"]), str(v["drawn"]), f"{100 * v['share']:.1f}%"]
                   for k, v in meta["source_shares"].items()])
    collapsed = [r for r in runs if r["metrics"].get("collapsed")]  # all methods: checked before filtering
    if collapsed:
        doc.para(f"Warning: {len(collapsed)} run(s) collapsed onto one class (recall below threshold or nearly all "
                 "predictions in one class); their scores are not a working classifier:", warn=True)
        for r in collapsed:
            doc.para(f"- {r['method']} {r['dataset']}/{r['language']} {r['strategy']}"
                     f"{' N=' + str(r['n']) if r['n'] else ''} seed {r['seed']}: {r['metrics']['collapse_reason']}", warn=True)
    for warning in meta.get("warnings") or []:
        doc.para(f"Warning: {warning}", warn=True)
    mixed = mixed_code(runs)
    if mixed:
        doc.para(f"Warning: {mixed}", warn=True)
    for key, unseen in (meta.get("unseen_in_source") or {}).items():
        doc.para(f"Note: {key} has labels the source never saw ({', '.join(unseen)}); zero-shot cannot predict them, "
                 "and scores over all gold tags count them as missed (the seen-type column excludes them).", warn=True)


def _summary(doc: Doc, all_runs: list[dict], meta: dict, targets: list[str], methods: list[str], metric: str,
             fig_dir: Path) -> None:
    doc.section(f"Summary: {metric}, language by strategy")
    for m in methods:
        doc.table(f"{metric} (test), {m}", *summary([r for r in all_runs if r["method"] == m], targets))
    for b in sorted({r["method"] for r in all_runs} - set(methods)):
        doc.table(f"{metric} (test), baseline {BASELINE_NAMES.get(b, b)}",
                  *summary([r for r in all_runs if r["method"] == b], targets))
    main = methods[0]
    gaps = transfer_gaps([r for r in all_runs if r["method"] == main], meta.get("source", ""))
    if gaps:
        cols = list(dict.fromkeys(s for v in gaps.values() for s in v))  # protocol order
        doc.table(f"Transfer gap, {main} (source-language score minus target score)", ["Language", *cols],
                  [[lang, *[f"{gaps[lang][c]:.2f}" if c in gaps[lang] else "" for c in cols]] for lang in sorted(gaps)])
    for m in methods:
        for p in plots.learning_curves([r for r in all_runs if r["method"] == m], fig_dir, metric,
                                       f"_{m}" if len(methods) > 1 else ""):
            doc.image(p, f"Learning curve, {m}: {p.stem.replace('learning_curve_', '')}")
    doc.image(plots.transfer_gap_bars(gaps, fig_dir), "Transfer gap by language")


def _per_language(doc: Doc, all_runs: list[dict], meta: dict, targets: list[str], labels: list[str],
                  main: str, fig_dir: Path) -> None:
    runs = [r for r in all_runs if r["method"] == main]
    doc.section("Per language (the Table 6 layout of Alakbarli et al., 2025)")
    for key in [meta.get("source", "")] + targets:
        header, rows = table6(all_runs, key, labels, main)
        if rows:
            doc.table(key, header, rows)
            doc.image(plots.confusion_matrices(runs, key, fig_dir), f"Confusion matrices, {key} (summed over seeds)")


def _binary(doc: Doc, all_runs: list[dict], meta: dict, targets: list[str], labels: list[str], main: str) -> None:
    positive = meta.get("positive_label")
    if positive and len(labels) == 2:
        doc.section(f"Binary scores (the Table 5 layout of Alakbarli et al., 2025), positive class '{positive}'")
        doc.para("The study's 'Baseline' row is the target-only model, its 'Pre-trained' row the full-shot transfer "
                 "model (English stage, then the target training set).")
        for key in [meta.get("source", "")] + targets:
            header, rows = table5(all_runs, key, positive, main)
            if rows:
                doc.table(key, header, rows)


def _ablation_section(doc: Doc, run_dir: Path, runs: list[dict], methods: list[str]) -> None:
    other = run_dir / PREPROCESS_ABLATION_DIR
    if not (other / "results.sqlite").exists():
        return
    without, _meta, _ = _load(other)
    header, rows = ablation_table(runs, without, [*methods, *sorted({r["method"] for r in runs} - set(methods))])
    if not rows:
        return
    doc.section("Preprocessing ablation: the same runs with and without text cleaning")
    doc.para(f"Without: the runs in {PREPROCESS_ABLATION_DIR}/, identical except that the text-rewriting steps "
             "(lower-casing, URL / handle / non-alphanumeric / stopword removal) are off. The short-post and "
             "duplicate filters decide the same way in both arms and identifier scrubbing stays on, so both arms "
             "train and test on the same posts (test n shown); only their text differs.")
    doc.table("Macro-F1 with and without cleaning", header, rows)
    for m in methods:
        t = ablation_test(runs, without, m)
        if t:
            doc.para(f"{m}: with - without = {t['mean_diff']:+.3f} macro-F1 over {t['n']} paired runs (language x "
                     f"setting x seed); permutation p {_p(t['p_permutation'])}, t-test p {_p(t['p_ttest'])}, "
                     f"Cohen's d_z = {t['cohens_d']:.2f}.")


def _p(p: float) -> str:
    """A p-value as papers print it: 3 decimals, or below the test's resolution."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _methods_by_setting(doc: Doc, runs: list[dict], targets: list[str], methods: list[str], metric: str,
                        fig_dir: Path) -> None:
    doc.section("Methods by setting (the Table 1 layout of Khademi & Moradi, 2024), percent")
    doc.table(f"{metric}, mean ± SD over seeds", *tokens.setting_by_method(runs, targets, methods))
    doc.image(tokens.heat_map(runs, targets, methods, fig_dir, f"{metric}, mean over seeds"), "Language by method")
    for other in methods[1:]:
        doc.table(f"Comparison {methods[0]} vs {other} (paired by language, setting and seed)",
                  *tokens.comparison(runs, methods[0], other))
        doc.para("Permutation p: paired permutation test (sign flips of the differences, 9,999 resamples); t-test p: "
                 "paired t-test; Cohen's d: mean difference over SD of the differences. The first block pairs every "
                 "language x seed; the second pairs per-language seed means.")


def _per_type(doc: Doc, runs: list[dict], meta: dict, targets: list[str], methods: list[str]) -> None:
    doc.section("Per type, per language")
    for key in [meta.get("source", "")] + targets:
        header, rows = tokens.per_type(runs, key, methods)
        if rows:
            doc.table(f"{key} (percent)", header, rows)


def _language_adapters(doc: Doc, runs: list[dict]) -> None:
    infos = {}
    for r in runs:
        for lang, info in (r.get("train_info") or {}).get("language_adapters", {}).items():
            infos[lang] = info
    if infos:
        doc.table("MAD-X language adapters (masked-LM training)",
                  ["Language", "Texts", "Steps", "MLM loss first", "MLM loss last", "Seconds", "MLM head"],
                  [[k, str(v["texts"]), str(v["steps"]), f"{v['mlm_loss_first']:.2f}", f"{v['mlm_loss_last']:.2f}",
                    f"{v['seconds']:.0f}", v.get("mlm_head", "")] for k, v in sorted(infos.items())])


def _alignment(doc: Doc, runs: list[dict]) -> None:
    """Which runs read target vectors mapped into the source language's space (the frozen method's align:), and
    each map: the default mean-centres zero-shot and self-training runs only."""
    maps: dict[tuple, dict] = {}
    strategies: dict[tuple, set] = {}
    for r in runs:
        for lang, info in ((r.get("train_info") or {}).get("alignment") or {}).items():
            maps[(r["method"], lang)] = info
            strategies.setdefault((r["method"], lang), set()).add(r["strategy"])
    if not maps:
        return
    rows = []
    for (method, lang), v in sorted(maps.items()):
        mapping = v["map"] if v["map"] != "none" else f"none ({v.get('note', '')})"
        pairs = f"{v['pairs']} ({v['parallel']})" if v.get("pairs") else "-"
        rows.append([lang, method, mapping, pairs, str(v.get("source_texts", "-")), str(v.get("target_texts", "-")),
                     ", ".join(sorted(strategies[(method, lang)]))])
    doc.table("Target vectors mapped into the source language's space (the frozen method's align:)",
              ["Language", "Method", "Map", "Parallel pairs", "Source texts", "Target texts", "Runs mapped"], rows)
    doc.para("The other runs on these languages read the vectors as they are (docs/alignment.md).")


def _shares(values, labels: list[str]) -> str:
    vals = [values.get(k, 0.0) for k in labels] if isinstance(values, dict) else values
    return " / ".join(f"{100 * v:.0f}" for v in vals)


def _adjustments(doc: Doc, runs: list[dict], methods: list[str]) -> None:
    """Class priors (training, EM-estimated for the target, predicted), what the protocol's levers did, and
    the few-shot choices (xlt/protocol/adjust.py, choice.py)."""
    rows, notes, choices = [], [], {}
    for r in sorted(runs, key=lambda r: (r["language"], r["strategy"], r["n"] or 0, r["seed"])):
        info = r.get("train_info") or {}
        pred = info.get("predictions") or {}
        if r["method"] in methods and pred.get("predicted_shares"):
            labels = list(pred["predicted_shares"])
            est = pred.get("label_shift") or pred.get("prior_estimate") or {}
            steps = [s for s in ("ensemble", "label_shift") if s in pred]
            if (pred.get("collapse_guard") or {}).get("fell_back"):
                steps.append("collapse guard")
            if (info.get("rare_class_guard") or {}).get("refit"):
                steps.append("rare-class guard")
            if (info.get("prior_matching") or {}).get("offsets"):
                steps.append("prior matching")
            rows.append([f"{r['dataset']}/{r['language']}", row_name(r["strategy"], r["n"]), str(r["seed"]),
                         "/".join(labels), _shares(pred.get("train_shares", {}), labels),
                         _shares(est.get("target_prior", []), labels), _shares(pred["predicted_shares"], labels),
                         ", ".join(steps) or "-"])
            where = f"{r['dataset']}/{r['language']} {row_name(r['strategy'], r['n'])} seed {r['seed']}"
            if "collapse_guard" in pred:
                notes.append(f"{where}: {pred['collapse_guard']['note']}")
            guard = info.get("rare_class_guard") or {}
            if guard.get("refit"):
                notes.append(f"{where}: the few-shot model predicted {', '.join(guard['starved'])} for under "
                             f"{guard['ratio']:.0%} of its share among the shots on the target's other texts; "
                             "it was refitted with class-weighted loss (protocol.rare_class_guard)")
            matching = info.get("prior_matching") or {}
            if max(map(abs, matching.get("offsets") or [0])) >= 0.5:  # a move worth reading about
                moved = ", ".join(f"{lab} {off:+.2f}" for lab, off in zip(matching["shot_shares"],
                                                                          matching["offsets"]) if off)
                notes.append(f"{where}: prior matching moved the head's class biases by {moved} (log-odds; "
                             f"{matching['strength']:.0%} of the move that gives the shots' class mix on "
                             f"{matching['texts']} target texts)")
        if "few_shot_choice" in info:
            choices.setdefault(row_name(r["strategy"], r["n"]), []).append(info["few_shot_choice"]["chosen"])
    if rows:
        doc.section("Class priors and robustness levers")
        doc.para("Percent of each class: in the rows the run trained on, as EM estimates it for the target from the "
                 "texts being scored (labels unread; applied only with protocol.label_shift: em), and as predicted. "
                 "Levers: the protocol settings that changed the predictions (the rare-class guard: a few-shot "
                 "model refitted with class weights).")
        doc.table("Class shares", ["Language", "Setting", "Seed", "Classes", "Training", "Target (EM estimate)",
                                   "Predicted", "Levers"], rows)
    for n in notes:
        doc.para(f"Note: {n}", warn=True)
    if choices:
        doc.table("Few-shot choice by cross-validation on the shots (runs that kept each model)",
                  ["Setting", "Few-shot model", "Average", "Zero-shot model"],
                  [[k, *[str(v.count(c)) for c in ("few_shot", "average", "zero_shot")]] for k, v in choices.items()])


def _translations(doc: Doc, runs: list[dict]) -> None:
    """What each translated split cost: texts, cache hits, translation throughput (the first run that
    translated it; later runs read the cache)."""
    seen: dict[str, list[str]] = {}
    for r in runs:
        info = (r.get("train_info") or {}).get("translation") or {}
        for part, st in info.items():
            if isinstance(st, dict) and part not in seen:
                rate = st.get("texts_per_second")
                seen[part] = [part.replace("_", " ", 1).replace("_to_", " -> "), info.get("translator", ""),
                              str(st["texts"]), str(st["cache_hits"]), str(st["translated"]),
                              f"{st['translate_seconds']:.1f}", f"{rate:.0f}" if rate else "-",
                              info.get("version", "")]
    if seen:
        doc.table("Translation (translate-test and translate-train)",
                  ["Split", "Translator", "Texts", "Cache hits", "Translated", "Seconds", "Texts/s", "Version"],
                  list(seen.values()))


def _data_notes(doc: Doc, meta: dict) -> None:
    notes = meta.get("notes") or {}
    if notes:
        doc.section("Data notes")
        for key, ns in notes.items():
            for n in ns:
                doc.para(f"{key}: {n}")


def _in_language_f1(runs: list[dict], key: str, method: str) -> float | None:
    """Best seed-mean macro-F1 of `method` among strategies that trained on this language's data."""
    from xlt.evaluate.metrics import mean_sd
    from xlt.report.tables import group

    g = group([r for r in runs if r["method"] == method])
    vals = [mean_sd([r["metrics"]["macro_f1"] for r in rs])[0] for (lang, s, _n), rs in g.items()
            if lang == key and (STRATEGIES.get(s).scores_source or STRATEGIES.get(s).needs_target_train)]
    return max(vals) if vals else None


def _shortcut_section(doc: Doc, shortcuts: dict, runs: list[dict], main: str) -> None:
    from xlt.evaluate.shortcuts import verdict

    if not shortcuts:
        return
    doc.section("Shortcut and leakage checks")
    doc.para("Can a keyword, the text length or a bag of words alone do what the model does? Model F1 is the best "
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
    doc.table("Shortcut statistics", header, rows)
    for w in warnings:
        doc.para(f"Warning: {w}", warn=True)
    for key, rep in shortcuts.items():
        top_rows = [[lab, ", ".join(f"{s['token']} ({s['precision']:.2f}, {s['coverage']:.0%})" for s in stats[:6])]
                    for lab, stats in rep["top_tokens"].items()]
        doc.table(f"{key}: most predictive tokens per class (precision, share of the class's train texts)",
                  ["Class", "Tokens"], top_rows)
