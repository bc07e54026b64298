"""Maps from a target language's sentence-embedding space into the source language's, and retrieval accuracy.

- `mean_center`: x - mean(target) + mean(source). Much of what separates languages in a multilingual encoder is
  a per-language offset (Libovický et al. 2020); removing it needs only unlabelled text.
- `procrustes`: centre, then rotate by the orthogonal W that best maps the target sides of parallel sentence pairs
  onto their source sides (Schönemann 1966; the refinement step of Conneau et al. 2018). Orthogonal, so
  distances within the target language are kept and a few hundred pairs suffice.

The language means come from each language's own task text (the source's training texts, the target's
unlabelled text), so the map also removes the offset between the parallel corpus's domain and the task's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FeatureMap:
    """x -> (x - shift_from) @ rotation + shift_to, on row vectors."""

    rotation: np.ndarray  # d x d, orthogonal
    shift_from: np.ndarray  # d: the target language's mean
    shift_to: np.ndarray  # d: the source language's mean

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.shift_from) @ self.rotation + self.shift_to

    def as_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, b) with map(x) = x @ A + b: what a linear head folds in."""
        return self.rotation, self.shift_to - self.shift_from @ self.rotation

    def tensors(self) -> dict[str, np.ndarray]:
        return {"rotation": self.rotation, "shift_from": self.shift_from, "shift_to": self.shift_to}


def mean_center(source_mean: np.ndarray, target_mean: np.ndarray) -> FeatureMap:
    return FeatureMap(np.eye(len(source_mean), dtype=np.float32), target_mean, source_mean)


def procrustes(source_pairs: np.ndarray, target_pairs: np.ndarray, source_mean: np.ndarray,
               target_mean: np.ndarray) -> FeatureMap:
    """Row i of `target_pairs` translates row i of `source_pairs` (sentence embeddings). Each side is centred
    on its own mean before the rotation is fitted; the map itself centres on the task-text means."""
    from scipy.linalg import orthogonal_procrustes

    a = target_pairs - target_pairs.mean(0)
    b = source_pairs - source_pairs.mean(0)
    rotation, _ = orthogonal_procrustes(a, b)
    return FeatureMap(rotation.astype(np.float32), target_mean, source_mean)


def retrieval_accuracy(queries: np.ndarray, candidates: np.ndarray) -> float:
    """Share of queries whose nearest candidate by cosine similarity is their own translation (row i of
    `candidates` translates row i of `queries`), as in the Tatoeba task of XTREME (Hu et al. 2020)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    return float((np.argmax(q @ c.T, axis=1) == np.arange(len(q))).mean())
