"""The self_training and few_shot_self_training strategies: zero- and few-shot transfer that also read
unlabelled target-language text.

The source-stage model labels the target's unlabelled texts (its `unlabelled:` file, else the texts
of its training and validation splits with their labels ignored); the most confident of them are
added to the source training data and the model is retrained from the source stage. No target label
is read, so selection stays on the source validation split.

Which pseudo-labels are kept guards against the collapse trap (a model that leans one way teaching
itself more of it):
- classification: the same number of texts from each predicted class at most;
- NER: sentences ranked by their least confident word; those with a predicted entity kept by rank,
  entity-free ones only in the share the source training data has them (all-O sentences are the
  most confident, and a model fed them unlearns entities);
- POS: sentences ranked by their least confident word.

On NusaX-senti this lifted the frozen-embedding recipe most on the languages furthest from the
model's pretraining (BENCHMARKS.md, "Transfer-quality recipes").
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from xlt.data.examples import Example, TokenExample
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


def confident_sentences(tags: list[list[str]], confidence: list[list[float]], fraction: float,
                        entity_free_share: float | None) -> list[int]:
    """Indices of the sentences to keep, ranked by their least confident word: the top `fraction` of
    all sentences, or with `entity_free_share` (NER) the top `fraction` of those with a predicted
    entity plus at most as many entity-free ones as make up that share of the kept set."""
    order = sorted(range(len(tags)), key=lambda i: -min(confidence[i], default=0.0))
    if entity_free_share is None:
        return sorted(order[:math.floor(fraction * len(tags))])
    with_entity = [i for i in order if any(t != "O" for t in tags[i])]
    without = [i for i in order if all(t == "O" for t in tags[i])]
    keep = with_entity[:math.floor(fraction * len(with_entity))]
    share = min(entity_free_share, 0.99)
    return sorted(keep + without[:math.floor(len(keep) * share / (1 - share))])


def repair_iob2(tags: list[str]) -> list[str]:
    """An I-X that does not continue an X entity starts one (B-X), as strict IOB2 scoring reads it."""
    out: list[str] = []
    for t in tags:
        if t.startswith("I-") and (not out or out[-1] == "O" or out[-1][2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
    return out


def _pseudo_texts(ctx, model, method, texts: list[str], enc, fraction: float) -> tuple[list[Example], dict]:
    tr = ctx.exp.training
    _, probs = ctx.task.predict(model, ctx.tokenizer, enc, ctx.labels, tr.eval_batch_size, use_bf16(tr.bf16),
                                method.frozen_features)
    probs = np.asarray(probs)
    keep = confident_per_class(probs, fraction)
    pseudo = [Example(text=texts[i], label=ctx.labels[int(probs[i].argmax())]) for i in keep]
    return pseudo, {"pseudo_labelled": {lab: sum(p.label == lab for p in pseudo) for lab in ctx.labels},
                    "min_confidence": float(probs.max(1)[keep].min()) if keep else None}


def _pseudo_sentences(ctx, model, rows: list[TokenExample], enc, fraction: float,
                      entity_free_share: float | None) -> tuple[list[TokenExample], dict]:
    from xlt.tasks.tagging import predict_words_with_confidence

    tr = ctx.exp.training
    tags, conf = predict_words_with_confidence(model, ctx.tokenizer, enc, ctx.labels, ctx.task.fallback,
                                               tr.eval_batch_size, use_bf16(tr.bf16))
    keep = confident_sentences(tags, conf, fraction, entity_free_share)
    pseudo = [TokenExample(rows[i].tokens, tuple(repair_iob2(tags[i]))) for i in keep]
    ner = entity_free_share is not None
    entities = Counter(t[2:] for r in pseudo for t in r.tags if t.startswith("B-"))
    return pseudo, {"pseudo_labelled": {"sentences": len(pseudo),
                                        "entity_free": sum(all(t == "O" for t in r.tags) for r in pseudo),
                                        **({"entities": dict(sorted(entities.items()))} if ner else {})},
                    "min_confidence": min((min(conf[i], default=0.0) for i in keep), default=None),
                    **({"source_entity_free_share": round(entity_free_share, 3)} if ner else {})}


def _pseudo_label(ctx, model, method, texts: list[str], enc_u, unlabelled, fraction: float,
                  entity_free_share: float | None) -> tuple[list, dict]:
    if ctx.exp.task == "classification":
        return _pseudo_texts(ctx, model, method, texts, enc_u, fraction)
    return _pseudo_sentences(ctx, model, unlabelled, enc_u, fraction, entity_free_share)


def _unlabelled(ctx, key, target, exclude: set[str] = frozenset()):
    """The target's unlabelled texts (less `exclude`), as rows whose labels are never read, encoded once
    (every round relabels the same text); and for NER the source's share of entity-free sentences."""
    texts = [t for t in ctx.unlabelled_texts(target.language) if t not in exclude]
    if ctx.exp.task == "classification":
        unlabelled = [Example(text=t, label=ctx.labels[0]) for t in texts]
    else:
        unlabelled = [TokenExample(tuple(t.split()), ("O",) * len(t.split())) for t in texts]
    entity_free_share = None
    if ctx.exp.task == "ner":
        source = ctx.source_train(key.seed)[0]
        entity_free_share = sum(all(t == "O" for t in r.tags) for r in source) / max(1, len(source))
    return texts, unlabelled, ctx.encode(unlabelled), entity_free_share


def _retrain(ctx, key, method, model, stage, pseudo: list, desc: str):
    """One round's retraining: back to the source stage, then the source rows plus the pseudo-labelled ones,
    selected on the source validation split (no target label is read)."""
    tr, cfg = ctx.exp.training, ctx.exp.protocol.self_training
    lr = cfg.lr or method.lr_continue(tr)
    epochs = cfg.epochs or tr.epochs_continue or tr.epochs
    val, validate = ctx.validation(ctx.source.splits["validation"])
    method.load_trainable_state(model, stage)  # every round starts again from the source stage
    res = train(model, method, ctx.tokenizer, ctx.encode(ctx.source_train(key.seed)[0] + pseudo), val,
                tr.model_copy(update={"epochs": epochs}), lr, key.seed, desc=desc, validate=validate)
    return res, lr


def self_train(ctx, key, method, model, target) -> dict:
    """Run `rounds` rounds of pseudo-labelling and retraining on `model` (holding the source stage);
    returns what to record of each round."""
    cfg = ctx.exp.protocol.self_training
    texts, unlabelled, enc_u, entity_free_share = _unlabelled(ctx, key, target)
    stage = method.trainable_state(model)
    rounds, lr = [], None
    for r in range(1, cfg.rounds + 1):
        pseudo, record = _pseudo_label(ctx, model, method, texts, enc_u, unlabelled, cfg.fraction, entity_free_share)
        res, lr = _retrain(ctx, key, method, model, stage, pseudo, f"{key.label()} round {r}")
        rounds.append({"round": r, "unlabelled": len(texts), **record,
                       "val_score": res.best_val_f1, "steps": res.steps, "seconds": round(res.seconds, 1)})
    return {"lr": lr, "self_training": rounds}


def few_shot_self_train(ctx, key, method, model, target, shots: list, continue_on_target) -> dict:
    """Few-shot with the rest of the target's text unlabelled: the few-shot model (`continue_on_target` on
    the N `shots`) labels the other texts; each round goes back to the source stage and learns the source
    rows plus the confident pseudo-labels, then the N labelled shots as a few-shot run does (a frozen
    method refits its head once on source + pseudo-labelled + shots, the shots weighing as much as the
    rest). The shots' own texts are never pseudo-labelled. Returns what to record, with "rows"."""
    cfg = ctx.exp.protocol.self_training
    texts, unlabelled, enc_u, entity_free_share = _unlabelled(ctx, key, target, {r.text for r in shots})
    stage = method.trainable_state(model)
    first = continue_on_target(ctx, key, method, model, target, shots)
    rounds = [{"round": 0, "few_shot": {k: first[k] for k in ("best_val_f1", "steps", "rows")}}]
    for r in range(1, cfg.rounds + 1):
        pseudo, record = _pseudo_label(ctx, model, method, texts, enc_u, unlabelled, cfg.fraction, entity_free_share)
        if method.frozen_features:
            method.load_trainable_state(model, stage)
            res = continue_on_target(ctx, key, method, model, target, shots, ctx.source_train(key.seed)[0] + pseudo)
            retrain = {}
        else:
            st, lr = _retrain(ctx, key, method, model, stage, pseudo, f"{key.label()} round {r}")
            retrain = {"val_score_source": st.best_val_f1, "steps_source": st.steps, "lr_source": lr}
            res = continue_on_target(ctx, key, method, model, target, shots)
        rounds.append({"round": r, "unlabelled": len(texts), **record, **retrain, "val_score": res["best_val_f1"],
                       "steps": res["steps"], "rows": res["rows"], "seconds": round(res["seconds"], 1)})
    return {**res, "self_training": rounds}
