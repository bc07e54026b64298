"""Label shift: the target's class mix differs from the training data's, and a classifier's probabilities
carry the training mix as their prior. Saerens, Latinne and Decaestecker (2002) re-estimate the new priors
by EM on the unlabelled texts to be classified, then re-weigh each text's probabilities by the ratio of the
new prior to the old. No label is read.

Example: a model trained on English reviews that are 38/24/38 negative/neutral/positive, scoring tweets
that are two-thirds negative, under-predicts "negative"; EM moves its prior towards what its own
predictions on the tweets imply.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 1e-6  # no prior reaches exactly 0 (a class the EM drives away could never come back)


@dataclass(frozen=True)
class PriorEstimate:
    train_prior: list[float]
    target_prior: list[float]
    iterations: int
    converged: bool


def reweigh(probs: np.ndarray, train_prior: np.ndarray, target_prior: np.ndarray) -> np.ndarray:
    """p'(y|x) proportional to p(y|x) * target_prior(y) / train_prior(y) (Bayes' rule with a new prior)."""
    w = probs * (np.maximum(target_prior, FLOOR) / np.maximum(train_prior, FLOOR))
    return w / w.sum(1, keepdims=True).clip(1e-300)


def em_priors(probs: np.ndarray, train_prior: np.ndarray, max_iter: int = 1000, tol: float = 1e-6,
              strength: float = 0.0) -> tuple[np.ndarray, PriorEstimate]:
    """EM of Saerens et al. (2002): the E-step re-weighs every text's probabilities with the current prior
    estimate, the M-step sets the prior to their mean. Returns the adjusted probabilities and the estimate.
    Classes absent from training (prior 0) stay at 0. `strength` > 0 is a Dirichlet prior centred on the
    training prior, worth strength x (number of texts) pseudo-texts (MAP-EM): the estimate can move at most
    1 / (1 + strength) of the way, which bounds the damage when the probabilities are miscalibrated."""
    probs = np.asarray(probs, dtype=float)
    train_prior = np.asarray(train_prior, dtype=float)
    train_prior = train_prior / train_prior.sum()
    prior, converged, it = train_prior.copy(), False, 0
    for it in range(1, max_iter + 1):
        adjusted = reweigh(probs, train_prior, prior)
        new = (adjusted.mean(0) + strength * train_prior) / (1 + strength)
        new[train_prior == 0] = 0.0
        new = new / new.sum()
        if np.abs(new - prior).max() < tol:
            prior, converged = new, True
            break
        prior = new
    adjusted = reweigh(probs, train_prior, prior)
    return adjusted, PriorEstimate([round(float(x), 4) for x in train_prior], [round(float(x), 4) for x in prior],
                                   it, converged)


def class_shares(labels: list[str], classes: list[str], weights: list[float] | None = None) -> np.ndarray:
    """The share of each class among `labels` (weighted when `weights` is given)."""
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros(len(classes))
    for lab, x in zip(labels, w):
        if lab in index:
            out[index[lab]] += x
    return out / max(out.sum(), 1e-300)
