"""Resolve a model reference ("embedded:multilingual-e5-small", a local directory or a hub id) to a
directory, a tokenizer and the facts the rest of xlt needs (pooling, text prefix)."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from xlt.errors import XltError
from xlt.models import embedded
from xlt.models.modeling_meanpool import POOLED_CLASSIFIERS

DEFAULT_MODEL = f"embedded:{embedded.NAME}"
EMBEDDED = {embedded.NAME: embedded}


ROBERTA_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "xmod"}


@dataclass
class ModelSpec:
    """A resolved model reference."""

    ref: str
    path: Path
    pooling: str  # "mean" (over non-padding tokens) or "cls" (the first token): the sentence vector
    text_prefix: str  # prepended to every input text, e.g. e5's "query: "
    name: str = ""  # the model's name in tables and folders

    def tokenizer(self):
        return load_tokenizer(self.path)

    def max_tokens(self) -> int | None:
        return position_limit(AutoConfig.from_pretrained(self.path))


_TOKENIZERS: dict[str, object] = {}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "sentencepiece.bpe.model", "spm.model", "vocab.txt", "vocab.json", "merges.txt")


def load_tokenizer(path: Path | str):
    """The tokenizer in a model directory, loaded once per process for each distinct set of tokenizer files
    (a 250k-word vocabulary takes about half a second to load; a saved model's copy hits the same entry).
    The object is shared: xlt never changes a tokenizer's settings, and callers must not either."""
    digest, found = hashlib.sha256(), False
    for name in TOKENIZER_FILES:
        f = Path(path) / name
        if f.is_file():
            digest.update(name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
            found = True
    key = digest.hexdigest() if found else f"path:{Path(path).resolve()}"  # files we do not know: by place
    if key not in _TOKENIZERS:
        if len(_TOKENIZERS) >= 4:  # a few models per study at most; keep memory bounded
            _TOKENIZERS.pop(next(iter(_TOKENIZERS)))
        _TOKENIZERS[key] = AutoTokenizer.from_pretrained(path, fix_mistral_regex=False)
    return _TOKENIZERS[key]


def position_limit(cfg) -> int | None:
    """The longest input the position embeddings cover (RoBERTa-type models start positions after
    the padding index, so they cover two fewer), or None when the config does not say."""
    n = getattr(cfg, "max_position_embeddings", None)
    if n is None:
        return None
    return n - (cfg.pad_token_id + 1) if cfg.model_type in ROBERTA_POSITIONS else n


def model_name(ref: str) -> str:
    """A short name for a model reference: the embedded model's name, a directory's or a hub id's last part."""
    return ref.split(":", 1)[1] if ref.startswith("embedded:") else Path(ref.rstrip("/")).name or ref


def sentence_transformers_pooling(path: Path) -> str | None:
    """`mean` or `cls` from a sentence-transformers model's Pooling module config, None when there is none."""
    import json

    try:
        modules = json.loads((path / "modules.json").read_text())
        folder = next(m["path"] for m in modules if m.get("type", "").endswith("Pooling"))
        cfg = json.loads((path / folder / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError):
        return None
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    return "mean" if cfg.get("pooling_mode_mean_tokens") else None


def _pooling(path: Path, cfg, asked: str | None) -> str:
    """The config's choice; else a sentence-transformers Pooling config; else xlt's own note in config.json;
    else mean, the better sentence vector of an encoder not trained for one (its first token is trained for
    next-sentence prediction at best)."""
    return asked or sentence_transformers_pooling(path) or getattr(cfg, "xlt_pooling", None) or "mean"


def resolve(model=None) -> ModelSpec:
    """Turn a model reference (a string, or a `models:` entry with path, name, pooling and prefix) into a
    local directory; one clear error when that is impossible."""
    ref = getattr(model, "path", model) or DEFAULT_MODEL
    asked_pooling, asked_prefix = getattr(model, "pooling", None), getattr(model, "prefix", None)
    name = getattr(model, "name", None) or model_name(ref)
    if ref.startswith("embedded:"):
        key = ref.split(":", 1)[1]
        if key not in EMBEDDED:
            raise XltError(f"unknown embedded model {key!r}; available: {', '.join(EMBEDDED)}")
        path = EMBEDDED[key].embedded_model_dir()
        return ModelSpec(ref, path, asked_pooling or "mean", _prefix(asked_prefix, embedded.INFO["prefix"]), name)
    local = Path(ref).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise XltError(f"{local} has no config.json; point model at a Hugging Face model directory")
        path = local
    else:
        path = _download(ref)
    cfg = AutoConfig.from_pretrained(path)
    prefix = getattr(cfg, "xlt_text_prefix", "query: " if "e5" in ref.lower() and not local.is_dir() else "")
    _check_weights(path)
    return ModelSpec(ref, path, _pooling(path, cfg, asked_pooling), _prefix(asked_prefix, prefix), name)


def _prefix(asked: str | None, default: str) -> str:
    return default if asked is None else asked


def _download(ref: str) -> Path:
    """A hub model's files: safetensors weights where the repository has them, else its `.bin` weights (which
    load with `torch.load(weights_only=True)` only: no pickled code runs)."""
    try:
        from huggingface_hub import list_repo_files, snapshot_download

        files = list_repo_files(ref)
        weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["*.bin"]
        return Path(snapshot_download(ref, allow_patterns=["*.json", "*.model", "*.txt", *weights]))
    except Exception as exc:
        raise XltError(
            f"model {ref!r} is neither a local directory nor reachable on the Hugging Face hub ({type(exc).__name__}). "
            f"Offline options: model: {DEFAULT_MODEL} (built in), or the path of a downloaded model directory"
        ) from None


def _check_weights(path: Path) -> None:
    """Weights are read from safetensors, or from PyTorch `.bin` files under `weights_only` (transformers
    loads them so); any other format (TensorFlow, Flax, pickled code) is refused with the way out."""
    if any(path.glob("*.safetensors")):
        return
    bins = sorted(path.glob("pytorch_model*.bin"))
    for f in bins:  # checked now, before a run writes anything (on the meta device: no tensor data is read)
        try:
            torch.load(f, map_location="meta", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any reason it cannot be read as tensors is the same refusal
            raise XltError(f"{f} could not be read as plain tensors ({str(exc).splitlines()[0][:160]}); xlt "
                           "never unpickles model files: load it where you trust it and save it with "
                           "save_pretrained(dir, safe_serialization=True), then point model: at that dir") from None
    if bins:
        return
    raise XltError(f"{path} holds no model.safetensors or pytorch_model.bin weights; convert the model to "
                   "safetensors (model.save_pretrained(dir, safe_serialization=True)) and point model: at that dir")


def load_classifier(spec: ModelSpec, num_labels: int, id2label: dict[int, str]) -> torch.nn.Module:
    """A sequence classifier on the backbone: a linear head over the pooled sentence vector (the model's
    pooling) for the common encoder families; other architectures get their own head (cls pooling only)."""
    kwargs = dict(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    config = AutoConfig.from_pretrained(spec.path, xlt_pooling=spec.pooling, **kwargs)
    pooled = POOLED_CLASSIFIERS.get(config.model_type)
    if pooled is not None:
        return from_pretrained(pooled, spec, config=config)
    if spec.pooling == "mean":
        raise XltError(f"{spec.ref}: mean pooling is built for the {', '.join(POOLED_CLASSIFIERS)} families, not "
                       f"{config.model_type}; set pooling: cls in its models: entry to use the architecture's own head")
    return from_pretrained(AutoModelForSequenceClassification, spec, **kwargs)


def from_pretrained(cls, spec: ModelSpec, **kwargs) -> torch.nn.Module:
    """`cls.from_pretrained` on the model's directory, `.bin` weights read with weights_only=True: a checkpoint
    whose pickle holds anything but tensors is refused with one error, never executed."""
    try:
        return cls.from_pretrained(spec.path, weights_only=True, **kwargs)
    except OSError as exc:
        raise XltError(f"the weights of {spec.ref} could not be read as plain tensors ({str(exc).splitlines()[0][:200]}"
                       "); xlt loads safetensors, or .bin files holding tensors only: convert the model with "
                       "save_pretrained(dir, safe_serialization=True)") from None


def save_for_transformers(model: torch.nn.Module, tokenizer, out: Path, extra_config: dict | None = None,
                          state_dict: dict | None = None) -> None:
    """Save a plain model directory that `transformers` Auto classes load without xlt."""
    out.mkdir(parents=True, exist_ok=True)
    if type(model) in POOLED_CLASSIFIERS.values():
        name = type(model).__name__
        shutil.copy(Path(__file__).with_name("modeling_meanpool.py"), out / "modeling_meanpool.py")
        model.config.auto_map = {"AutoModelForSequenceClassification": f"modeling_meanpool.{name}"}
        model.config.architectures = [name]
    for k, v in (extra_config or {}).items():
        setattr(model.config, k, v)
    model.save_pretrained(out, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(out)
