"""MAD-X's language adapters: trained (once per language) by masked-language modelling on unlabelled text,
saved under stages/, loaded by the `madx` method (xlt/methods/madx.py) when a run uses a language."""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from pathlib import Path

import torch
from torch import nn

from xlt.errors import XltError
from xlt.fast_dropout import fast_dropout, use_fast_dropout
from xlt.files import atomic_save_tensors, atomic_write_text, load_saved_tensors
from xlt.methods.madx import lang
from xlt.progress import stage_bar


class LanguageAdapters:
    """Trains (once) and loads MAD-X language adapters by masked-language modelling."""

    def __init__(self, spec, tokenizer, stage_dir: Path, cfg, training, texts_for, source_language: str):
        self.spec, self.tokenizer, self.dir, self.cfg, self.training = spec, tokenizer, stage_dir, cfg, training
        self.texts_for = texts_for  # language -> unlabelled texts
        self.source_language = source_language
        self.info: dict[str, dict] = {}
        self._head: tuple | None = None  # (head state or None, how it was obtained), found once

    def _key(self, *parts) -> str:
        return hashlib.sha256(json.dumps([str(self.spec.path), *parts], default=str).encode()).hexdigest()[:12]

    def __call__(self, language: str) -> dict[str, torch.Tensor]:
        texts = self.texts_for(language)
        c = self.cfg
        parts = [language, len(texts), texts[:50], c.lang_reduction, c.lang_steps, c.lang_lr]
        if use_fast_dropout(self.training.fast_dropout):  # other masks, another adapter; torch's keeps the old keys
            parts.append("fast_dropout")
        path = self.dir / f"lang-{language}-{self._key(*parts)}.safetensors"
        if not path.exists():
            if self._head is None:
                self._head = self._mlm_head()
            head, head_info = self._head
            state, info = train_language_adapter(self.spec, self.tokenizer, texts, language, c, self.training, head)
            info["mlm_head"] = head_info
            atomic_write_text(path.with_suffix(".json"), json.dumps(info))
            atomic_save_tensors(path, state)
        self.info[language] = json.loads(path.with_suffix(".json").read_text())
        return load_saved_tensors(path)

    def _mlm_head(self) -> tuple[dict[str, torch.Tensor] | None, str]:
        """The model's own MLM head, or one trained here once (encoder frozen) on the source text."""
        c, source = self.cfg, self.source_language
        path = self.dir / f"mlm-head-{self._key(source, c.head_steps)}.safetensors"
        return mlm_head(self.spec, self.tokenizer, lambda: self.texts_for(source), source, c.head_steps,
                        self.training, path)


def mlm_head(spec, tokenizer, texts, language: str, steps: int, training, path: Path):
    """(head state or None, how it was obtained): None when the model has its own MLM head; else a head
    initialised and trained `steps` steps on `texts()` (language `language`) with the encoder frozen, saved at
    `path` and loaded from there the next time. Shared by MAD-X and language-adaptive pretraining."""
    from transformers import AutoModelForMaskedLM

    mlm, loading = AutoModelForMaskedLM.from_pretrained(spec.path, output_loading_info=True)
    prefix = mlm.base_model_prefix + "."
    if not any(not k.startswith(prefix) for k in loading["missing_keys"]):
        return None, "pretrained"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_tensors(path, train_mlm_head(spec, tokenizer, texts(), steps, training))
    return load_saved_tensors(path), f"none in the model: initialised and trained {steps} steps on {language} text, encoder frozen"


def _mlm_batches(tokenizer, texts: list[str], batch_size: int, max_length: int, steps: int, seed: int):
    from transformers import DataCollatorForLanguageModeling

    enc = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    enc = [x for x in enc if len(x) > 3]
    if not enc:
        raise XltError("no unlabelled text to train a language adapter on")
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=seed)
    rng = random.Random(seed)
    for _ in range(steps):
        yield collator([{"input_ids": enc[rng.randrange(len(enc))]} for _ in range(batch_size)])


def _position_head(mlm):
    """The MLM head as a function of hidden states at chosen positions, or None where the layout is unknown.
    BERT (`cls`), RoBERTa/XLM-R (`lm_head`), DeBERTa-v2/v3 (`lm_predictions`, which also reads the word
    embeddings) and DistilBERT (four modules) are covered."""
    if getattr(mlm, "legacy", True) is False and isinstance(getattr(mlm, "lm_predictions", None), nn.Module):
        words = mlm.get_input_embeddings()
        return lambda h: mlm.lm_predictions(h, words)
    for name in ("cls", "lm_head"):
        if isinstance(getattr(mlm, name, None), nn.Module):
            return getattr(mlm, name)
    if all(hasattr(mlm, n) for n in ("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector")):
        return lambda h: mlm.vocab_projector(mlm.vocab_layer_norm(mlm.activation(mlm.vocab_transform(h))))
    return None


def _masked_loss(mlm, batch) -> torch.Tensor:
    """MLM loss computed at masked positions only: the vocabulary-wide output at every position is otherwise the
    most expensive part of MLM (250k outputs a token on the embedded model). Families whose head layout is
    unknown run their whole forward."""
    labels = batch["labels"]
    if hasattr(mlm, "get_base_model"):  # peft (LoRA): its layers are in the wrapped model's modules
        mlm = mlm.get_base_model()
    head = _position_head(mlm)
    if head is None:
        return mlm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
    hidden = mlm.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    sel = labels != -100
    return nn.functional.cross_entropy(head(hidden[sel]).float(), labels[sel])


def _head_parameters(mlm) -> dict[str, nn.Parameter]:
    """The MLM head's own parameters: everything outside the encoder except the decoder tied to the embeddings."""
    prefix = mlm.base_model_prefix + "."
    tied = mlm.get_output_embeddings().weight
    return {k: p for k, p in mlm.named_parameters() if not k.startswith(prefix) and p is not tied}


def _load_mlm(spec, head_state):
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_pretrained(spec.path)
    if head_state is not None:
        mlm.load_state_dict(head_state, strict=False)
    return mlm


def train_mlm_head(spec, tokenizer, texts: list[str], steps: int, training) -> dict[str, torch.Tensor]:
    from xlt.train import device, to_device

    torch.manual_seed(0)
    dev = device()
    mlm = _load_mlm(spec, None).to(dev)
    for p in mlm.parameters():
        p.requires_grad_(False)
    head = list(_head_parameters(mlm).values())
    for p in head:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(head, lr=1e-3)
    mlm.train()
    for batch in stage_bar(_mlm_batches(tokenizer, texts, 32, training.max_length, steps, 0), total=steps,
                           desc="MLM head"):
        loss = _masked_loss(mlm, to_device(batch, dev))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return {k: v.detach().cpu().clone() for k, v in _head_parameters(mlm).items()}


def train_language_adapter(spec, tokenizer, texts: list[str], language: str, c, training,
                           head_state) -> tuple[dict[str, torch.Tensor], dict]:
    """A MAD-X language adapter (bottleneck + invertible), everything else frozen."""
    import adapters
    from adapters import SeqBnInvConfig

    from xlt.train import device

    torch.manual_seed(0)
    dev = device()
    mlm = _load_mlm(spec, head_state)
    adapters.init(mlm)
    name = lang(language)
    mlm.add_adapter(name, config=SeqBnInvConfig(reduction_factor=c.lang_reduction))
    mlm.to(dev)
    mlm.train_adapter(name)
    params = [p for p in mlm.parameters() if p.requires_grad]
    losses, seconds = masked_lm_steps(mlm, params, tokenizer, texts, training, training.batch_size, c.lang_steps,
                                      c.lang_lr, 0.01, 0, f"language adapter {language}")
    k = max(1, len(losses) // 10)
    info = {"language": language, "texts": len(texts), "steps": c.lang_steps, "seconds": seconds,
            "mlm_loss_first": sum(losses[:k]) / k, "mlm_loss_last": sum(losses[-k:]) / k,
            "trainable": sum(p.numel() for p in params)}
    state = {k: v.detach().cpu().clone() for k, v in mlm.base_model.named_parameters()
             if f".{name}." in k or k.endswith(f".{name}")}
    if not state or math.isnan(info["mlm_loss_last"]):
        raise XltError(f"training the language adapter for {language} failed (loss {info['mlm_loss_last']})")
    return state, info


def masked_lm_steps(mlm, params: list, tokenizer, texts: list[str], training, batch_size: int, steps: int, lr: float,
                    weight_decay: float, seed: int, desc: str) -> tuple[list[float], float]:
    """`steps` masked-LM optimiser steps on `params` (AdamW, linear warm-up and decay, clipped gradients); returns
    each step's loss and the seconds taken. MAD-X's language adapters and language-adaptive pretraining share it."""
    from transformers import get_linear_schedule_with_warmup

    from xlt.train import device, to_device

    dev = device()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
    start, losses = time.perf_counter(), []
    with fast_dropout(mlm, use_fast_dropout(training.fast_dropout)):
        for batch in stage_bar(_mlm_batches(tokenizer, texts, batch_size, training.max_length, steps, seed),
                               total=steps, desc=desc):
            loss = _masked_loss(mlm, to_device(batch, dev))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.detach())  # read once at the end: no host sync per step
    return torch.stack(losses).float().cpu().tolist(), time.perf_counter() - start
