"""Resolve a model reference ("embedded:multilingual-e5-small", a local directory or a hub id) to a
directory, a tokenizer and the facts the rest of xlt needs (pooling, text prefix)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from xlt.errors import XltError
from xlt.models import embedded
from xlt.models.modeling_meanpool import BertMeanPoolForSequenceClassification

DEFAULT_MODEL = f"embedded:{embedded.NAME}"
EMBEDDED = {embedded.NAME: embedded}


ROBERTA_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "xmod"}


@dataclass
class ModelSpec:
    """A resolved model reference."""

    ref: str
    path: Path
    pooling: str  # "mean" (mean-pooled head) or "cls" (the architecture's own head)
    text_prefix: str  # prepended to every input text, e.g. e5's "query: "

    def tokenizer(self):
        return AutoTokenizer.from_pretrained(self.path, fix_mistral_regex=False)

    def max_tokens(self) -> int | None:
        return position_limit(AutoConfig.from_pretrained(self.path))


def position_limit(cfg) -> int | None:
    """The longest input the position embeddings cover (RoBERTa-type models start positions after
    the padding index, so they cover two fewer), or None when the config does not say."""
    n = getattr(cfg, "max_position_embeddings", None)
    if n is None:
        return None
    return n - (cfg.pad_token_id + 1) if cfg.model_type in ROBERTA_POSITIONS else n


def resolve(ref: str | None) -> ModelSpec:
    """Turn a model reference into a local directory; one clear error when that is impossible."""
    ref = ref or DEFAULT_MODEL
    if ref.startswith("embedded:"):
        name = ref.split(":", 1)[1]
        if name not in EMBEDDED:
            raise XltError(f"unknown embedded model {name!r}; available: {', '.join(EMBEDDED)}")
        path = EMBEDDED[name].embedded_model_dir()
        return ModelSpec(ref, path, "mean", embedded.INFO["prefix"])
    local = Path(ref).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise XltError(f"{local} has no config.json; point model at a Hugging Face model directory")
        cfg = AutoConfig.from_pretrained(local)
        pooling = getattr(cfg, "xlt_pooling", "mean" if cfg.model_type == "bert" else "cls")
        return ModelSpec(ref, local, pooling, getattr(cfg, "xlt_text_prefix", ""))
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(ref, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except Exception as exc:
        raise XltError(
            f"model {ref!r} is neither a local directory nor reachable on the Hugging Face hub ({type(exc).__name__}). "
            f"Offline options: model: {DEFAULT_MODEL} (built in), or the path of a downloaded model directory"
        ) from None
    cfg = AutoConfig.from_pretrained(path)
    prefix = "query: " if "e5" in ref.lower() else ""
    return ModelSpec(ref, path, "mean" if cfg.model_type == "bert" else "cls", prefix)


def load_classifier(spec: ModelSpec, num_labels: int, id2label: dict[int, str]) -> torch.nn.Module:
    """A sequence classifier on the backbone: mean-pooled for BERT encoders, else the model's own head."""
    kwargs = dict(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    if spec.pooling == "mean":
        config = AutoConfig.from_pretrained(spec.path, **kwargs)
        return BertMeanPoolForSequenceClassification.from_pretrained(spec.path, config=config)
    return AutoModelForSequenceClassification.from_pretrained(spec.path, **kwargs)


def save_for_transformers(model: torch.nn.Module, tokenizer, out: Path, extra_config: dict | None = None,
                          state_dict: dict | None = None) -> None:
    """Save a plain model directory that `transformers` Auto classes load without xlt."""
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, BertMeanPoolForSequenceClassification):
        shutil.copy(Path(__file__).with_name("modeling_meanpool.py"), out / "modeling_meanpool.py")
        model.config.auto_map = {"AutoModelForSequenceClassification":
                                 "modeling_meanpool.BertMeanPoolForSequenceClassification"}
        model.config.architectures = ["BertMeanPoolForSequenceClassification"]
    for k, v in (extra_config or {}).items():
        setattr(model.config, k, v)
    model.save_pretrained(out, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(out)
