"""Zero-shot + self-training: zero-shot transfer that also reads unlabelled target text.

The source-stage model labels the target's unlabelled texts (its `unlabelled:` file, else the texts of
its training and validation splits, labels unread); the most confident of them join the source data
and the model is retrained from the source stage, `protocol.self_training.rounds` times. No target
label is read, so selection stays on the source validation split. Which pseudo-labels are kept guards
against the collapse trap (a model that leans one way teaching itself more of it): the task decides
(xlt/tasks: for text classification a share per predicted class, by default in the source's class proportions;
for NER, entity-free sentences only in the source's share).

On NusaX-senti this lifted the frozen-embedding recipe most on the languages furthest from the model's
pretraining (BENCHMARKS.md, "Transfer-quality recipes").
"""
from __future__ import annotations

from xlt.data.examples import unlabelled_texts
from xlt.protocol.stages import fit_stage
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import SOURCE_VALIDATION, Strategy, Trained


class Unlabelled:
    """A target's unlabelled texts (less `exclude`), encoded once (every round relabels the same text), and
    what the source tells pseudo-labelling to keep in proportion."""

    def __init__(self, ctx, key, target, exclude: set[str] = frozenset()):
        self.texts = unlabelled_texts(target, "self-training", exclude)
        self.rows = ctx.task.unlabelled_rows(self.texts)
        self.enc = ctx.encode(self.rows)
        source = ctx.source_train(key.seed)[0]
        self.prior = ctx.task.pseudo_label_prior(source)
        quota = ctx.exp.protocol.self_training.quota
        if quota == "source":  # classes kept in the source's proportions
            self.prior = ctx.task.pseudo_label_shares(source, ctx.labels)
        elif quota == "predicted":  # in the target's predicted proportions (the task reads the mix per round)
            self.prior = "predicted"

    def label(self, ctx, model, method) -> tuple[list, dict]:
        """The confident share of the texts labelled by `model`, and what to record of them."""
        return ctx.task.pseudo_label(model, ctx.tokenizer, self.rows, self.enc, ctx.labels,
                                     ctx.exp.protocol.self_training.fraction, self.prior, ctx.exp.training,
                                     method.frozen_features)


def retrain_on_pseudo_labels(ctx, key, method, model, stage: dict, pseudo: list, desc: str) -> dict:
    """One round's retraining: back to the source stage, then the source rows plus the pseudo-labelled ones,
    selected on the source validation split (no target label is read)."""
    cfg = ctx.exp.protocol.self_training
    method.load_trainable_state(model, stage)  # every round starts again from the source stage
    source = ctx.source_train(key.seed)[0]
    return fit_stage(ctx, method, model, source + pseudo, ctx.source.splits["validation"], key.seed, desc,
                     continues=True, lr=cfg.lr, epochs=cfg.epochs,
                     languages=[ctx.source.language] * len(source) + [key.language] * len(pseudo),
                     validation_language=ctx.source.language)


@STRATEGIES.register
class SelfTraining(Strategy):
    name = "self_training"
    identity_roles = ("self_training",)  # protocol.self_training.quota identifies these runs alone
    title = "Zero-shot + self-training (unlabelled target text)"
    order = 30
    from_source = True
    reads_unlabelled = True
    default = True  # where the target has text to read (the generalisation suite: docs/defaults.md)
    default_for = ("text",)  # for token tasks it retrains a fine-tuned model three times: asked for, not default
    baselines = False  # the simple baselines stay simple: their zero-shot rows are the comparison

    def unavailable(self, ctx, target) -> str | None:
        if not (target.unlabelled or target.splits["train"] or target.splits["validation"]):
            return "no unlabelled text (a test split alone); give unlabelled: (one text per line) in its data source"
        return None

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model, stage_info = ctx.stages.model(key.method, key.seed, ctx.source)
        method.use_language(model, target.language)
        unlabelled = Unlabelled(ctx, key, target)
        stage = method.trainable_state(model)
        rounds, lr = [], None
        for r in range(1, ctx.exp.protocol.self_training.rounds + 1):
            pseudo, record = unlabelled.label(ctx, model, method)
            res = retrain_on_pseudo_labels(ctx, key, method, model, stage, pseudo, f"{key.label()} round {r}")
            lr = res["lr"]
            rounds.append({"round": r, "unlabelled": len(unlabelled.texts), **record, "val_score": res["best_val_f1"],
                           "steps": res["steps"], "seconds": round(res["seconds"], 1)})
        info = {"lr": lr, "self_training": rounds, "source_stage": stage_info}
        return Trained(method, model, info, SOURCE_VALIDATION, len(ctx.source.splits["train"]))
