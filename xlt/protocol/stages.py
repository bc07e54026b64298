"""Training stages: one `fit_stage` for every stage a strategy trains, the source stages (trained once per
seed and method, saved atomically under stages/ so an interrupted experiment does not retrain them), and
the target stage that continues a source stage."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from xlt.data.examples import LanguageData
from xlt.files import atomic_save_tensors, atomic_write_text, load_saved_tensors
from xlt.identity import run_hash

NO_SELECTION = "none (fixed budget, last epoch)"


def stage_key(what: list) -> str:
    """The short hash that names a saved stage file (LAPT's encoder, X-MAML's weights, an alignment map) by what it
    was fitted from, so a run with other inputs never loads it."""
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:12]


def validation(ctx, rows: list):
    """Encoded validation rows and a scorer for them (the task's primary metric); (None, None) without rows."""
    if not rows:
        return None, None
    enc = ctx.encode(rows)
    return enc, lambda model: ctx.task.validation_score(model, ctx.tokenizer, enc, ctx.labels, ctx.exp.training)


def fit_stage(ctx, method, model, rows: list, validation_rows: list, seed: int, desc: str, *,
              continues: bool = False, lr: float | None = None, epochs: int | None = None,
              weights: list[float] | None = None, head_c: float | None = None,
              languages: list[str] | None = None, validation_language: str | None = None, pairs=None,
              class_weighted: bool = False) -> dict:
    """Train `model` in place on `rows`, selecting on `validation_rows`; returns what to record.

    A stage that `continues` an earlier one trains at the method's continuation learning rate for
    training.epochs_continue epochs (`lr` and `epochs` override both); a stage from the pretrained model
    trains at the method's learning rate, after fitting the head on the untouched encoder when
    training.head_init is probe (LP-FT). `head_c` fixes a frozen method's head regularisation instead of
    choosing it on validation. `languages` (one per row) and `validation_language` say which language each row
    is in where that is not the language the model is set to (a frozen method's alignment maps by language).
    `pairs` (xlt.align.loss.PairBatches) adds the alignment loss on parallel sentences to every step.
    `class_weighted` weighs each class's loss by its inverse frequency whatever training.class_weighted_loss
    says (the few-shot rare-class guard's refit)."""
    from xlt.train import probe_head, train

    tr = ctx.exp.training
    lr = lr or (method.lr_continue(tr) if continues else method.lr(tr))
    tcfg = tr.model_copy(update={"epochs": epochs or tr.epochs_continue or tr.epochs}) if continues else tr
    if class_weighted:
        tcfg = tcfg.model_copy(update={"class_weighted_loss": True})
    val, validate = validation(ctx, validation_rows)
    if val is not None and validation_language is not None:
        val.languages = [validation_language] * len(val.ids)
    enc = ctx.encode(rows)
    enc.weights = weights
    enc.languages = languages
    enc.head_c = head_c
    probe = {}
    if not continues and tr.head_init == "probe" and not method.frozen_features:
        res = probe_head(model, ctx.tokenizer, enc, val, tr, seed)
        probe = {"head_init": {"method": "probe", "val_score": res.best_val_f1, "seconds": round(res.seconds, 1)}}
    result = train(model, method, ctx.tokenizer, enc, val, tcfg, lr, seed, desc=desc, validate=validate, pairs=pairs)
    aligned = {"align_loss": pairs.record} if pairs is not None else {}
    return {**result.__dict__, "lr": lr, **probe, **aligned, "rows": len(rows)}


def continue_on_target(ctx, key, method, model, target: LanguageData, rows: list, base_rows: list | None = None,
                       head_c: float | None = None, class_weighted: bool = False) -> dict:
    """The target stage of few- and full-shot runs: the source-trained `model` continued on target `rows`,
    selected on the target's validation split. A frozen method's convex head is refitted instead, on
    `base_rows` (default: the source rows) plus the target rows, both sides weighing the same: a convex
    fit continued from the source optimum would forget it, and 100 target rows beside 2,000 source rows
    barely count at their natural weight (methods/frozen.py). `class_weighted`: see fit_stage."""
    weights, languages = None, None
    if method.frozen_features:
        base = ctx.source_train(key.seed)[0] if base_rows is None else base_rows
        weights = [1.0] * len(base) + [len(base) / len(rows)] * len(rows)
        languages = [ctx.source.language] * len(base) + [target.language] * len(rows)
        rows = base + rows
    return fit_stage(ctx, method, model, rows, target.splits["validation"], key.seed, key.label(), continues=True,
                     weights=weights, head_c=head_c, languages=languages, validation_language=target.language,
                     class_weighted=class_weighted)


class SourceStages:
    """Trains the source stage once per (method, seed, selection data) and keeps it on disk."""

    def __init__(self, ctx, folder: Path | None = None):
        self.ctx = ctx
        self.dir = folder or ctx.out / "stages"  # a study's groups share one folder

    def path(self, method: str, seed: int, select_on: LanguageData, encoder: str | None = None) -> Path:
        # a stage selected on a target's validation split depends on that target's data too: hashed as its run
        ctx = self.ctx
        own = select_on is ctx.source
        h = run_hash(ctx.exp, method, None if own else ctx.target_config(select_on), ctx.labels)
        name = f"{h}-{method}-seed{seed}-{'source' if own else f'select-{select_on.language}'}"
        return self.dir / f"{name}{f'-{encoder}' if encoder else ''}.safetensors"

    def model(self, method_name: str, seed: int, select_on: LanguageData, encoder: tuple[str, dict] | None = None):
        """(method, a model holding the source stage's weights, what was recorded of the stage): loaded if
        saved, else trained and saved. `encoder` (its name, its weights) replaces the pretrained encoder's weights
        (language-adaptive pretraining) and names the stage apart."""
        ctx = self.ctx
        if ctx.source.parts and ctx.exp.sources.combine == "merge":  # each source's own stage, merged
            from xlt.protocol.merge import merged_stage

            return merged_stage(self, method_name, seed)
        method, model = ctx.fresh_model(seed, method_name, encoder[1] if encoder else None)
        method.use_language(model, ctx.source.language)
        path = self.path(method_name, seed, select_on, encoder[0] if encoder else None)
        if path.exists():
            method.load_trainable_state(model, load_saved_tensors(path))
            return method, model, json.loads(path.with_suffix(".json").read_text())
        rows, augmented = ctx.source_train(seed)
        info = fit_stage(ctx, method, model, rows, select_on.splits["validation"], seed,
                         f"{method_name} source {ctx.source.language} seed {seed}",
                         validation_language=select_on.language, pairs=ctx.align_pairs)
        info.pop("rows")
        selection = f"{select_on.language}-validation" if ctx.exp.training.patience > 0 else NO_SELECTION
        from xlt.store import code_fingerprint

        # the code that trained it: a later run reusing the stage may be made by other code (the report says so)
        info = {**info, "selection": selection, **augmented, "xlt_code": code_fingerprint()}
        atomic_write_text(path.with_suffix(".json"), json.dumps(info))
        atomic_save_tensors(path, method.trainable_state(model))
        return method, model, info
