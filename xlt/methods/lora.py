"""LoRA through `peft`. The classification head is trained and saved with the adapter
(peft's `modules_to_save`), so it comes back on load, and `export` merges LoRA into the weights."""
from peft import LoraConfig, PeftModel, TaskType, get_peft_model

from xlt.methods.base import AdaptationMethod


class Lora(AdaptationMethod):
    name = "lora"
    default_lr_continue = 5e-4

    @property
    def default_lr(self) -> float:
        """1e-3 for classification (NusaX); 5e-4 for word tagging, where r 16 on every linear layer
        (config.TOKEN_LORA) diverged at 1e-3 and underfitted English at 3e-4 (BENCHMARKS.md)."""
        return 1e-3 if self.task == "classification" else 5e-4

    def prepare(self, model):
        cfg = LoraConfig(r=self.cfg.r, lora_alpha=self.cfg.alpha, lora_dropout=self.cfg.dropout,
                         target_modules=list(self.cfg.target_modules),
                         task_type=TaskType.SEQ_CLS if self.task == "classification" else TaskType.TOKEN_CLS,
                         modules_to_save=["classifier"])
        return get_peft_model(model, cfg)

    def export(self, model):
        return model.merge_and_unload() if isinstance(model, PeftModel) else model
