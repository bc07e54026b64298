"""The alignment loss of fine-tuning (`training.align_loss`): each optimiser step of the source stage also sees a
batch of parallel pairs, and the sentence vectors of each pair's two sides are pulled together, by cosine or by
InfoNCE with in-batch negatives (as in the MAD-X study's alignment term and in contrastive cross-lingual
pretraining, e.g. Chi et al. 2021). The sentence vector is what the head reads (a classifier's pooled input), or the
mean over the words of what a tagger's head reads, captured by a hook so it works through peft and adapters."""
from __future__ import annotations

import random

import torch
from torch import nn

from xlt.errors import XltError


class PairBatches:
    """Encoded parallel pairs of every target language, drawn in random batches."""

    def __init__(self, cfg, source_ids: list[list[int]], target_ids: list[list[int]], record: dict):
        self.cfg, self.source_ids, self.target_ids, self.record = cfg, source_ids, target_ids, record

    def loss(self, model: nn.Module, rng: random.Random, pad_id: int, dev, bf16: bool) -> torch.Tensor:
        from xlt.train import autocast, collate, to_device

        idx = rng.sample(range(len(self.source_ids)), min(self.cfg.batch_size, len(self.source_ids)))
        vectors = []
        for side in (self.source_ids, self.target_ids):
            batch = to_device(collate([side[i] for i in idx], pad_id), dev)
            with autocast(dev, bf16):
                vectors.append(sentence_vectors(model, batch))
        return self.cfg.weight * pair_loss(*vectors, self.cfg.loss, self.cfg.temperature)


def pair_loss(a: torch.Tensor, b: torch.Tensor, kind: str, temperature: float) -> torch.Tensor:
    a, b = nn.functional.normalize(a.float(), dim=-1), nn.functional.normalize(b.float(), dim=-1)
    if kind == "cosine":
        return (1 - (a * b).sum(-1)).mean()
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2


def sentence_vectors(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """What the head reads for each text: a classifier's pooled input, or a tagger's word vectors averaged over the
    text's tokens (prompt positions, where a method adds them, are part of what the head reads)."""
    from xlt.train import _classifier

    seen: list[torch.Tensor] = []
    hook = _classifier(model).register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        model(**batch)
    finally:
        hook.remove()
    x = seen[0]
    if x.dim() == 3:  # a tagger: one vector per token
        mask = batch["attention_mask"].unsqueeze(-1).to(x.dtype)
        x = (x * mask).sum(1) / mask.sum(1).clamp(min=1)
    return x


def pair_batches(ctx) -> PairBatches | None:
    """The configured pairs of every target language with the source, read and encoded once per experiment (every
    problem is one XltError before anything is written); None without `training.align_loss`."""
    from xlt.align.parallel import pairs_by_target

    cfg = ctx.exp.training.align_loss
    if cfg is None:
        return None
    if "madx" in ctx.methods:
        raise XltError("training.align_loss pulls the source and target sides through one model, and madx reads each "
                       "language through its own adapter; use it with full, lora or prompt")
    if any(m.frozen_features for m in ctx.methods.values()):
        raise XltError("training.align_loss trains the encoder, which method frozen keeps fixed; for frozen use "
                       "method: {name: frozen, align: ...} (a map between the languages' vectors)")
    src, tgt, record = [], [], {}
    for target, (pairs, where) in pairs_by_target(ctx, cfg.parallel, cfg.max_pairs).items():
        src += [s for s, _ in pairs]
        tgt += [t for _, t in pairs]
        record[target] = {"pairs": len(pairs), "parallel": where}
    if not record:
        raise XltError("training.align_loss needs a target language other than the source's")
    encode = lambda texts: ctx.tokenizer([ctx.spec.text_prefix + t for t in texts], truncation=True,  # noqa: E731
                                         max_length=ctx.exp.training.max_length)["input_ids"]
    return PairBatches(cfg, encode(src), encode(tgt), {"loss": cfg.loss, "weight": cfg.weight, "languages": record})
