"""Two rankers of candidate sources for a target, and their evaluation.

- The heuristic needs no transfer results: closer languages (mean of the URIEL distances), more shared
  subwords, more source data and more shared labels rank higher; each feature is standardised over the
  candidates so no unit dominates.
- The learned ranker (LANGRANK, Lin et al., 2019) is gradient-boosted trees trained with the lambdarank
  objective (LightGBM) on transfer results: for each target seen, its candidates' features and how well
  each transferred (relevance: 3 for the best source, 2 the second, 1 the third, 0 the rest). Besides the
  pair features it can read each source's record (`source_record`): how far above the other candidates it
  transferred to the other measured targets, since some languages are good sources for most targets.
"""
from __future__ import annotations

import math
import random

from xlt.ranking.features import LANGRANK_EXTRA, PAIR_FEATURES, URIEL_SETS, pair_features, text_profile

TOP_K = 3


def _standardised(values: list[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0] * len(values)
    mean = sum(known) / len(known)
    sd = math.sqrt(sum((v - mean) ** 2 for v in known) / len(known)) or 1.0
    return [0.0 if v is None else (v - mean) / sd for v in values]  # unknown: the candidates' mean


def heuristic_scores(features: list[dict]) -> list[float]:
    """One score per candidate (higher: transfer expected to work better)."""
    distance = [None if all(f[k] is None for k in URIEL_SETS) else
                sum(f[k] for k in URIEL_SETS if f[k] is not None) / sum(f[k] is not None for k in URIEL_SETS)
                for f in features]
    parts = [[-v for v in _standardised(distance)], _standardised([f["subword_overlap"] for f in features]),
             [0.5 * v for v in _standardised([f["source_size"] for f in features])],
             _standardised([f["label_overlap"] for f in features])]
    return [sum(p[i] for p in parts) for i in range(len(features))]


def heuristic_for(candidates: list, target, tokenizer, profiles: dict) -> list[float]:
    """The heuristic's score of each candidate source (LanguageData) for `target`; `profiles` keeps each
    language's text profile by key, so a language is read once however many rankings it enters."""
    for d in [*candidates, target]:
        if d.key() not in profiles:
            profiles[d.key()] = text_profile(tokenizer, d)
    return heuristic_scores([pair_features(c, target, profiles[c.key()], profiles[target.key()])
                             for c in candidates])


def relevance(scores: list[float]) -> list[int]:
    """Graded relevance from measured transfer: TOP_K for the best source down to 1, 0 for the rest."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    rel = [0] * len(scores)
    for rank, i in enumerate(order[:TOP_K]):
        rel[i] = TOP_K - rank
    return rel


LANGRANK_FEATURES = [*PAIR_FEATURES, *LANGRANK_EXTRA]


def source_record(measured: dict[str, dict[str, float]], exclude: set[str]) -> dict[str, float]:
    """source -> its mean standardised score (z over each target's candidates) on the measured targets not in
    `exclude`. The target being ranked is always excluded by the caller, so its own results never inform
    its ranking; a source measured nowhere else has no record (missing, which the trees handle)."""
    zs: dict[str, list[float]] = {}
    for target, row in measured.items():
        if target in exclude or len(row) < 2:
            continue
        for source, z in zip(row, _standardised(list(row.values()))):
            zs.setdefault(source, []).append(z)
    return {s: sum(v) / len(v) for s, v in zs.items()}


def with_record(features: list[dict], sources: list[str], measured: dict[str, dict[str, float]],
                exclude: set[str]) -> list[dict]:
    """The candidates' features with each source's record on the measured targets not in `exclude`."""
    record = source_record(measured, exclude)
    return [{**f, "source_record": record.get(s)} for f, s in zip(features, sources)]


def _matrix(features: list[dict], names: list[str]):
    import numpy as np

    return np.array([[math.nan if f.get(k) is None else f[k] for k in names] for f in features], dtype=float)


class LearnedRanker:
    def __init__(self, model, features: list[str]):
        self.model, self.features = model, features

    def scores(self, features: list[dict]) -> list[float]:
        return [float(s) for s in self.model.predict(_matrix(features, self.features))]


def train_ranker(groups: list[tuple[list[dict], list[float]]], seed: int = 0,
                 features: list[str] = PAIR_FEATURES) -> LearnedRanker:
    """Fit lambdarank trees on (candidate features, measured scores) per target, reading `features`."""
    import numpy as np
    from lightgbm import LGBMRanker

    x = np.vstack([_matrix(f, features) for f, _ in groups])
    y = np.concatenate([relevance(s) for _, s in groups])
    model = LGBMRanker(objective="lambdarank", n_estimators=100, learning_rate=0.05, num_leaves=7,
                       min_child_samples=3, random_state=seed, verbose=-1,
                       label_gain=list(range(TOP_K + 1)), lambdarank_truncation_level=TOP_K)
    model.fit(x, y, group=[len(f) for f, _ in groups])
    return LearnedRanker(model, features)


def ndcg_at_k(predicted: list[float], measured: list[float], k: int = TOP_K) -> float:
    """NDCG@k of the predicted order, gains the graded relevance of the measured scores."""
    rel = relevance(measured)
    order = sorted(range(len(predicted)), key=lambda i: -predicted[i])
    dcg = sum(rel[i] / math.log2(r + 2) for r, i in enumerate(order[:k]))
    ideal = sum(g / math.log2(r + 2) for r, g in enumerate(sorted(rel, reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def regret(predicted: list[float], measured: list[float]) -> float:
    """The best source's score minus the score of the predicted top-1."""
    top = max(range(len(predicted)), key=lambda i: predicted[i])
    return max(measured) - measured[top]


def random_baseline(measured: list[float], draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Expected NDCG@k and regret of a random order."""
    rng = random.Random(seed)
    n, r = 0.0, 0.0
    for _ in range(draws):
        p = [rng.random() for _ in measured]
        n += ndcg_at_k(p, measured)
        r += regret(p, measured)
    return n / draws, r / draws
