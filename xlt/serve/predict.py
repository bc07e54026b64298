"""Load a saved xlt model directory and classify texts, fast: length-sorted batches, inference mode,
and optionally the model's ONNX export run by ONNX Runtime (`onnx="int8"`, see xlt/serve/onnx.py).

xlt's own pooled classifiers are loaded with xlt's class, so no code from the model directory
is executed (`trust_remote_code` is only for loading without xlt).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from transformers import AutoConfig

from xlt.errors import XltError
from xlt.models.resolve import load_tokenizer, position_limit
from xlt.tasks import DEFAULT_TASK, get_task
from xlt.train import use_bf16


class Predictor:
    """A saved model directory ready to predict: `predict(texts)` gives labels (token models: one tag per
    word), `predict_proba(texts)` class probabilities, `predict_records(texts)` what `xlt predict --json`
    and the server return."""

    def __init__(self, model_dir: str | Path, bf16: str = "auto", onnx: str | None = None):
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise XltError(f"{model_dir} is not a saved model directory (no config.json); "
                           "save one with output.save_models in the experiment config")
        config = AutoConfig.from_pretrained(model_dir)
        self.task = get_task(getattr(config, "xlt_task", DEFAULT_TASK))
        self.session = None  # an ONNX Runtime session replaces the PyTorch model when onnx is given
        self.model = None
        if onnx is not None:
            from xlt.serve.onnx import onnx_path, open_session

            if self.task.data_kind != "text":
                raise XltError(f"{model_dir} is a {self.task.name} model; ONNX prediction covers text classification "
                               "models only: predict without --onnx")
            self.session = open_session(onnx_path(model_dir, onnx))
        else:
            self.model = self.task.load_saved(model_dir, config)
        prompt_positions = 0
        if getattr(config, "xlt_prompt", None) and self.model is not None:  # a soft prompt in front of the words
            from xlt.methods.prompt import load_prompt

            self.model = load_prompt(self.model, model_dir)
            prompt_positions = self.model.peft_config["default"].num_virtual_tokens
        stack = getattr(config, "xlt_adapters", None)
        if stack and self.model is not None:  # a MAD-X model: base weights + head here, its adapter stack in adapters/
            import adapters
            from adapters.composition import Stack

            from xlt.methods.madx import TASK

            missing = [n for n in stack if not (model_dir / "adapters" / n / "adapter_config.json").exists()]
            if missing:
                raise XltError(f"{model_dir} is a MAD-X model but adapters/{missing[0]} is missing or incomplete; "
                               "copy the whole saved model directory")
            adapters.init(self.model)
            for name in stack:
                self.model.load_adapter(str(model_dir / "adapters" / name), load_as=name, with_head=False)
            # the task adapter on top (models saved by earlier xlt listed the names in set order, either way round)
            self.model.set_active_adapters(Stack(*sorted(stack, key=lambda name: name == TASK)))
        self.tokenizer = load_tokenizer(model_dir)
        self.prefix = getattr(config, "xlt_text_prefix", "")
        self.notice = getattr(config, "xlt_notice", "")
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.max_tokens = (position_limit(config) or 512) - prompt_positions  # the prompt takes positions too
        self.bf16 = use_bf16(bf16)
        if self.model is not None:
            from xlt.train import device

            self.model.to(device()).eval()  # a GPU where there is one

    def _predict(self, texts: list[str], batch_size: int, max_length: int):
        max_length = min(max_length, self.max_tokens)  # longer inputs are truncated, not an index error
        if self.session is not None:
            from xlt.serve.onnx import predict_onnx

            enc = self.tokenizer([self.prefix + t for t in texts], truncation=True, max_length=max_length)
            pred, probs = predict_onnx(self.session, enc["input_ids"], self.tokenizer.pad_token_id, len(self.labels),
                                       batch_size)
            return [self.labels[p] for p in pred], probs
        return self.task.predict_texts(self.model, self.tokenizer, texts, self.labels, self.prefix, batch_size,
                                       max_length, self.bf16)

    def _predict_texts(self, texts: list[str], batch_size: int, max_length: int):
        """Predictions and probabilities with None for empty or whitespace-only texts: no label is made up for
        a text with nothing in it."""
        texts = list(texts)
        real = [i for i, t in enumerate(texts) if t.strip()]
        pred, probs = ([], None) if not real else self._predict([texts[i] for i in real], batch_size, max_length)
        out_pred: list = [None] * len(texts)
        out_probs: list | None = [None] * len(texts) if probs is not None or not real else None
        for j, i in enumerate(real):
            out_pred[i] = pred[j]
            if probs is not None:
                out_probs[i] = probs[j]
        return out_pred, out_probs

    def predict(self, texts: list[str], batch_size: int = 64, max_length: int = 512) -> list:
        """One label per text (token models: one tag per whitespace-separated word); None for an empty text."""
        return self._predict_texts(texts, batch_size, max_length)[0]

    def predict_proba(self, texts: list[str], batch_size: int = 64, max_length: int = 512) -> np.ndarray:
        """Class probabilities, one row per text, columns in the order of `labels`; NaN for an empty text."""
        if self.task.data_kind != "text":
            raise XltError(f"predict_proba is for text classification; this is a {self.task.name} model: use predict")
        _, probs = self._predict_texts(texts, batch_size, max_length)
        empty = np.full(len(self.labels), np.nan)
        return np.asarray([empty if p is None else p for p in probs], dtype=float).reshape(len(texts), len(self.labels))

    def predict_records(self, texts: list[str], batch_size: int = 64, max_length: int = 512) -> list[dict]:
        """Each text's prediction as a dict (classification: label and probabilities; tagging: tokens and tags);
        an empty or whitespace-only text gets {"error": ...} instead."""
        pred, probs = self._predict_texts(texts, batch_size, max_length)
        return [{"error": "empty text: there is nothing to predict"} if p is None else
                self.task.record(t, p, probs[i] if probs is not None else None, self.labels)
                for i, (t, p) in enumerate(zip(texts, pred))]
