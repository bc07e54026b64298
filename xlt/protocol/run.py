"""Running a checked plan: each run trained as its strategy says, scored on its language's test split,
and recorded in the store in one transaction; finished runs are skipped, so an interrupted experiment
resumes where it stopped."""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from xlt.baselines import BASELINES, run_baseline
from xlt.config import PREPROCESS_ABLATION_DIR, Experiment
from xlt.evaluate.shortcuts import shortcut_report
from xlt.errors import XltError
from xlt.files import atomic_write_text, disk_full
from xlt.progress import Progress, stages_to
from xlt.protocol.adjust import adjust_predictions
from xlt.protocol.plan import check_experiment
from xlt.protocol.resume import finished_runs, rename_legacy
from xlt.protocol.stages import NO_SELECTION
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.study import check_study, source_groups, write_study
from xlt.report.model_card import write_model_card
from xlt.store import RunKey, Store, versions
from xlt.train import prediction_batch_size, use_bf16


def execute(ctx, key: RunKey) -> dict:
    """Train (as the strategy says) and evaluate one run, then record it in one transaction; returns its metrics."""
    ex, tr = ctx.exp, ctx.exp.training
    run_hash = ctx.run_hash(key)
    run_id = key.run_id(run_hash)
    target = ctx.data_for(key)
    ctx.store.mark_started(run_id, key, run_hash, {"experiment": ex.name, "model": ex.model_path()})
    t0 = time.perf_counter()
    trained = STRATEGIES.get(key.strategy).run(ctx, key)
    method, model, info = trained.method, trained.model, trained.info
    selection = NO_SELECTION if tr.patience == 0 else trained.selection
    info.update(method.record(sorted({ctx.source.language, target.language})))
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    test = STRATEGIES.get(key.strategy).test_rows(ctx, key)
    enc = ctx.encode(test)
    pred, probs = ctx.task.predict(model, ctx.tokenizer, enc, ctx.labels, prediction_batch_size(tr), use_bf16(tr.bf16),
                                   method.frozen_features)
    if ctx.task.sentence_head and not STRATEGIES.get(key.strategy).scores_source:
        adjusted, info["predictions"] = adjust_predictions(ctx, key, test, np.asarray(probs))
        probs, pred = adjusted.tolist(), [ctx.labels[i] for i in adjusted.argmax(1)]
    metrics = ctx.task.metrics(test, pred, ctx.labels, ex.collapse_recall, ctx.source.labels, enc)
    eval_seconds = time.perf_counter() - t1
    if key.strategy in ex.output.save_models:
        _save_model(ctx, key, method, model, metrics, trained.train_rows)
    preds = None
    if ex.output.save_predictions:
        gold = ctx.task.gold(test)
        preds = list(zip(gold, pred, probs if probs is not None else [[]] * len(pred)))
    ctx.store.finish(run_id, metrics, selection, train_seconds, eval_seconds, versions(), info, preds)
    return metrics


def run_one(ctx, key: RunKey) -> dict:
    """One planned run, a simple baseline's or a method's; returns its metrics."""
    return run_baseline(ctx, key) if key.method in BASELINES else execute(ctx, key)


def _save_model(ctx, key: RunKey, method, model, metrics: dict, train_rows: int) -> None:
    """A plain transformers directory (and model card), which exists only once it is complete."""
    ex = ctx.exp
    prefix = f"{key.method}-" if len(ex.method_list()) > 1 else ""
    name = f"{prefix}{key.strategy}{'-' + str(key.n) if key.n else ''}-{key.language}-seed{key.seed}"
    save_dir = ctx.out / "models" / name
    tmp = save_dir.with_name(save_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    method.save(model, ctx.tokenizer, tmp, {"xlt_text_prefix": ctx.spec.text_prefix, "xlt_notice": ex.notice or "",
                                            "xlt_task": ex.task})
    aligned = method.record([key.language]).get("alignment", {}).get(key.language)
    write_model_card(tmp, ex, ctx.task, key, metrics, ctx.source.key(), train_rows, aligned)
    shutil.rmtree(save_dir, ignore_errors=True)
    os.replace(tmp, save_dir)


def run_experiment(exp: Experiment, data_dir: str | None = None, output_dir: str | None = None, stream=None,
                   ray: str | None = None):
    """Run every planned run not already finished; returns the output directory. `stream` receives the plan
    and the progress (default: standard output). One process at a time writes an output folder (a lock
    file); a full disk ends in one error, the finished runs kept. Several source sets (`sources:` with
    leave-one-out or `combine: each`) or several `models:` run as a study: every group checked first, then
    each in its own sub-folder (xlt/protocol/study.py). `ray` ("local", "auto" or a cluster address) runs
    the runs as Ray tasks (xlt/protocol/on_ray.py); this process stays the single writer of each store."""
    groups = source_groups(exp)
    study = len(groups) > 1 or groups[0].folder is not None
    out = Path(output_dir or exp.output.dir)
    plans = check_study(groups, data_dir, out) if study else [check_experiment(groups[0].exp, data_dir, output_dir)]
    with _executor(ray) as run_plans:  # a cluster that cannot be reached fails here, before anything is written
        out.mkdir(parents=True, exist_ok=True)
        with output_lock(out):
            if study:
                _write_study(exp, groups, plans, out, stream)
            for p in plans:
                p.ctx.out.mkdir(parents=True, exist_ok=True)
            headers = [f"[{i}/{len(groups)}] " + (f"model {g.model}, " if g.model else "") + f"source set {g.name} -> "
                       + ", ".join(t.key() for t in p.ctx.targets)
                       for i, (g, p) in enumerate(zip(groups, plans), 1)] if study else [None]
            _guard_disk(out, lambda: run_plans(plans, headers, stream))
    exp = groups[0].exp
    if exp.ablate_preprocessing and not study:  # the second arm, in its own directory (own store, resumable)
        print(f"preprocessing ablation: the same runs without text rewriting, in {out / PREPROCESS_ABLATION_DIR}",
              file=stream)
        run_experiment(exp.without_text_cleaning(), data_dir, str(out / PREPROCESS_ABLATION_DIR), stream, ray)
    return out


@contextmanager
def _executor(ray: str | None):
    """How the plans' runs are executed: one after another here, or as tasks on a Ray cluster."""
    if ray is None:
        yield _run_sequentially
        return
    from xlt.protocol.on_ray import ray_session, run_on_ray

    with ray_session(ray):
        yield run_on_ray


def _write_study(exp: Experiment, groups: list, plans: list, out: Path, stream) -> None:
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False,
                                                                   allow_unicode=True))
    write_study(out, exp, groups)
    todo = sum(len(p.todo) for p in plans)
    what = "groups (models x source sets)" if exp.models else "source sets"
    print(f"{exp.name}: {len(groups)} {what}, {sum(len(p.keys) for p in plans)} runs ({todo} to run) in {out}",
          file=stream)


def _translation_meta(ctx) -> dict:
    """What tables name the translate rows by."""
    if ctx.translator is None:
        return {}
    return {"translator": ctx.translator.label(), "translate_with_source": ctx.exp.translation.with_source}


def _guard_disk(out: Path, work) -> None:
    """Run `work`; a full disk ends in one error that says the finished runs are kept."""
    try:
        work()
    except (OSError, sqlite3.OperationalError) as exc:
        if not disk_full(exc):
            raise
        raise XltError(f"no space left on the device while writing to {out}; free some space and run the "
                       "same command again: the finished runs are kept, the run in progress starts over") from None


def _run_sequentially(plans: list, headers: list, stream) -> None:
    for p, header in zip(plans, headers):
        if header:
            print(header, file=stream)
        store = open_store(p)
        try:
            progress = start_progress([p], p.ctx.task.metric_name, stream)
            with stages_to(progress.stream):
                for key in p.todo:
                    progress.start()
                    metrics = run_one(p.ctx, key)
                    progress.finished(key.label(), metrics)
            progress.close()
        finally:
            store.close()


def start_progress(plans: list, metric: str, stream) -> Progress:
    """The progress of these plans' unfinished runs, opened with each plan's summary."""
    progress = Progress(sum(len(p.todo) for p in plans), metric, stream)
    for p in plans:
        progress.write(p.summary())
        if len(p.todo) < len(p.keys):
            progress.write(f"resuming: {len(p.keys) - len(p.todo)} of {len(p.keys)} runs already finished")
    return progress


@contextmanager
def output_lock(out: Path):
    """Hold `out/.xlt.lock` while writing; a second `xlt run` on the same folder is refused, never interleaved."""
    path = out / ".xlt.lock"
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise XltError(f"{out} is being written by another xlt run ({holder}); wait for it to finish, or give "
                           "output.dir (or --output) another directory") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def open_store(p):
    """Write the data report, the resolved config and the store's description; returns the open store.

    Called once the config has passed every check, so a rejected config leaves no folder, or the old store
    and config as they were. Another process may have finished runs since the check: they are skipped."""
    exp, ctx, out = p.ctx.exp, p.ctx, p.ctx.out
    p.finished = finished_runs(ctx, p.keys, p.run_ids)[0]
    atomic_write_text(out / "data_report.txt", "\n".join(p.report))
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False, allow_unicode=True))
    ctx.store = Store(out / "results.sqlite")
    try:
        describe(p, ctx.store)
    except BaseException:
        ctx.store.close()
        raise
    return ctx.store


def describe(p, store) -> None:
    """The experiment's description in its store: labels, languages, methods, model, warnings, shortcuts."""
    exp, ctx = p.ctx.exp, p.ctx
    source, targets, labels, task = ctx.source, ctx.targets, ctx.labels, ctx.task
    methods = [m.name for m in exp.method_list()]
    rename_legacy(ctx, p.renamed)
    unseen = {t.key(): task.unseen_labels(source.labels, t) for t in targets}
    store.set_meta("experiment", {"name": exp.name, "labels": labels, "task": exp.task,
                                  "source": source.key(), "targets": [t.key() for t in targets],
                                  "source_shares": source.shares,
                                  "unseen_in_source": {k: v for k, v in unseen.items() if v},
                                  "notes": {d.key(): d.notes for d in [source, *targets]},
                                  "notice": exp.notice, "method": methods[0], "methods": methods, "model": exp.model_path(),
                                  "model_name": exp.model_name(),
                                  **_translation_meta(ctx),
                                  "positive_label": exp.positive_label or task.default_positive(labels),
                                  "warnings": [n.removeprefix("warning: ") for n in p.notes if n.startswith("warning: ")]})
    if task.data_kind == "text":
        store.set_meta("shortcuts", {d.key(): shortcut_report(d.language, d.splits,
                                                              exp.shortcut_keywords.get(d.language)).to_dict()
                                     for d in [source, *targets]})
