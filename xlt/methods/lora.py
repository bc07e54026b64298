"""LoRA through `peft`. The classification head is trained and saved with the adapter
(peft's `modules_to_save`), so it comes back on load, and `export` merges LoRA into the weights.

Rank, alpha, layers and learning rate default per task (`Task.lora`): r 8 on query/value at lr 1e-3
for classification, r 16 on every linear layer at lr 5e-4 for word tagging (BENCHMARKS.md). Where an
architecture names its layers otherwise (DeBERTa query_proj, DistilBERT q_lin), the default layers are
peft's for that architecture."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PrivateAttr

from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig
from xlt.settings import setting

if TYPE_CHECKING:
    from torch import nn


class LoraConfig(MethodConfig):
    name: Literal["lora"] = "lora"
    r: int | None = setting(None, gt=0)
    """Rank; default per task."""
    alpha: int | None = setting(None, gt=0)
    """Scaling numerator (alpha / r); default per task."""
    dropout: float = setting(0.1, ge=0, lt=1)
    """Dropout on the LoRA path."""
    target_modules: list[str] | None = None
    """Layer names LoRA wraps; default per task, or peft's for architectures that name layers otherwise."""
    _default_targets: bool = PrivateAttr(False)

    def apply_task_defaults(self, task) -> None:
        d = task.lora
        self.r = self.r or d.r
        self.alpha = self.alpha or d.alpha
        self._default_targets = self._default_targets or self.target_modules is None
        self.target_modules = self.target_modules or list(d.target_modules)


# Families peft's per-architecture table leaves out
OWN_DEFAULT_TARGETS = {"distilbert": ["q_lin", "v_lin"]}


def architecture_targets(model_type: str) -> list[str] | None:
    """peft's default LoRA layers for an architecture (query and value projections), or xlt's own for the
    families peft's table lacks."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    found = PEFT_DEFAULTS.get(model_type) or OWN_DEFAULT_TARGETS.get(model_type)
    return list(found) if found else None


@METHODS.register
class Lora(AdaptationMethod):
    name = "lora"
    config = LoraConfig
    default_lr_continue = 5e-4

    @property
    def default_lr(self) -> float:
        return self.task.lora.lr

    def check(self, spec) -> None:
        """The layer names, read from the architecture built on the meta device (no weights loaded)."""
        import torch
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(spec.path)
        with torch.device("meta"):
            encoder = AutoModel.from_config(config)
        if self.cfg._default_targets and _unmatched(encoder, list(self.cfg.target_modules)):
            self.cfg.target_modules = architecture_targets(config.model_type) or self.cfg.target_modules
        _check_target_modules(encoder, list(self.cfg.target_modules))

    def prepare(self, model):
        from peft import LoraConfig as PeftLoraConfig
        from peft import TaskType, get_peft_model

        _check_target_modules(model, list(self.cfg.target_modules))
        cfg = PeftLoraConfig(r=self.cfg.r, lora_alpha=self.cfg.alpha, lora_dropout=self.cfg.dropout,
                             target_modules=list(self.cfg.target_modules),
                             task_type=TaskType[self.task.peft_task_type], modules_to_save=["classifier"])
        return get_peft_model(model, cfg)

    def export(self, model):
        from peft import PeftModel

        return model.merge_and_unload() if isinstance(model, PeftModel) else model


def _check_target_modules(model: nn.Module, targets: list[str]) -> None:
    """peft matches a target by the end of a layer's name; say which names this model has when one
    matches nothing (hub encoders name their layers differently: DistilBERT q_lin, DeBERTa query_proj)."""
    missing = _unmatched(model, targets)
    if missing:
        names = sorted({n.split(".")[-1] for n in _linear_layers(model)})
        raise XltError(f"method.target_modules {missing} match no linear layer of this model; its linear layers "
                       f"are named {names}: list some of those in method.target_modules")


def _linear_layers(model: nn.Module) -> list[str]:
    from torch import nn

    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and "classifier" not in n]


def _unmatched(model: nn.Module, targets: list[str]) -> list[str]:
    linear = _linear_layers(model)
    return [t for t in targets if not any(n == t or n.endswith("." + t) for n in linear)]
