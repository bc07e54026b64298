"""The self_training strategy: zero-shot transfer that also reads unlabelled target-language text.

The source-stage model labels the target's unlabelled texts (its `unlabelled:` file, else the texts
of its training and validation splits with their labels ignored); the most confident share of each
predicted class is added to the source training data and the model is retrained from the source
stage. No target label is read, so selection stays on the source validation split. On NusaX-senti
this lifted the frozen-embedding recipe most on the languages furthest from the model's
pretraining (BENCHMARKS.md, "Transfer-quality recipes").
"""
from __future__ import annotations

import math

import numpy as np

from xlt.data.examples import Example
from xlt.train import train, use_bf16


def confident_per_class(probs: np.ndarray, fraction: float) -> list[int]:
    """Indices of the most confident predictions, the same number from each predicted class at most
    (fraction * n / classes), so a model leaning to one class does not teach itself more of it."""
    pred, conf = probs.argmax(1), probs.max(1)
    per_class = max(1, math.floor(fraction * len(probs) / probs.shape[1]))
    keep: list[int] = []
    for c in range(probs.shape[1]):
        idx = np.flatnonzero(pred == c)
        keep += idx[np.argsort(-conf[idx], kind="stable")][:per_class].tolist()
    return sorted(keep)


def self_train(ctx, key, method, model, target) -> dict:
    """Run `rounds` rounds of pseudo-labelling and retraining on `model` (holding the source stage);
    returns what to record of each round."""
    ex, tr = ctx.exp, ctx.exp.training
    cfg = ex.protocol.self_training
    texts = ctx.unlabelled_texts(target.language)
    enc_u = ctx.encode([Example(text=t, label=ctx.labels[0]) for t in texts])  # the label is never read
    stage = method.trainable_state(model)
    lr = tr.lr_continue or method.default_lr_continue
    continue_cfg = tr.model_copy(update={"epochs": tr.epochs_continue or tr.epochs})
    val, validate = ctx.validation(ctx.source.splits["validation"])
    rounds = []
    for r in range(1, cfg.rounds + 1):
        _, probs = ctx.task.predict(model, ctx.tokenizer, enc_u, ctx.labels, tr.eval_batch_size, use_bf16(tr.bf16),
                                    method.frozen_features)
        probs = np.asarray(probs)
        keep = confident_per_class(probs, cfg.fraction)
        pseudo = [Example(text=texts[i], label=ctx.labels[int(probs[i].argmax())]) for i in keep]
        method.load_trainable_state(model, stage)  # every round starts again from the source stage
        res = train(model, method, ctx.tokenizer, ctx.encode(ctx.source_train(key.seed)[0] + pseudo), val, continue_cfg,
                    lr, key.seed, desc=f"{key.label()} round {r}", validate=validate)
        counts = {lab: sum(p.label == lab for p in pseudo) for lab in ctx.labels}
        rounds.append({"round": r, "unlabelled": len(texts), "pseudo_labelled": counts,
                       "min_confidence": float(probs.max(1)[keep].min()) if keep else None,
                       "val_score": res.best_val_f1, "steps": res.steps, "seconds": round(res.seconds, 1)})
    return {"lr": lr, "self_training": rounds}
