"""Cheaper dropout masks for CPU training.

On a CPU, PyTorch draws a dropout mask one random number per element from a single-threaded generator
(`bernoulli_`); on the embedded model's LoRA training step that was 22% of operator time
(`python bench/train_speed.py --profile`, BENCHMARKS.md). Here each element gets 16 random bits
instead, cut from 64-bit draws: a quarter of the generator calls. The drop rate is
round(p * 65536) / 65536 (within 8e-6 of p) and kept units are scaled by 1 / (1 - rate), so the
expected activation is unchanged, as with `nn.Dropout`. Masks come from torch's default
generator, so `torch.manual_seed` makes runs repeatable.

`fast_dropout(model)` swaps the model's dropout layers for the duration of training and puts the
originals back afterwards. Attention-probability dropout inside `scaled_dot_product_attention` keeps
torch's generator: routing it through a layer (the eager attention forward) measured no faster, its
extra copies cost what the cheaper mask saved.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """A boolean mask, True with probability 1 - round(p * 65536) / 65536, from 16 random bits per element."""
    n = shape.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(1 << 63), None)  # full 64 bits
    bits = words.view(torch.int16)[:n].view(shape)  # uniform over [-32768, 32767]
    return bits >= round(p * _LEVELS) - _LEVELS // 2


def effective_rate(p: float) -> float:
    return round(p * _LEVELS) / _LEVELS


class FastDropout(nn.Dropout):
    """`nn.Dropout` with masks cut from 64-bit random draws (see module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rate = effective_rate(self.p)
        if not self.training or rate == 0.0:
            return x
        if rate >= 1.0:
            return x * 0.0
        # `where` keeps only the boolean mask for the backward pass, as torch's own dropout does
        return torch.where(keep_mask(x.shape, self.p, x.device), x * (1.0 / (1.0 - rate)), 0.0)


def use_fast_dropout(setting: str) -> bool:
    """`training.fast_dropout`: auto means on a CPU only (GPU generators are fast already)."""
    return setting == "on" or (setting == "auto" and not torch.cuda.is_available())


@contextmanager
def fast_dropout(model: nn.Module, enabled: bool = True):
    """Within the block, every `nn.Dropout` of `model` is a `FastDropout` with the same rate; the originals
    are put back on exit."""
    if not enabled:
        yield model
        return
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                swapped.append((parent, name, child))
                setattr(parent, name, FastDropout(child.p).train(child.training))
    try:
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)
