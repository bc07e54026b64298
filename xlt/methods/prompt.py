"""Soft prompts through `peft`: a few trainable vectors put in front of every input's word embeddings, the encoder
frozen, the head trained with them. `prompt_tuning` learns the vectors directly (Lester et al. 2021); `p_tuning`
produces them with a small MLP (Liu et al. 2021, P-tuning). A few thousand trained parameters per task, so a prompt
is cheap to keep per language; multilingual prompt learning keeps one prompt for every language (Zhao and Schütze
2021, on XNLI with XLM-R).

Sentence tasks only: a prompt adds positions in front of the words, which a word tagger would have to label.
A saved model keeps the base weights and head as a plain classifier and the prompt in `prompt/` (peft's format);
`xlt predict` and `xlt.load` put the prompt back in front."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig
from xlt.settings import setting

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

PROMPT_DIR = "prompt"


class PromptConfig(MethodConfig):
    name: Literal["prompt"] = "prompt"
    kind: Literal["prompt_tuning", "p_tuning"] = "prompt_tuning"
    """prompt_tuning: the prompt vectors are the parameters; p_tuning: an MLP produces them."""
    virtual_tokens: int = setting(20, gt=0, le=200)
    """Prompt length in vectors (each takes one of the model's positions)."""
    init_text: str | None = None
    """prompt_tuning: start the vectors from this text's word embeddings (repeated to the length); unset: from
    randomly drawn vocabulary embeddings."""


@METHODS.register
class Prompt(AdaptationMethod):
    name = "prompt"
    config = PromptConfig
    default_lr = 1e-2  # a prompt and a head from scratch: the rates prompt-tuning recipes use with AdamW
    default_lr_continue = 5e-3

    @classmethod
    def supports(cls, task) -> bool:
        return task.sentence_head

    def setup(self, ctx) -> None:
        limit, longest = ctx.spec.max_tokens(), ctx.exp.training.max_length
        if limit is not None and longest + self.cfg.virtual_tokens > limit:
            raise XltError(f"method prompt: {self.cfg.virtual_tokens} prompt vectors and texts of up to "
                           f"training.max_length {longest} tokens need {longest + self.cfg.virtual_tokens} positions, "
                           f"and the model has {limit}; lower training.max_length to {limit - self.cfg.virtual_tokens}")

    def check(self, spec) -> None:
        from transformers import AutoConfig

        from xlt.models.resolve import position_limit

        if not self.supports(self.task):
            raise XltError(f"method prompt puts vectors in front of the words, and task {self.task.name} labels every "
                           "word; use method lora, full or frozen for word tagging")
        if self.cfg.init_text is not None and self.cfg.kind != "prompt_tuning":
            raise XltError("method prompt: init_text starts prompt_tuning's vectors; p_tuning's come from its MLP")
        limit = position_limit(AutoConfig.from_pretrained(spec.path))
        if limit is not None and self.cfg.virtual_tokens >= limit:
            raise XltError(f"method prompt: virtual_tokens {self.cfg.virtual_tokens} leaves no positions for the text "
                           f"(the model reads {limit}); use fewer")

    def prepare(self, model):
        from peft import PromptEncoderConfig, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

        c = model.config  # the sizes peft reads, under the names each family uses (DistilBERT: n_layers, dim)
        common = dict(task_type=TaskType.SEQ_CLS, num_virtual_tokens=self.cfg.virtual_tokens,
                      modules_to_save=["classifier"],
                      num_layers=getattr(c, "num_hidden_layers", None) or getattr(c, "n_layers", None),
                      token_dim=getattr(c, "hidden_size", None) or getattr(c, "dim", None),
                      num_attention_heads=getattr(c, "num_attention_heads", None) or getattr(c, "n_heads", None))
        if self.cfg.kind == "p_tuning":
            cfg = PromptEncoderConfig(encoder_hidden_size=common["token_dim"], **common)
        elif self.cfg.init_text is not None:
            cfg = PromptTuningConfig(prompt_tuning_init=PromptTuningInit.TEXT, prompt_tuning_init_text=self.cfg.init_text,
                                     tokenizer_name_or_path=str(model.config._name_or_path), **common)
        else:
            cfg = PromptTuningConfig(prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB, **common)
        return get_peft_model(model, cfg)

    def export(self, model: nn.Module) -> nn.Module:
        raise XltError("a soft prompt cannot be merged into the weights; save the model with output.save_models "
                       "(base weights + head + prompt/, loaded by `xlt predict`, `xlt.load` or peft)")

    def save(self, model: nn.Module, tokenizer, out: Path, extra_config: dict) -> None:
        """The base model with the trained head as a plain classifier, and the prompt (with the head, as peft saves
        it) in prompt/."""
        from xlt.models import save_for_transformers

        inner = model.get_base_model()
        head = "classifier.modules_to_save.default."
        state = {k.replace(head, "classifier."): v for k, v in inner.state_dict().items()
                 if "classifier.original_module." not in k}
        save_for_transformers(inner, tokenizer, out, {**extra_config, "xlt_prompt": PROMPT_DIR}, state_dict=state)
        model.save_pretrained(str(out / PROMPT_DIR), safe_serialization=True)


def load_prompt(model, model_dir: Path):
    """A saved prompt model's prompt put back in front of its classifier (safetensors only)."""
    from peft import PeftModel

    path = model_dir / PROMPT_DIR
    if not (path / "adapter_model.safetensors").exists():
        raise XltError(f"{model_dir} is a prompt-tuned model but {PROMPT_DIR}/adapter_model.safetensors is missing; "
                       "copy the whole saved model directory")
    return PeftModel.from_pretrained(model, str(path)).eval()
