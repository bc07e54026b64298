"""Warnings about results that are not to be trusted as they stand, read from the store alone:

- a method below its own frozen-embedding baseline (the same rows, a logistic regression on the untouched
  encoder's embeddings): the method's training made things worse than not training the encoder at all;
- a run whose predicted class shares are far from both the training data's and the target's class priors
  as EM estimates them from the texts (labels unread): the model leans one way for no reason the data gives;
- a learning curve that falls as N grows by more than the spread of its seeds (zero-shot counts as N = 0).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from xlt.evaluate.compare import score
from xlt.protocol.strategies import STRATEGIES, is_reference
from xlt.report.tables import row_name

FAR = 0.25  # total variation distance between two class distributions that counts as far
BELOW = 0.005  # a method this much below its baseline (macro-F1) is reported


def _means(runs: list[dict]) -> dict:
    """(method, dataset/language, strategy, n) -> scores over seeds."""
    out = defaultdict(list)
    for r in runs:
        if not is_reference(r["strategy"]):
            out[(r["method"], f"{r['dataset']}/{r['language']}", r["strategy"], r["n"])].append(score(r))
    return out


def below_baseline(runs: list[dict], methods: list[str], baseline: str = "embedding-lr") -> list[str]:
    scores = _means(runs)
    out = []
    for (m, lang, strategy, n), vals in sorted(scores.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3] or 0)):
        base = scores.get((baseline, lang, strategy, n))
        if m in methods and base and np.mean(vals) < np.mean(base) - BELOW:
            out.append(f"{lang} {row_name(strategy, n)}: {m} {np.mean(vals):.3f} < {np.mean(base):.3f}")
    if not out:
        return []
    return [f"{len(out)} result(s) below the frozen-embedding baseline fitted on the same rows (the method's "
            "training did worse than leaving the encoder untouched): " + "; ".join(out)]


def _tv(a: dict, b: list[float] | dict, labels: list[str]) -> float:
    bv = [b.get(k, 0.0) for k in labels] if isinstance(b, dict) else b
    return 0.5 * float(np.abs(np.array([a.get(k, 0.0) for k in labels]) - np.array(bv)).sum())


def leaning_runs(runs: list[dict], methods: list[str]) -> list[str]:
    out = []
    for r in runs:
        pred = ((r.get("train_info") or {}).get("predictions") or {})
        shares, train = pred.get("predicted_shares"), pred.get("train_shares")
        estimate = (pred.get("label_shift") or pred.get("prior_estimate") or {}).get("target_prior")
        if r["method"] not in methods or not shares or not train or estimate is None:
            continue
        labels = list(shares)
        d_train, d_prior = _tv(shares, train, labels), _tv(shares, estimate, labels)
        if d_train >= FAR and d_prior >= FAR:
            top = max(shares, key=shares.get)
            out.append(f"{r['dataset']}/{r['language']} {row_name(r['strategy'], r['n'])} seed {r['seed']} "
                       f"({r['method']}): {shares[top]:.0%} predicted {top}, against {train.get(top, 0):.0%} in "
                       f"training and {estimate[labels.index(top)]:.0%} estimated for the target")
    if not out:
        return []
    return [f"{len(out)} run(s) predict a class mix far from both the training data's and the target's estimated "
            "priors (total variation >= 0.25): " + "; ".join(out)]


def falling_curves(runs: list[dict], methods: list[str]) -> list[str]:
    scores = _means(runs)
    out, one_seed = [], False
    curves = defaultdict(dict)
    for (m, lang, strategy, n), vals in scores.items():
        s = STRATEGIES.get(strategy)
        if m in methods and s.uses_shots:
            curves[(m, lang, strategy)][n] = vals
    for (m, lang, strategy), points in sorted(curves.items()):
        zero = scores.get((m, lang, "zero_shot", None))
        if zero:
            points = {0: zero, **points}
        ns = sorted(points)
        for a, b in zip(ns, ns[1:]):
            va, vb = points[a], points[b]
            if min(len(va), len(vb)) < 2:
                one_seed = True
                continue
            spread = float(np.hypot(np.std(va, ddof=1), np.std(vb, ddof=1)))
            if np.mean(vb) < np.mean(va) - spread:
                out.append(f"{lang} {STRATEGIES.get(strategy).title} ({m}): N={a} {np.mean(va):.3f} -> N={b} "
                           f"{np.mean(vb):.3f}, beyond the seed spread ({spread:.3f})")
    notes = [f"{len(out)} learning-curve step(s) fall as N grows: " + "; ".join(out)] if out else []
    if one_seed and not out:
        notes.append("learning curves from one seed cannot be told from noise; run protocol.seeds: [0, 1, 2] to "
                     "see which steps are real")
    return notes


def trust_warnings(runs: list[dict], methods: list[str]) -> list[str]:
    return below_baseline(runs, methods) + leaning_runs(runs, methods) + falling_curves(runs, methods)
