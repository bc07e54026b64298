"""Comparing two methods run on the same data: paired by (language, strategy, N, seed).

Tests (scipy.stats): a paired permutation test (random sign flips of the differences), a paired
t-test, and Cohen's d for paired samples (mean difference / SD of the differences, d_z). They are
computed twice: over language x seed pairs (the unit of Khademi & Moradi, 2024) and over per-language seed
means (independent of seed noise; fewer pairs, more honest about what varies).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import stats

from xlt.protocol.strategies import is_reference


def score(run: dict) -> float:
    m = run["metrics"]
    return float(m.get("score", m.get("macro_f1")))


def paired_test(a: list[float], b: list[float], seed: int = 0) -> dict:
    """Mean difference a - b with permutation p, t-test p and Cohen's d_z."""
    d = np.asarray(a, float) - np.asarray(b, float)
    out = {"n": len(d), "mean_a": float(np.mean(a)), "mean_b": float(np.mean(b)), "mean_diff": float(d.mean())}
    if len(d) < 2:
        return {**out, "p_permutation": float("nan"), "p_ttest": float("nan"), "cohens_d": float("nan")}
    perm = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=9999,
                                  alternative="two-sided", random_state=np.random.default_rng(seed))
    sd = d.std(ddof=1)
    t = stats.ttest_rel(a, b) if sd > 0 else None
    return {**out, "p_permutation": float(perm.pvalue), "p_ttest": float(t.pvalue) if t is not None else float("nan"),
            "cohens_d": float(d.mean() / sd) if sd > 0 else float("nan")}


def compare_methods(runs: list[dict], a: str, b: str) -> list[dict]:
    """One row per (strategy, N): tests over language x seed pairs and over language means."""
    by = defaultdict(dict)
    for r in runs:
        if is_reference(r["strategy"]) or r["method"] not in (a, b):
            continue
        by[(r["strategy"], r["n"])][(r["method"], f"{r['dataset']}/{r['language']}", r["seed"])] = score(r)
    rows = []
    for (strategy, n), vals in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        pairs = sorted({(lang, seed) for (_m, lang, seed) in vals if (a, lang, seed) in vals and (b, lang, seed) in vals})
        if not pairs:
            continue
        xa = [vals[(a, lang, seed)] for lang, seed in pairs]
        xb = [vals[(b, lang, seed)] for lang, seed in pairs]
        langs = sorted({lang for lang, _ in pairs})
        la = [np.mean([vals[(a, lang, s)] for ll, s in pairs if ll == lang]) for lang in langs]
        lb = [np.mean([vals[(b, lang, s)] for ll, s in pairs if ll == lang]) for lang in langs]
        rows.append({"strategy": strategy, "n": n, "languages": len(langs), "seeds": len({s for _, s in pairs}),
                     "pairs": paired_test(xa, xb), "language_means": paired_test(la, lb)})
    return rows
