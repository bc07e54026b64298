"""LoRA through `peft`. The classification head is trained and saved with the adapter
(peft's `modules_to_save`), so it comes back on load, and `export` merges LoRA into the weights."""
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from torch import nn
from transformers import AutoConfig, AutoModel

from xlt.errors import XltError
from xlt.methods.base import AdaptationMethod


class Lora(AdaptationMethod):
    name = "lora"
    default_lr_continue = 5e-4

    @property
    def default_lr(self) -> float:
        """1e-3 for classification (NusaX); 5e-4 for word tagging, where r 16 on every linear layer
        (config.TOKEN_LORA) diverged at 1e-3 and underfitted English at 3e-4 (BENCHMARKS.md)."""
        return 1e-3 if self.task == "classification" else 5e-4

    def check(self, spec) -> None:
        """The layer names, read from the architecture built on the meta device (no weights loaded)."""
        with torch.device("meta"):
            encoder = AutoModel.from_config(AutoConfig.from_pretrained(spec.path))
        _check_target_modules(encoder, list(self.cfg.target_modules))

    def prepare(self, model):
        _check_target_modules(model, list(self.cfg.target_modules))
        cfg = LoraConfig(r=self.cfg.r, lora_alpha=self.cfg.alpha, lora_dropout=self.cfg.dropout,
                         target_modules=list(self.cfg.target_modules),
                         task_type=TaskType.SEQ_CLS if self.task == "classification" else TaskType.TOKEN_CLS,
                         modules_to_save=["classifier"])
        return get_peft_model(model, cfg)

    def export(self, model):
        return model.merge_and_unload() if isinstance(model, PeftModel) else model


def _check_target_modules(model: nn.Module, targets: list[str]) -> None:
    """peft matches a target by the end of a layer's name; say which names this model has when one
    matches nothing (hub encoders name their layers differently: DistilBERT q_lin, DeBERTa query_proj)."""
    linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and "classifier" not in n]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in linear)]
    if missing:
        names = sorted({n.split(".")[-1] for n in linear})
        raise XltError(f"method.target_modules {missing} match no linear layer of this model; its linear layers "
                       f"are named {names}: list some of those in method.target_modules")
