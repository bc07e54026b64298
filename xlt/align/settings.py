"""The config of the alignment loss that fine-tuning adds on parallel sentences (`training.align_loss`)."""
from __future__ import annotations

from typing import Literal

from xlt.align.parallel import ParallelData
from xlt.settings import Strict, setting


class AlignLoss(Strict):
    """An alignment term added to the source stage's task loss: the sentence vectors of parallel pairs (source,
    each target language) pulled together, so what the head learns on the source reads the same on the targets."""

    loss: Literal["contrastive", "cosine"] = "contrastive"
    """contrastive: InfoNCE with in-batch negatives, both directions (a pair must be nearer than the batch's other
    sentences); cosine: 1 - cosine similarity of each pair (pulls pairs together, pushes nothing apart)."""
    weight: float = setting(1.0, gt=0)
    """The term's weight beside the task loss."""
    temperature: float = setting(0.05, gt=0)
    """contrastive only: the softmax temperature over cosine similarities."""
    parallel: ParallelData
    """tatoeba, {dataset: nusax-senti} (its train rows) or {files: {LANG: [SOURCE, TARGET]}}, as for alignment."""
    max_pairs: int = setting(1000, ge=10)
    """At most this many pairs per target language (the first ones)."""
    batch_size: int = setting(16, ge=2)
    """Pairs per optimiser step (the contrastive loss's negatives are the batch's other pairs)."""
