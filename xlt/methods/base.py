"""What an adaptation method is: its config section, which parameters train, and how the result is
saved and exported. The training loop (xlt.train) is the same for every method.

A new method is one module in xlt/methods: a `MethodConfig` subclass (its keys, with `name` a
literal) and an `AdaptationMethod` subclass that names it and registers itself with `@METHODS.register`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from xlt.settings import Strict, setting

if TYPE_CHECKING:  # torch is imported where a model is trained, not where a config is read
    import torch
    from torch import nn


class MethodConfig(Strict):
    """Keys every method has. A method's own config class adds its keys; a key no method of that name
    reads is an error, and only the keys a method has identify its runs."""

    name: str
    """The method (xlt/methods): full, lora, frozen, madx, prompt."""
    lr: float | None = setting(None, gt=0)
    """This method's learning rate from the pretrained model, over training.lr (unset: training's, else the
    method's default): methods compared in one config rarely share one (LoRA trains at ten times full's)."""
    lr_continue: float | None = setting(None, gt=0, identity="run")
    """This method's learning rate when continuing the source stage, over training.lr_continue."""
    few_shot_choice: Literal["few_shot", "cv"] = setting("few_shot", identity="run", omit_when="few_shot")
    """Few-shot runs of text classification: "cv" keeps the zero-shot model, the few-shot model or their
    average, whichever cross-validation on the N shots prefers (protocol.cv_folds folds; each fold trains
    once more); "few_shot" keeps the few-shot model. On the generalisation suite cv lost to few_shot on the
    data it was chosen on (docs/defaults.md), so it is an option."""

    def apply_task_defaults(self, task) -> None:
        """Fill the settings whose default depends on the task (LoRA's rank and layers)."""


class AdaptationMethod:
    """Base class; subclasses set `name`, `config` and override `prepare` (and `export` when they wrap the
    model)."""

    name: ClassVar[str] = "base"
    config: ClassVar[type[MethodConfig]] = MethodConfig
    default_lr: float = 5e-5
    default_lr_continue: float = 3e-5
    frozen_features = False  # True: encoder frozen, pooled features computed once and cached

    def __init__(self, cfg: MethodConfig, task):
        self.cfg = cfg.model_copy()  # the config's `method:` section, task defaults filled in
        self.cfg.apply_task_defaults(task)
        self.task = task  # an xlt.tasks Task

    @classmethod
    def supports(cls, task) -> bool:
        """Whether this method works on `task` (an xlt.tasks Task); `check` explains a refusal in one error."""
        return True

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

    def setup(self, ctx) -> None:
        """Once per experiment, before any run and before anything is written: method-specific set-up
        (MAD-X's language adapters), raising XltError for what the data cannot give."""

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

    def use_language(self, model: nn.Module, language: str, labelled: bool = False) -> None:
        """Called before training on or predicting a language; language-specific methods (MAD-X) swap
        their language module here, others ignore it. `labelled`: the run trains on labelled rows of that
        language (few-shot, target-only, joint), which the frozen method's default alignment leaves unmapped."""

    def head_features(self, x: torch.Tensor, languages: list[str] | None) -> torch.Tensor:
        """The sentence vectors a frozen head is fitted on, given each row's language (None: the language set by
        use_language): the frozen method's alignment maps target rows here; others leave them."""
        return x

    def record(self, languages: list[str]) -> dict:
        """What a run's record keeps of this method's per-language set-up (MAD-X: its language adapters)."""
        return {}

    def export(self, model: nn.Module) -> nn.Module:
        """The plain transformers model to save (LoRA merged in)."""
        return model

    def save(self, model: nn.Module, tokenizer, out, extra_config: dict) -> None:
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
