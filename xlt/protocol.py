"""The protocol: what is trained on what. Strategies:

- target_only: a fresh model on the target's full training set (the monolingual baseline)
- zero_shot:   the source-trained model applied to the target as is
- few_shot:    the source-trained model continued on N target examples (nested, stratified, seeded)
- self_training, few_shot_self_training: zero- and few-shot that also read unlabelled target text
- full_shot:   the source-trained model continued on the full target training set
- joint:       a fresh model on source and target training data together

The source stage is trained once per seed and reused by every strategy and target that needs it
(saved atomically under stages/, so an interrupted experiment does not retrain it). The protocol
decides what to train; methods decide how; the evaluator never knows how a model was trained.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from safetensors.torch import load_file
from tqdm.auto import tqdm

from xlt.config import PREPROCESS_ABLATION_DIR, Experiment
from xlt.data.code_switch import code_switch, load_dictionaries
from xlt.data.examples import Example, LanguageData
from xlt.data.load import load_language
from xlt.data.silver_dates import silver_tags_for
from xlt.data.splits import k_shot
from xlt.errors import XltError
from xlt.files import atomic_save_tensors, atomic_write_text
from xlt.baselines import BASELINES, run_baseline
from xlt.evaluate.shortcuts import shortcut_report
from xlt.methods import get_method
from xlt.methods.madx import LanguageAdapters
from xlt.models import resolve
from xlt.report.model_card import write_model_card
from xlt.store import RunKey, Store, versions
from xlt.tasks import get_task
from xlt.self_training import few_shot_self_train, self_train
from xlt.train import probe_head, seed_everything, set_threads, train, use_bf16


# the strategies that start from the source stage
SOURCE_TRAINED = ("source", "zero_shot", "self_training", "few_shot", "few_shot_self_training", "full_shot")


@dataclass
class Context:
    """Everything a run needs, loaded once per experiment."""

    exp: Experiment
    out: Path
    store: Store | None  # set once every check has passed (run_experiment)
    spec: object
    tokenizer: object
    labels: list[str]
    source: LanguageData
    targets: list[LanguageData]
    task: object = None
    language_adapters: LanguageAdapters | None = None
    switch_words: dict[str, list[str]] | None = None  # merged code-switching dictionaries (augment.code_switch)
    _switched: dict = field(default_factory=dict)  # seed -> (code-switched source rows, stats)

    @property
    def label2id(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    def encode(self, rows: list[Example]):
        return self.task.encode(self.tokenizer, rows, self.spec.text_prefix, self.exp.training.max_length, self.label2id)

    def run_hash(self, key: RunKey) -> str:
        """The hash in this run's id and in its source stage's file name (see Experiment.run_hash)."""
        target = None
        if key.strategy != "source":
            target = next(cfg for cfg, ld in zip(self.exp.targets, self.targets) if ld.key() == f"{key.dataset}/{key.language}")
        return self.exp.run_hash(key.method, target, self.labels)

    def source_train(self, seed: int) -> tuple[list, dict]:
        """The source training rows every source-trained run learns from: the originals plus, with
        augment.code_switch, their code-switched copies (seeded); and what to record of the copies."""
        cfg = self.exp.augment.code_switch
        if cfg is None:
            return self.source.splits["train"], {}
        if seed not in self._switched:
            rows, stats = code_switch(self.source.splits["train"], self.switch_words, cfg.ratio, cfg.copies, seed)
            self._switched[seed] = (rows, {"code_switch": stats.as_dict()})
        rows, info = self._switched[seed]
        return self.source.splits["train"] + rows, info

    def method_cfg(self, name: str):
        return next(m for m in self.exp.method_list() if m.name == name)

    def fresh_model(self, seed: int, method_name: str):
        """A new model for this seed: the head and adapter initialisation depend on the seed."""
        seed_everything(seed)
        method = get_method(self.method_cfg(method_name), self.exp.task)
        model = self.task.load_model(self.spec, self.labels)
        return method, method.prepare(model)

    def probe_head(self, method, model, train_data, val_data, seed: int) -> dict:
        """With `training.head_init: probe`, fit a fresh model's head on its untouched features first (LP-FT);
        returns what to record of it."""
        if self.exp.training.head_init != "probe" or method.frozen_features:
            return {}
        res = probe_head(model, self.tokenizer, train_data, val_data, self.exp.training, seed)
        return {"head_init": {"method": "probe", "val_score": res.best_val_f1, "seconds": round(res.seconds, 1)}}

    def data_for(self, key: RunKey) -> LanguageData:
        if key.strategy == "source":
            return self.source
        return next(t for t in self.targets if (t.dataset, t.language) == (key.dataset, key.language))

    def validation(self, rows: list[Example]):
        """Encoded validation rows and a scorer for them (the task's primary metric); (None, None) without rows."""
        if not rows:
            return None, None
        enc = self.encode(rows)
        return enc, lambda model: self.task.validation_score(model, self.tokenizer, enc, self.labels, self.exp.training)

    def unlabelled_texts(self, language: str) -> list[str]:
        """Unlabelled text (MAD-X language adapters, self-training): the `unlabelled:` file, else the texts of
        the language's training and validation splits, their labels unread."""
        for d, src in zip([self.source, *self.targets], [self.exp.source, *self.exp.targets]):
            if d.language != language:
                continue
            if src.unlabelled:
                path = Path(src.unlabelled)
                if not path.exists():
                    raise XltError(f"unlabelled text file not found: {path}")
                try:
                    texts = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
                except UnicodeDecodeError as e:
                    raise XltError(f"unlabelled text file {path} is not UTF-8 (byte {e.start}); re-save it as UTF-8") from e
                if not texts:
                    raise XltError(f"unlabelled text file {path} has no text; give one text per line, or remove "
                                   "unlabelled: to use the language's train and validation texts")
                return texts
            texts = [r.text for r in d.splits["train"] + d.splits["validation"]]
            if texts:
                return texts
        raise XltError(f"MAD-X and self_training need unlabelled {language} text and {language} has no "
                       f"training data; give unlabelled: (a text file, one text per line) in its data source")


def load_data(exp: Experiment, data_dir: str | None, out: Path | None = None) -> tuple[LanguageData, list[LanguageData]]:
    """Load source and targets; writes the preprocessing report next to the results when `out` is given."""
    data, lines = _load(exp, data_dir)
    if out is not None:
        atomic_write_text(out / "data_report.txt", "\n".join(lines))
    return data


def _load(exp: Experiment, data_dir: str | None) -> tuple[tuple[LanguageData, list[LanguageData]], list[str]]:
    """Source and targets, and the lines of the preprocessing report (what was dropped, and why)."""
    lines = []
    loaded = []
    for src in [exp.source, *exp.targets]:
        ld, rep = load_language(src, exp.preprocess, data_dir or exp.data_dir, exp.split_seed)
        if ld.is_tokens != (exp.task != "classification"):
            kind = "token-tagged (CoNLL)" if ld.is_tokens else "text-classification"
            raise XltError(f"{ld.key()} is {kind} data but the config says task: {exp.task}; set task: "
                           f"{'ner or pos' if ld.is_tokens else 'classification'}")
        loaded.append(ld)
        lines += [f"## {ld.key()}", *rep.lines(), *[f"note: {n}" for n in ld.notes], *silver_tags_for(exp, src, ld), ""]
    return (loaded[0], loaded[1:]), lines


def _unseen(source: LanguageData, target: LanguageData) -> list[str]:
    """Target labels (for NER: entity types) the source never saw, with their test counts."""
    if not target.is_tokens:
        return sorted(set(target.labels) - set(source.labels))
    seen = {t[2:] for t in source.labels if t != "O"}
    counts: dict[str, int] = {}
    for r in target.splits["test"]:
        for t in r.tags:
            if t.startswith("B-") and t[2:] not in seen:
                counts[t[2:]] = counts.get(t[2:], 0) + 1
    total = sum(t.startswith("B-") for r in target.splits["test"] for t in r.tags)
    return [f"{typ} ({n} of {total} test entities)" for typ, n in sorted(counts.items())]


def plan(ctx: Context, method: str) -> list[RunKey]:
    """Every run the config asks for with one method, source-language evaluation first."""
    p = ctx.exp.protocol
    keys: list[RunKey] = []
    needs_source = any(s in p.strategies for s in SOURCE_TRAINED)
    for seed in p.seeds:
        if needs_source:
            keys.append(RunKey(method, "source", None, seed, ctx.source.dataset, ctx.source.language))
        for t in ctx.targets:
            n_train = len(t.splits["train"])
            for strategy in p.strategies:
                if strategy in ("self_training", "few_shot_self_training") and method in BASELINES:
                    continue  # the simple baselines stay simple: their zero-shot rows are the comparison
                if strategy not in ("zero_shot", "self_training") and n_train == 0:
                    raise XltError(f"{t.key()} has no training data, so {strategy} is impossible; use only zero_shot "
                                   "for it (a separate config), or give its files: {train: ...}")
                if strategy in ("few_shot", "few_shot_self_training"):
                    for n in sorted(p.shots):
                        if n > n_train:
                            if p.skip_shots_above_train:
                                continue
                            raise XltError(f"few-shot N={n} is larger than the {n_train} training examples of "
                                           f"{t.key()}; lower protocol.shots or set skip_shots_above_train: true")
                        keys.append(RunKey(method, strategy, n, seed, t.dataset, t.language))
                else:
                    keys.append(RunKey(method, strategy, None, seed, t.dataset, t.language))
    return keys


class SourceStages:
    """Trains the source stage once per (seed, selection data) and keeps it on disk."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.dir = ctx.out / "stages"
        self.dir.mkdir(exist_ok=True)

    def path(self, method: str, seed: int, select_on: LanguageData) -> Path:
        # a stage selected on a target's validation split depends on that target's data too: hash it as a zero-shot run
        own = select_on is self.ctx.source
        h = self.ctx.run_hash(RunKey(method, "source" if own else "zero_shot", None, seed, select_on.dataset, select_on.language))
        return self.dir / f"{h}-{method}-seed{seed}-{'source' if own else f'select-{select_on.language}'}.safetensors"

    def model(self, method_name: str, seed: int, select_on: LanguageData):
        """A model holding the source stage's weights: loaded if saved, else trained and saved."""
        ctx = self.ctx
        method, model = ctx.fresh_model(seed, method_name)
        method.use_language(model, ctx.source.language, ctx.language_adapters)
        path = self.path(method_name, seed, select_on)
        if path.exists():
            method.load_trainable_state(model, load_file(str(path)))
            return method, model, json.loads(path.with_suffix(".json").read_text())
        ex = ctx.exp
        lr = method.lr(ex.training)
        val, validate = ctx.validation(select_on.splits["validation"])
        source_rows, augmented = ctx.source_train(seed)
        rows = ctx.encode(source_rows)
        probe = ctx.probe_head(method, model, rows, val, seed)
        result = train(model, method, ctx.tokenizer, rows, val, ex.training, lr,
                       seed, desc=f"{method_name} source {ctx.source.language} seed {seed}", validate=validate)
        selection = f"{select_on.language}-validation" if ex.training.patience > 0 else "none (fixed budget, last epoch)"
        info = {**result.__dict__, "lr": lr, "selection": selection, **probe, **augmented}
        atomic_write_text(path.with_suffix(".json"), json.dumps(info))
        atomic_save_tensors(path, method.trainable_state(model))
        return method, model, info


def continue_on_target(ctx: Context, key: RunKey, method, model, target: LanguageData, rows: list,
                       base_rows: list | None = None) -> dict:
    """The target stage of few- and full-shot runs: the source-trained `model` continued on target `rows`,
    selected on the target's validation split. A frozen method's convex head is refitted instead, on
    `base_rows` (default: the source rows) plus the target rows, both sides weighing the same.
    Returns what to record, with "rows": how many rows it trained on."""
    tr = ctx.exp.training
    weights = None
    if method.frozen_features:
        base = ctx.source_train(key.seed)[0] if base_rows is None else base_rows
        weights = [1.0] * len(base) + [len(base) / len(rows)] * len(rows)
        rows = base + rows
    enc = ctx.encode(rows)
    enc.weights = weights
    lr = method.lr_continue(tr)
    continue_cfg = tr.model_copy(update={"epochs": tr.epochs_continue or tr.epochs})
    val, validate = ctx.validation(target.splits["validation"])
    res = train(model, method, ctx.tokenizer, enc, val, continue_cfg, lr, key.seed, desc=key.label(), validate=validate)
    return {**res.__dict__, "lr": lr, "rows": len(rows)}


def execute(ctx: Context, key: RunKey, stages: SourceStages) -> None:
    """Train (as the strategy says) and evaluate one run, then record it in one transaction."""
    ex, tr = ctx.exp, ctx.exp.training
    run_hash = ctx.run_hash(key)
    run_id = key.run_id(run_hash)
    target = ctx.data_for(key)
    ctx.store.mark_started(run_id, key, run_hash, {"experiment": ex.name, "model": ex.model})
    t0 = time.perf_counter()
    info: dict = {}
    if key.strategy in SOURCE_TRAINED:
        select_on = target if (key.strategy == "zero_shot" and ex.protocol.zero_shot_selection == "target") else ctx.source
        method, model, info = stages.model(key.method, key.seed, select_on)
        method.use_language(model, target.language, ctx.language_adapters)
        selection = "target-validation (explicit)" if select_on is not ctx.source else "source-validation"
        n_train = len(ctx.source.splits["train"])
        if key.strategy in ("few_shot", "full_shot"):
            rows = k_shot(target.splits["train"], key.n, key.seed) if key.n else target.splits["train"]
            info = {**continue_on_target(ctx, key, method, model, target, rows), "source_stage": info}
            selection, n_train = "target-validation", info.pop("rows")
        elif key.strategy == "self_training":
            info = {**self_train(ctx, key, method, model, target), "source_stage": info}
        elif key.strategy == "few_shot_self_training":
            shots = k_shot(target.splits["train"], key.n, key.seed)
            info = {**few_shot_self_train(ctx, key, method, model, target, shots, continue_on_target),
                    "source_stage": info}
            selection, n_train = "target-validation", info.pop("rows")
    else:
        method, model = ctx.fresh_model(key.seed, key.method)
        method.use_language(model, target.language, ctx.language_adapters)
        rows = target.splits["train"] + (ctx.source_train(key.seed)[0] if key.strategy == "joint" else [])
        lr = method.lr(tr)
        val, validate = ctx.validation(target.splits["validation"])
        enc = ctx.encode(rows)
        probe = ctx.probe_head(method, model, enc, val, key.seed)
        res = train(model, method, ctx.tokenizer, enc, val, tr, lr, key.seed, desc=key.label(), validate=validate)
        info, selection, n_train = {**res.__dict__, "lr": lr, **probe}, "target-validation", len(rows)
    if tr.patience == 0:
        selection = "none (fixed budget, last epoch)"
    if ctx.language_adapters is not None and ctx.language_adapters.info:
        info["language_adapters"] = {k: v for k, v in ctx.language_adapters.info.items()
                                     if k in (ctx.source.language, target.language)}
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    test = target.splits["test"]
    enc = ctx.encode(test)
    pred, probs = ctx.task.predict(model, ctx.tokenizer, enc, ctx.labels, tr.eval_batch_size, use_bf16(tr.bf16),
                                   method.frozen_features)
    metrics = ctx.task.metrics(test, pred, ctx.labels, ex, ctx.source.labels, enc)
    eval_seconds = time.perf_counter() - t1
    if metrics["collapsed"]:
        tqdm.write(f"warning: {key.label()} collapsed: {metrics['collapse_reason']}")
    if key.strategy in ex.output.save_models:
        prefix = f"{key.method}-" if len(ex.method_list()) > 1 else ""
        save_dir = ctx.out / "models" / f"{prefix}{key.strategy}{'-' + str(key.n) if key.n else ''}-{key.language}-seed{key.seed}"
        tmp = save_dir.with_name(save_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        method.save(model, ctx.tokenizer, tmp, {"xlt_text_prefix": ctx.spec.text_prefix, "xlt_notice": ex.notice or "",
                                                "xlt_task": ex.task})
        write_model_card(tmp, ex, key, metrics, ctx.source.key(), n_train)
        shutil.rmtree(save_dir, ignore_errors=True)
        os.replace(tmp, save_dir)  # a saved model directory exists only once it is complete
    preds = None
    if ex.output.save_predictions:
        gold = ctx.task.gold(test)
        preds = list(zip(gold, pred, probs if probs is not None else [[]] * len(pred)))
    ctx.store.finish(run_id, metrics, selection, train_seconds, eval_seconds, versions(), info, preds)


def _finished(run_ids: dict[RunKey, str], out: Path) -> set[str]:
    """The planned runs the output folder's store already holds. Stops before a changed config adds its runs
    beside old ones made with other settings: one table would hold two recipes."""
    if not (out / "results.sqlite").exists():
        return set()
    store = Store(out / "results.sqlite")
    done = {(r["method"], r["strategy"], r["n"], r["seed"], r["dataset"], r["language"]): r["run_id"]
            for r in store.runs("done")}
    store.close()
    stale = [k for k, run_id in run_ids.items()
             if done.get((k.method, k.strategy, k.n, k.seed, k.dataset, k.language)) not in (None, run_id)]
    if stale:
        raise XltError(f"{out} already holds {len(stale)} finished run(s) made with different settings (first: "
                       f"{stale[0].label()}), and one report would mix the two; give output.dir a new directory, "
                       f"or delete {out / 'results.sqlite'} and {out / 'stages'} to start over")
    return set(done.values()) & set(run_ids.values())


@dataclass
class Plan:
    """A config that has passed every check: its loaded data, its runs, and which are finished already."""

    ctx: Context
    keys: list[RunKey]
    run_ids: dict[RunKey, str]
    finished: set[str]
    report: list[str]  # the lines of data_report.txt

    def summary(self) -> str:
        """What `xlt run` would do: runs per method, strategy and N, and how many are finished."""
        ex, out = self.ctx.exp, self.ctx.out
        todo = sum(self.run_ids[k] not in self.finished for k in self.keys)
        lines = [f"{ex.name}: every check passed. {len(self.keys)} runs ({todo} to run, "
                 f"{len(self.keys) - todo} finished) in {out}; seeds {ex.protocol.seeds}, source "
                 f"{self.ctx.source.key()}, {len(self.ctx.targets)} target(s): "
                 + ", ".join(t.key() for t in self.ctx.targets)]
        groups: dict[tuple, list[RunKey]] = {}
        for k in self.keys:
            groups.setdefault((k.method, k.strategy, k.n), []).append(k)
        for (method, strategy, n), ks in groups.items():
            done = sum(self.run_ids[k] in self.finished for k in ks)
            setting = strategy + (f" N={n}" if n else "")
            lines.append(f"  {method:<13} {setting:<28} {len(ks):>4} run{'s' * (len(ks) != 1)}, {done} finished")
        if ex.ablate_preprocessing:
            lines.append(f"  and the same again without text rewriting, in {out / PREPROCESS_ABLATION_DIR}")
        return "\n".join(lines)


def check_experiment(exp: Experiment, data_dir: str | None = None, output_dir: str | None = None) -> Plan:
    """Every check a run makes before its first write, and the runs it would make; writes nothing.

    Bad input (a missing file, a label map that misses a label, a LoRA layer the model lacks, N above a
    training set, a store holding other settings) ends here in one XltError."""
    set_threads(exp.training.threads)
    out = Path(output_dir or exp.output.dir)
    spec = resolve(exp.model)
    limit = spec.max_tokens()
    if limit is not None and exp.training.max_length > limit:
        raise XltError(f"training.max_length {exp.training.max_length} is longer than {exp.model} can read "
                       f"({limit} tokens, its position embeddings); set training.max_length to {limit} or less")
    switch_words, switch_lines = None, []
    if exp.augment.code_switch is not None:  # a missing word list fails before anything is written
        switch_words, switch_lines = load_dictionaries(exp.augment.code_switch.dictionaries, data_dir or exp.data_dir)
    for m in exp.method_list():
        get_method(m, exp.task).check(spec)
    (source, targets), report = _load(exp, data_dir)
    if switch_lines:
        report += ["## code-switching dictionaries (augment.code_switch)", *switch_lines, ""]
    labels = sorted(set(source.labels).union(*[t.labels for t in targets]))
    if exp.positive_label is not None and exp.positive_label not in labels:
        raise XltError(f"positive_label {exp.positive_label!r} is not one of the labels {labels}; use one of them")
    ctx = Context(exp, out, None, spec, spec.tokenizer(), labels, source, targets, get_task(exp.task),
                  switch_words=switch_words)
    madx = _madx(exp)
    if madx is not None or {"self_training", "few_shot_self_training"} & set(exp.protocol.strategies):
        for d in ([source] if madx is not None else []) + targets:
            ctx.unlabelled_texts(d.language)  # fail now, not an hour in, when a language has no text
    # seed by seed (every method of seed 0 first), so an interrupted comparison is complete for the seeds it has
    keys = [k for b in exp.baselines for k in plan(ctx, b)] + sorted(
        (k for m in exp.method_list() for k in plan(ctx, m.name)), key=lambda k: k.seed)
    run_ids = {k: k.run_id(ctx.run_hash(k)) for k in keys}
    return Plan(ctx, keys, run_ids, _finished(run_ids, out), report)


def _madx(exp: Experiment):
    return next((m for m in exp.method_list() if m.name == "madx"), None)


def run_experiment(exp: Experiment, data_dir: str | None = None, output_dir: str | None = None) -> Path:
    """Run every planned run not already finished; returns the output directory."""
    p = check_experiment(exp, data_dir, output_dir)
    ctx, out, source, targets, labels = p.ctx, p.ctx.out, p.ctx.source, p.ctx.targets, p.ctx.labels
    spec, madx, methods = ctx.spec, _madx(exp), [m.name for m in exp.method_list()]
    positive = exp.positive_label or (labels[-1] if len(labels) == 2 and exp.task == "classification" else None)
    # written once the config has passed every check, so a rejected config leaves no folder, or the old store and
    # config as they were
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "data_report.txt", "\n".join(p.report))
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False, allow_unicode=True))
    ctx.store = store = Store(out / "results.sqlite")
    stages = SourceStages(ctx)
    if madx is not None:
        ctx.language_adapters = LanguageAdapters(spec, ctx.tokenizer, stages.dir, madx, exp.training,
                                                 ctx.unlabelled_texts, source.language)
    unseen = {t.key(): _unseen(source, t) for t in targets}
    store.set_meta("experiment", {"name": exp.name, "config_hash": exp.hash(), "labels": labels, "task": exp.task,
                                  "source": source.key(), "targets": [t.key() for t in targets],
                                  "unseen_in_source": {k: v for k, v in unseen.items() if v},
                                  "notes": {d.key(): d.notes for d in [source, *targets]},
                                  "notice": exp.notice, "method": methods[0], "methods": methods, "model": exp.model,
                                  "positive_label": positive})
    if exp.task == "classification":
        store.set_meta("shortcuts", {d.key(): shortcut_report(d.language, d.splits, exp.shortcut_keywords.get(d.language)).to_dict()
                                     for d in [source, *targets]})
    todo = [k for k in p.keys if p.run_ids[k] not in p.finished]  # read from the store by check_experiment
    if len(todo) < len(p.keys):
        print(f"resuming: {len(p.keys) - len(todo)} of {len(p.keys)} runs already finished")
    for key in tqdm(todo, desc="runs", unit="run", disable=None):
        if key.method in BASELINES:
            run_baseline(ctx, key)
        else:
            execute(ctx, key, stages)
    store.close()
    if exp.ablate_preprocessing:  # the second arm, in its own directory (own store, resumable the same way)
        print(f"preprocessing ablation: the same runs without text rewriting, in {out / PREPROCESS_ABLATION_DIR}")
        run_experiment(exp.without_text_cleaning(), data_dir, str(out / PREPROCESS_ABLATION_DIR))
    return out
