"""Classification metrics (scikit-learn does the arithmetic) and the collapse check."""
from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def macro_f1(gold: list, pred: list) -> float:
    return float(f1_score(gold, pred, average="macro", zero_division=0))


def classification_metrics(gold: list[str], pred: list[str], labels: list[str], collapse_recall: float = 0.1,
                           collapse_share: float = 0.9) -> dict:
    """Accuracy, per-class P/R/F1, macro and weighted averages, confusion matrix, collapse flag."""
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(gold, pred, labels=labels, average="macro", zero_division=0)
    wp, wr, wf, _ = precision_recall_fscore_support(gold, pred, labels=labels, average="weighted", zero_division=0)
    per_class = {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                 for i, lab in enumerate(labels)}
    collapsed, reason = collapse_check(pred, per_class, collapse_recall, collapse_share)
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_precision": float(mp), "macro_recall": float(mr), "macro_f1": float(mf),
        "weighted_precision": float(wp), "weighted_recall": float(wr), "weighted_f1": float(wf),
        "per_class": per_class, "labels": labels,
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
        "n": len(gold), "collapsed": collapsed, "collapse_reason": reason,
    }


def collapse_check(pred: list[str], per_class: dict, min_recall: float, max_share: float) -> tuple[bool, str]:
    """A model has collapsed when a class with test examples is almost never recalled, or when
    nearly all predictions go to one class."""
    low = [f"{lab} recall {m['recall']:.2f}" for lab, m in per_class.items() if m["support"] > 0 and m["recall"] < min_recall]
    label, count = Counter(pred).most_common(1)[0] if pred else (None, 0)
    share = count / max(len(pred), 1)
    reasons = low + ([f"{share:.0%} of predictions are {label}"] if share >= max_share and len(per_class) > 1 else [])
    return bool(reasons), "; ".join(reasons)


def mean_sd(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def bootstrap_ci(values: list[float], level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (over seeds or languages); (nan, nan) for fewer than 2 values."""
    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return float("nan"), float("nan")
    from scipy.stats import bootstrap

    res = bootstrap((arr,), np.mean, confidence_level=level, n_resamples=n_boot, method="percentile",
                    random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
