"""What an adaptation method is: which parameters train, and how the result is saved and exported.

The training loop (xlt.train) is the same for every method.
"""
from __future__ import annotations

import torch
from torch import nn


class AdaptationMethod:
    """Base class; subclasses override `prepare` (and `export` when they wrap the model)."""

    name = "base"
    default_lr = 5e-5
    default_lr_continue = 3e-5
    frozen_features = False  # True: encoder frozen, pooled features computed once and cached

    def __init__(self, cfg, task: str = "classification"):
        self.cfg = cfg  # the config's `method:` section
        self.task = task  # classification, ner or pos

    def lr(self, training) -> float:
        """The learning rate of a stage that starts from the pretrained model (source stage, target-only):
        `method: lr`, else `training.lr`, else this method's default."""
        return self.cfg.lr or training.lr or self.default_lr

    def lr_continue(self, training) -> float:
        """The learning rate of a stage that continues the source stage (few-, full-shot, self-training)."""
        return self.cfg.lr_continue or training.lr_continue or self.default_lr_continue

    def check(self, spec) -> None:
        """Raise XltError when this method cannot work with the resolved model `spec` (a ModelSpec);
        called before an experiment writes anything, so a bad config leaves no half-made run folder."""

    def prepare(self, model: nn.Module) -> nn.Module:
        """Return the model to train, with requires_grad set on exactly the trainable parameters."""
        raise NotImplementedError

    def trainable_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The parameters a checkpoint must keep (everything else comes from the base model)."""
        return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}

    def load_trainable_state(self, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
        missing = set(state) - {k for k, _ in model.named_parameters()}
        if missing:
            raise RuntimeError(f"checkpoint has parameters the model lacks: {sorted(missing)[:3]}")
        model.load_state_dict(state, strict=False)

    def use_language(self, model: nn.Module, language: str, adapters_provider) -> None:
        """Called before training on or predicting a language; language-specific methods (MAD-X) swap
        their language module here, others ignore it."""

    def export(self, model: nn.Module) -> nn.Module:
        """A plain transformers model with the adaptation folded in (for saving and serving)."""
        return model

    def save(self, model: nn.Module, tokenizer, out, extra_config: dict) -> None:
        """Write a model directory that transformers (and `xlt predict`) load."""
        from xlt.models import save_for_transformers

        save_for_transformers(self.export(model), tokenizer, out, extra_config)


def freeze_word_embeddings(model: nn.Module) -> None:
    """Freeze the (250k-row) word embeddings: little to learn from small data, much to forget."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if emb is not None:
        emb.weight.requires_grad_(False)


def head_parameters(model: nn.Module) -> list[str]:
    """Names of the task head's parameters (trained by every method)."""
    return [k for k, _ in model.named_parameters() if k.startswith(("classifier", "score"))]
