"""Few-shot that cannot lose to zero-shot in expectation (`protocol.few_shot_choice: cv`).

Continuing a source model on N target shots can hurt: the shots are few, and their class mix may not be
the test's. Which of three models to keep is decided by K-fold cross-validation on the shots themselves:
the zero-shot model (the source stage as it is), the few-shot model, and their average (the mean of the
two models' trainable weights: for the frozen method's linear head, the mean of the two heads' logits,
as in WiSE-FT, Wortsman et al. 2022). Each fold's few-shot model is trained as the real one is, on the
other folds; the zero-shot model never saw any shot, so it is scored on all of them. The choice is the
best pooled out-of-fold macro-F1 (ties: the few-shot model, then the average).
"""
from __future__ import annotations

import numpy as np

from xlt.evaluate.metrics import macro_f1
from xlt.protocol.stages import continue_on_target
from xlt.train import prediction_batch_size, use_bf16

CANDIDATES = ("few_shot", "average", "zero_shot")  # the order wins ties


def average_state(a: dict, b: dict) -> dict:
    return {k: (a[k].float() + b[k].float()).div(2).to(a[k].dtype) for k in a}


def predict_rows(ctx, method, model, rows: list, probabilities: bool = False):
    """The model's label for each of `rows` (their own labels unread), with the class probabilities as an
    array when `probabilities` is set."""
    tr = ctx.exp.training
    pred, probs = ctx.task.predict(model, ctx.tokenizer, ctx.encode(rows), ctx.labels,
                                   prediction_batch_size(tr), use_bf16(tr.bf16), method.frozen_features)
    return (pred, np.asarray(probs)) if probabilities else pred


def predict_texts(ctx, method, model, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The model's label and class probabilities for each of `texts`."""
    return predict_rows(ctx, method, model, ctx.task.unlabelled_rows(texts), probabilities=True)


def folds(rows: list, k: int, seed: int) -> list[list[int]]:
    """K stratified folds of `rows` (fewer when a class has fewer than K examples, at least 2)."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    labels = [r.label for r in rows]
    smallest = min(labels.count(lab) for lab in set(labels))
    k = max(2, min(k, len(rows) // 2))
    split = (StratifiedKFold(min(k, smallest), shuffle=True, random_state=seed) if smallest >= 2
             else KFold(k, shuffle=True, random_state=seed))
    return [list(test) for _, test in split.split(np.zeros(len(rows)), labels)]


def choose_by_cv(ctx, key, method, model, target, shots: list, stage: dict, head_c: float | None = None,
                 class_weighted: bool = False) -> dict:
    """Leave `model` (trained on all shots) as the candidate cross-validation prefers; returns the record.
    A frozen method's fold heads keep the regularisation `head_c` the full fit chose (a linear fit per fold,
    not a grid); `class_weighted`: the folds are fitted with class weights, as the full fit was."""
    few_shot = method.trainable_state(model)
    gold: list[str] = []
    preds: dict[str, list[str]] = {c: [] for c in CANDIDATES}
    parts = folds(shots, ctx.exp.protocol.cv_folds, key.seed)
    for held in parts:
        held_set = set(held)
        train = [r for i, r in enumerate(shots) if i not in held_set]
        test = [shots[i] for i in held]
        method.load_trainable_state(model, stage)
        continue_on_target(ctx, key, method, model, target, train, head_c=head_c, class_weighted=class_weighted)
        fold_state = method.trainable_state(model)
        preds["few_shot"] += predict_rows(ctx, method, model, test)
        method.load_trainable_state(model, average_state(stage, fold_state))
        preds["average"] += predict_rows(ctx, method, model, test)
        gold += [r.label for r in test]
    method.load_trainable_state(model, stage)
    order = [i for held in parts for i in held]
    zero = predict_rows(ctx, method, model, [shots[i] for i in order])
    preds["zero_shot"] = zero
    scores = {c: round(macro_f1(gold, preds[c]), 4) for c in CANDIDATES}
    chosen = max(CANDIDATES, key=lambda c: (scores[c], -CANDIDATES.index(c)))
    final = {"few_shot": few_shot, "zero_shot": stage, "average": average_state(stage, few_shot)}[chosen]
    method.load_trainable_state(model, final)
    return {"chosen": chosen, "cv_macro_f1": scores, "folds": len(parts)}
