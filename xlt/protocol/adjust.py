"""What happens to a classification run's predictions between the model and the score, as the protocol
section asks: the average with the frozen-embedding head (`ensemble`), the target's class priors
re-estimated by EM (`label_shift`), and the fall-back when nearly every text gets one class
(`collapse_guard`). Each step reads the texts being scored, never their labels, and leaves its trace in
the run record. Every run records its training rows' class shares, its predicted class shares and the EM
estimate of the target's priors, applied or not (the report's warnings read them).
"""
from __future__ import annotations

import numpy as np

from xlt.baselines import embedding_head_probabilities, strategy_rows
from xlt.evaluate.label_shift import class_shares, em_priors


def adjust_predictions(ctx, key, test: list, probs: np.ndarray) -> tuple[np.ndarray, dict]:
    """The run's final class probabilities on `test`, and what to record of each step taken."""
    proto = ctx.exp.protocol
    train = strategy_rows(ctx, key)[0]
    train_shares = class_shares([r.label for r in train], ctx.labels)
    record: dict = {"train_shares": {lab: round(float(x), 4) for lab, x in zip(ctx.labels, train_shares)}}
    head = None
    if proto.ensemble == "embedding-head":
        head, fit = embedding_head_probabilities(ctx, key, test)
        probs = (probs + head) / 2
        record["ensemble"] = {"with": "embedding-head", **fit}
    # estimated always, for the report to compare the predictions with; unused, it is MAP-EM at strength 1, which
    # plain EM's runaway estimates on miscalibrated probabilities do not reach (docs/defaults.md)
    strength = proto.label_shift_strength if proto.label_shift == "em" else 1.0
    adjusted, estimate = em_priors(probs, train_shares, strength=strength)
    if proto.label_shift == "em":
        probs = adjusted
        record["label_shift"] = {"method": "em", "strength": strength, **estimate.__dict__}
    else:
        record["prior_estimate"] = {"method": "em", "strength": strength, **estimate.__dict__}
    if proto.collapse_guard is not None:
        share, label = _top_share(probs)
        if share >= proto.collapse_guard:
            if head is None:
                head, _ = embedding_head_probabilities(ctx, key, test)
            head_share, _ = _top_share(head)
            fell_back = head_share < share
            record["collapse_guard"] = {
                "share": round(share, 4), "label": ctx.labels[label], "fell_back": fell_back,
                "note": (f"{share:.0%} of the predictions were {ctx.labels[label]}; "
                         + ("the frozen-embedding head's predictions were used instead" if fell_back else
                            "the frozen-embedding head was as one-sided, so the model's were kept"))}
            if fell_back:
                probs = head
    shares = np.bincount(probs.argmax(1), minlength=len(ctx.labels)) / max(len(probs), 1)
    record["predicted_shares"] = {lab: round(float(x), 4) for lab, x in zip(ctx.labels, shares)}
    return probs, record


def _top_share(probs: np.ndarray) -> tuple[float, int]:
    counts = np.bincount(probs.argmax(1), minlength=probs.shape[1])
    return float(counts.max() / max(len(probs), 1)), int(counts.argmax())
