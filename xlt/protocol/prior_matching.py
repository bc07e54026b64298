"""Few-shot prior matching (`protocol.prior_matching`).

The N shots are a stratified sample of the target's training split, so their class mix is the target's. A
few-shot head fitted on source rows plus the shots can still give a class far less (or more) of the target's
texts than that mix says: the encoder places the target's texts of that class near another class's source
texts, and a handful of shots does not move the boundary back (MasakhaNEWS Lingala at N = 50: business texts
all went to politics). Prior matching shifts the head's class biases so that the mean predicted class
distribution on the target's other texts (labels unread) equals the shots' class mix, then keeps `strength`
of that shift (1: matched, 0: off). It is the known-prior case of the label-shift correction of Saerens et
al. (2002), with the shift estimated on the target's training texts and fixed before the test split is read,
so the test split's own class mix is not forced onto it. The shift is in the head's bias: a saved model
carries it.
"""
from __future__ import annotations

import numpy as np
import torch

from xlt.data.examples import unlabelled_texts
from xlt.errors import XltError
from xlt.evaluate.label_shift import class_shares
from xlt.protocol.choice import predict_texts

MAX_OFFSET = 10.0  # nats: a class the model gives almost no mass anywhere is not pushed without bound


def matching_offsets(probs: np.ndarray, target: np.ndarray, iters: int = 500, tol: float = 1e-6) -> np.ndarray:
    """Log-space offsets b, one per class, such that the mean of softmax(log probs + b) over the rows is
    `target` on the classes `target` gives a share. A class the shots do not hold is lowered with the most
    lowered class they hold, so it never gains on any of them (on MasakhaNEWS Yoruba, whose texts have no
    business or technology class, leaving those at 0 while others fell made texts technology)."""
    logp = np.log(np.clip(probs, 1e-30, None))
    active = target > 0
    b = np.zeros(probs.shape[1])
    for _ in range(iters):
        z = logp + b
        q = np.exp(z - z.max(1, keepdims=True))
        m = (q / q.sum(1, keepdims=True)).mean(0)
        goal = target[active] / target[active].sum() * (1 - m[~active].sum())
        step = np.log(goal / np.clip(m[active], 1e-30, None))
        b[active] = np.clip(b[active] + step, -MAX_OFFSET, MAX_OFFSET)
        b[~active] = min(0.0, b[active].min())
        if np.abs(step).max() < tol:
            break
    return b


def shift_probabilities(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """softmax(log probs + offsets): what a head whose biases moved by `offsets` predicts."""
    z = np.log(np.clip(probs, 1e-30, None)) + offsets
    q = np.exp(z - z.max(1, keepdims=True))
    return q / q.sum(1, keepdims=True)


def classifier_heads(model, n_labels: int) -> list[torch.nn.Linear]:
    """The model's linear classification head(s): a peft-wrapped head holds the trained copy and the original."""
    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
            and m.out_features == n_labels and name.split(".")[-1] in ("classifier", "default", "original_module",
                                                                       "out_proj", "score")
            and ("classifier" in name or "score" in name)]


def check_head(model, n_labels: int, method: str) -> None:
    """Refuse before training where there is no bias to shift."""
    if not classifier_heads(model, n_labels):
        raise XltError(f"protocol.prior_matching shifts a linear classification head's biases; method {method!r} "
                       "has none: remove protocol.prior_matching or use the frozen, full or lora method")


def match_priors(ctx, method, model, target, shots: list, strength: float,
                 probs: np.ndarray | None = None) -> dict:
    """Shift the head's biases by `strength` of the matching offsets; returns what to record. `probs`: the
    model's class probabilities on the target's unlabelled texts where they are known already (the rare-class
    guard predicted them, and nothing changed the model since)."""
    texts = unlabelled_texts(target, "protocol.prior_matching", {r.text for r in shots})
    shot = class_shares([r.label for r in shots], ctx.labels)
    record = {"strength": strength, "texts": len(texts),
              "shot_shares": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, shot)}}
    if not texts:
        return {**record, "offsets": None, "note": "no unlabelled target texts besides the shots: nothing shifted"}
    if probs is None:
        _, probs = predict_texts(ctx, method, model, texts)
    offsets = strength * matching_offsets(probs, shot)
    with torch.no_grad():
        for head in classifier_heads(model, len(ctx.labels)):
            head.bias.add_(torch.as_tensor(offsets, dtype=head.bias.dtype))
    after = shift_probabilities(probs, offsets).mean(0)
    # unrounded: bench/generalisation.py moves stored probabilities back by them to score other strengths
    return {**record, "offsets": [float(x) for x in offsets],
            "mean_probabilities_before": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, probs.mean(0))},
            "mean_probabilities_after": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, after)}}
