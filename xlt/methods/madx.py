"""MAD-X (Pfeiffer et al. 2020) through the `adapters` library.

- A language adapter per language (bottleneck + invertible adapter), trained by masked-language
  modelling on unlabelled text of that language, the rest of the model frozen. Trained once per
  language and saved under stages/.
- A task adapter (and the task head) trained on the source language, stacked on the source
  language adapter: Stack(lang_<source>, task).
- Zero-shot transfer swaps in the target's language adapter: Stack(lang_<target>, task).

A model without a masked-LM head (the embedded e5 has none) gets one initialised from the word
embeddings (tied decoder) and trained once on the source text with the encoder frozen; the language
adapters are then trained under that frozen head, as MAD-X trains them under the pretrained one.
The report says when this happened (`mlm_head` in the stage info).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig, head_parameters

if TYPE_CHECKING:
    from torch import nn

    from xlt.methods._language_adapters import LanguageAdapters

TASK = "task"


def lang(code: str) -> str:
    """The name of a language's adapter."""
    return f"lang_{code}"


class MadXConfig(MethodConfig):
    name: Literal["madx"] = "madx"
    task_reduction: int = Field(16, gt=0)
    """Task adapter bottleneck: hidden size / this."""
    lang_reduction: int = Field(2, gt=0)
    """Language adapter bottleneck."""
    lang_steps: int = Field(1000, gt=0)
    """Masked-LM steps per language adapter."""
    lang_lr: float = Field(5e-4, gt=0)
    """Learning rate of the language adapters' masked-LM training."""
    head_steps: int = Field(300, gt=0)
    """MLM head training, only for models without one (the embedded model)."""


@METHODS.register
class MadX(AdaptationMethod):
    name = "madx"
    config = MadXConfig
    default_lr = 1e-3
    default_lr_continue = 5e-4
    adapters: "LanguageAdapters | None" = None  # set up once per experiment (setup)

    def check(self, spec) -> None:
        """The adapters library must support the architecture (BERT, RoBERTa, XLM-R, DeBERTa, DistilBERT, ...)."""
        from adapters.models import MODEL_MIXIN_MAPPING
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        config = AutoConfig.from_pretrained(spec.path)
        backbone = MODEL_MAPPING.get(type(config), None)
        if backbone is None or backbone.__name__ not in MODEL_MIXIN_MAPPING:
            raise XltError(f"method madx: the adapters library does not support {config.model_type} models; use "
                           "method lora, full or frozen with this model")

    def setup(self, ctx) -> None:
        """Language adapters for the source and every target, trained on first use from each language's
        unlabelled text; a language without any is an error now, not an hour in."""
        from xlt.data.examples import unlabelled_texts
        from xlt.methods._language_adapters import LanguageAdapters

        if ctx.source.parts:
            raise XltError(f"method madx trains its task adapter above one source language's adapter; the joint "
                           f"source {ctx.source.key()} mixes {len(ctx.source.parts)} languages: use full, lora or "
                           "frozen with a joint source, or sources: {combine: each} (one model per source)")
        languages: dict = {}
        for d in [ctx.source, *ctx.targets]:
            languages.setdefault(d.language, d)
        for d in languages.values():
            unlabelled_texts(d, "MAD-X language adapters")
        self.adapters = LanguageAdapters(ctx.spec, ctx.tokenizer, ctx.stages.dir, self.cfg, ctx.exp.training,
                                         lambda lang: unlabelled_texts(languages[lang]), ctx.source.language)

    def record(self, languages: list[str]) -> dict:
        info = self.adapters.info if self.adapters is not None else {}
        return {"language_adapters": {k: v for k, v in info.items() if k in languages}} if info else {}

    def prepare(self, model: nn.Module) -> nn.Module:
        import adapters
        from adapters import SeqBnConfig

        adapters.init(model)
        model.add_adapter(TASK, config=SeqBnConfig(reduction_factor=self.cfg.task_reduction))
        model.train_adapter(TASK)
        heads = set(head_parameters(model))
        for k, p in model.named_parameters():
            if k in heads:
                p.requires_grad_(True)
        model.set_active_adapters(TASK)
        return model

    def use_language(self, model: nn.Module, language: str, labelled: bool = False) -> None:
        """Stack the language's adapter under the task adapter (loading it the first time)."""
        from adapters import SeqBnInvConfig
        from adapters.composition import Stack

        name = lang(language)
        if name not in model.adapters_config:
            model.add_adapter(name, config=SeqBnInvConfig(reduction_factor=self.cfg.lang_reduction))
            state = self.adapters(language)
            missing = set(state) - {k for k, _ in model.base_model.named_parameters()}
            if missing:
                raise RuntimeError(f"language adapter {name}: parameters the model lacks: {sorted(missing)[:3]}")
            model.base_model.load_state_dict(state, strict=False)
            for k, p in model.named_parameters():
                if f".{name}." in k:
                    p.requires_grad_(False)
        model.set_active_adapters(Stack(name, TASK))

    def export(self, model: nn.Module) -> nn.Module:
        raise XltError("MAD-X adapters cannot be merged into the weights; save the model with output.save_models "
                       "(base weights + head + adapters/, loaded by `xlt predict` or the adapters library)")

    def save(self, model: nn.Module, tokenizer, out: Path, extra_config: dict) -> None:
        """The base model with the trained head (plain transformers weights, adapters left out), and
        the active adapter stack in adapters/<name>/ (the `adapters` library's format); config.json
        names the stack (`xlt_adapters`) so `xlt predict` rebuilds Stack(lang, task)."""
        from xlt.models import save_for_transformers

        stack = list(model.active_adapters.children)  # in order, lang first (flatten() gives an unordered set)
        every = list(model.adapters_config.adapters)
        base = {k: v for k, v in model.state_dict().items() if not any(f".{a}." in k for a in every)}
        save_for_transformers(model, tokenizer, out, {**extra_config, "xlt_adapters": stack}, state_dict=base)
        (out / "adapters").mkdir(exist_ok=True)
        for name in stack:
            model.save_adapter(str(out / "adapters" / name), name, with_head=False)
