"""The few-shot rare-class guard (`protocol.rare_class_guard`).

A few-shot head refitted on source rows plus N target shots can stop predicting a class the target plainly
has: its target texts look like another class's to the encoder, and a handful of shots does not pull the
decision boundary back (on MasakhaNEWS Lingala at N = 50, business texts all went to politics). The shots
are a stratified sample of the target's training split, so they estimate the target's class mix; the
guard compares that mix with the class mix the fitted model predicts on the target's other texts (labels
unread). When a class that the shots hold is predicted for under `ratio` of its share among the shots,
the run is refitted with each class's loss weighed by its inverse frequency (training.class_weighted_loss)
and says so in its record. Class weights for every few-shot run cost 1-3.5 macro-F1 on MasakhaNEWS
(docs/defaults.md), so they are applied only where the guard sees the failure.
"""
from __future__ import annotations

import numpy as np

from xlt.data.examples import unlabelled_texts
from xlt.evaluate.label_shift import class_shares
from xlt.protocol.choice import predict_texts


def check_rare_classes(ctx, method, model, target, shots: list,
                       ratio: float) -> tuple[dict, np.ndarray | None]:
    """What the guard saw: each class's share among the shots and among the model's predictions on the
    target's unlabelled texts (its `unlabelled:` file, else its training and validation texts less the
    shots), and the classes predicted under `ratio` of their shot share (`starved`). Also the model's class
    probabilities on those texts, which prior matching reads again where no refit changed the model."""
    texts = unlabelled_texts(target, "protocol.rare_class_guard", {r.text for r in shots})
    shot = class_shares([r.label for r in shots], ctx.labels)
    probs, pred = None, shot
    if texts:
        labels, probs = predict_texts(ctx, method, model, texts)
        pred = class_shares(labels, ctx.labels)
    starved = [lab for lab, s, p in zip(ctx.labels, shot, pred) if s > 0 and p < ratio * s]
    return {"ratio": ratio, "texts": len(texts),
            "shot_shares": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, shot)},
            "predicted_shares": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, pred)},
            "starved": starved, "refit": False}, probs
