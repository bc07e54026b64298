"""The protocol: what is trained on what. Strategies:

- target_only: a fresh model on the target's full training set (the monolingual baseline)
- zero_shot:   the source-trained model applied to the target as is
- few_shot:    the source-trained model continued on N target examples (nested, stratified, seeded)
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
from dataclasses import dataclass
from pathlib import Path

import yaml
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from xlt.config import Experiment
from xlt.data.examples import Example, LanguageData
from xlt.data.load import load_language
from xlt.data.splits import k_shot
from xlt.errors import XltError
from xlt.files import atomic_write_text
from xlt.baselines import BASELINES, run_baseline
from xlt.evaluate.metrics import classification_metrics
from xlt.evaluate.shortcuts import shortcut_report
from xlt.methods import get_method
from xlt.models import load_classifier, resolve, save_for_transformers
from xlt.report.model_card import write_model_card
from xlt.store import RunKey, Store, versions
from xlt.train import Encoded, encode, predict_encoded, predict_frozen, seed_everything, set_threads, train, use_bf16


@dataclass
class Context:
    """Everything a run needs, loaded once per experiment."""

    exp: Experiment
    out: Path
    store: Store
    spec: object
    tokenizer: object
    labels: list[str]
    source: LanguageData
    targets: list[LanguageData]
    config_hash: str

    @property
    def label2id(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    def encode(self, rows: list[Example]) -> Encoded:
        return encode(self.tokenizer, rows, self.spec.text_prefix, self.exp.training.max_length, self.label2id)

    def fresh_model(self, seed: int):
        """A new model for this seed: the head and adapter initialisation depend on the seed."""
        seed_everything(seed)
        method = get_method(self.exp.method)
        if method.frozen_features and self.spec.pooling != "mean":
            raise XltError("method frozen needs a mean-pooled model (BERT-type encoders such as the embedded default)")
        model = load_classifier(self.spec, len(self.labels), dict(enumerate(self.labels)))
        return method, method.prepare(model)


def load_data(exp: Experiment, data_dir: str | None, out: Path | None = None) -> tuple[LanguageData, list[LanguageData]]:
    """Load source and targets; writes the preprocessing report next to the results when `out` is given."""
    lines = []
    loaded = []
    for src in [exp.source, *exp.targets]:
        ld, rep = load_language(src, exp.preprocess, data_dir or exp.data_dir, exp.split_seed)
        loaded.append(ld)
        lines += [f"## {ld.key()}", *rep.lines(), *[f"note: {n}" for n in ld.notes], ""]
    if out is not None:
        atomic_write_text(out / "data_report.txt", "\n".join(lines))
    return loaded[0], loaded[1:]


def plan(ctx: Context, method: str) -> list[RunKey]:
    """Every run the config asks for with one method, source-language evaluation first."""
    p = ctx.exp.protocol
    keys: list[RunKey] = []
    needs_source = any(s in p.strategies for s in ("zero_shot", "few_shot", "full_shot"))
    for seed in p.seeds:
        if needs_source:
            keys.append(RunKey(method, "source", None, seed, ctx.source.dataset, ctx.source.language))
        for t in ctx.targets:
            n_train = len(t.splits["train"])
            for strategy in p.strategies:
                if strategy == "few_shot":
                    for n in sorted(p.shots):
                        if n > n_train:
                            if p.skip_shots_above_train:
                                continue
                            raise XltError(f"few-shot N={n} is larger than the {n_train} training examples of "
                                           f"{t.key()}; lower protocol.shots or set skip_shots_above_train: true")
                        keys.append(RunKey(method, "few_shot", n, seed, t.dataset, t.language))
                else:
                    keys.append(RunKey(method, strategy, None, seed, t.dataset, t.language))
    return keys


class SourceStages:
    """Trains the source stage once per (seed, selection data) and keeps it on disk."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.dir = ctx.out / "stages"
        self.dir.mkdir(exist_ok=True)

    def path(self, seed: int, select_on: LanguageData) -> Path:
        tag = "source" if select_on is self.ctx.source else f"select-{select_on.language}"
        return self.dir / f"{self.ctx.config_hash}-seed{seed}-{tag}.safetensors"

    def model(self, seed: int, select_on: LanguageData):
        """A model holding the source stage's weights: loaded if saved, else trained and saved."""
        method, model = self.ctx.fresh_model(seed)
        path = self.path(seed, select_on)
        if path.exists():
            method.load_trainable_state(model, load_file(str(path)))
            return method, model, json.loads(path.with_suffix(".json").read_text())
        ex = self.ctx.exp
        lr = ex.training.lr or method.default_lr
        result = train(model, method, self.ctx.tokenizer, self.ctx.encode(self.ctx.source.splits["train"]),
                       self.ctx.encode(select_on.splits["validation"]), ex.training, lr, seed,
                       desc=f"source {self.ctx.source.language} seed {seed}")
        info = {**result.__dict__, "lr": lr, "selection": f"{select_on.language}-validation"}
        atomic_write_text(path.with_suffix(".json"), json.dumps(info))
        tmp = path.with_name(path.name + ".tmp")
        save_file({k: v.contiguous() for k, v in method.trainable_state(model).items()}, str(tmp))
        os.replace(tmp, path)  # the stage exists only once it is complete
        return method, model, info


def execute(ctx: Context, key: RunKey, stages: SourceStages) -> None:
    """Train (as the strategy says) and evaluate one run, then record it in one transaction."""
    ex, tr = ctx.exp, ctx.exp.training
    run_id = key.run_id(ctx.config_hash)
    target = ctx.source if key.strategy == "source" else next(t for t in ctx.targets if (t.dataset, t.language) == (key.dataset, key.language))
    ctx.store.mark_started(run_id, key, ctx.config_hash, {"experiment": ex.name, "model": ex.model})
    t0 = time.perf_counter()
    info: dict = {}
    if key.strategy in ("source", "zero_shot", "few_shot", "full_shot"):
        select_on = target if (key.strategy == "zero_shot" and ex.protocol.zero_shot_selection == "target") else ctx.source
        method, model, info = stages.model(key.seed, select_on)
        selection = "target-validation (explicit)" if select_on is not ctx.source else "source-validation"
        n_train = len(ctx.source.splits["train"])
        if key.strategy in ("few_shot", "full_shot"):
            rows = k_shot(target.splits["train"], key.n, key.seed) if key.n else target.splits["train"]
            lr = tr.lr_continue or method.default_lr_continue
            continue_cfg = tr.model_copy(update={"epochs": tr.epochs_continue or tr.epochs})
            res = train(model, method, ctx.tokenizer, ctx.encode(rows), ctx.encode(target.splits["validation"]),
                        continue_cfg, lr, key.seed, desc=key.label())
            info = {**res.__dict__, "lr": lr, "source_stage": info}
            selection, n_train = "target-validation", len(rows)
    else:
        method, model = ctx.fresh_model(key.seed)
        rows = target.splits["train"] + (ctx.source.splits["train"] if key.strategy == "joint" else [])
        lr = tr.lr or method.default_lr
        res = train(model, method, ctx.tokenizer, ctx.encode(rows), ctx.encode(target.splits["validation"]), tr, lr,
                    key.seed, desc=key.label())
        info, selection, n_train = {**res.__dict__, "lr": lr}, "target-validation", len(rows)
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    test = target.splits["test"]
    test_ids = ctx.encode(test).ids
    if method.frozen_features:
        pred, probs = predict_frozen(model, ctx.tokenizer, test_ids, tr.eval_batch_size)
    else:
        pred, probs = predict_encoded(model, ctx.tokenizer, test_ids, tr.eval_batch_size, use_bf16(tr.bf16))
    gold = [r.label for r in test]
    pred_labels = [ctx.labels[i] for i in pred]
    present = sorted(set(gold) | set(pred_labels), key=ctx.labels.index)
    metrics = classification_metrics(gold, pred_labels, present, ex.collapse_recall)
    eval_seconds = time.perf_counter() - t1
    if metrics["collapsed"]:
        tqdm.write(f"warning: {key.label()} collapsed: {metrics['collapse_reason']}")
    if key.strategy in ex.output.save_models:
        save_dir = ctx.out / "models" / f"{key.strategy}{'-' + str(key.n) if key.n else ''}-{key.language}-seed{key.seed}"
        tmp = save_dir.with_name(save_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        save_for_transformers(method.export(model), ctx.tokenizer, tmp,
                              {"xlt_text_prefix": ctx.spec.text_prefix, "xlt_notice": ex.notice or ""})
        write_model_card(tmp, ex, key, metrics, ctx.source.key(), n_train)
        shutil.rmtree(save_dir, ignore_errors=True)
        os.replace(tmp, save_dir)  # a saved model directory exists only once it is complete
    preds = list(zip(gold, pred_labels, probs.tolist())) if ex.output.save_predictions else None
    ctx.store.finish(run_id, metrics, selection, train_seconds, eval_seconds, versions(), info, preds)


def run_experiment(exp: Experiment, data_dir: str | None = None, output_dir: str | None = None) -> Path:
    """Run every planned run not already finished; returns the output directory."""
    set_threads(exp.training.threads)
    out = Path(output_dir or exp.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False, allow_unicode=True))
    source, targets = load_data(exp, data_dir, out)
    labels = sorted(set(source.labels).union(*[t.labels for t in targets]))
    spec = resolve(exp.model)
    store = Store(out / "results.sqlite")
    unseen = {t.key(): sorted(set(t.labels) - set(source.labels)) for t in targets}
    store.set_meta("experiment", {"name": exp.name, "config_hash": exp.hash(), "labels": labels,
                                  "source": source.key(), "targets": [t.key() for t in targets],
                                  "unseen_in_source": {k: v for k, v in unseen.items() if v},
                                  "notes": {d.key(): d.notes for d in [source, *targets]},
                                  "notice": exp.notice, "method": exp.method.name, "model": exp.model})
    store.set_meta("shortcuts", {d.key(): shortcut_report(d.language, d.splits, exp.shortcut_keywords.get(d.language)).to_dict()
                                 for d in [source, *targets]})
    ctx = Context(exp, out, store, spec, spec.tokenizer(), labels, source, targets, exp.hash())
    keys = [k for b in exp.baselines for k in plan(ctx, b)] + plan(ctx, exp.method.name)
    todo = [k for k in keys if not store.is_done(k.run_id(ctx.config_hash))]
    if len(todo) < len(keys):
        print(f"resuming: {len(keys) - len(todo)} of {len(keys)} runs already finished")
    stages = SourceStages(ctx)
    for key in tqdm(todo, desc="runs", unit="run", disable=None):
        if key.method in BASELINES:
            run_baseline(ctx, key)
        else:
            execute(ctx, key, stages)
    store.close()
    return out
