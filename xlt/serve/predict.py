"""Load a saved xlt model directory and classify texts, fast: length-sorted batches, inference mode,
and optionally the model's ONNX export run by ONNX Runtime (`onnx="int8"`, see xlt/serve/onnx.py).

xlt's own mean-pooled classifier is loaded with xlt's class, so no code from the model directory
is executed (`trust_remote_code` is only for loading without xlt).
"""
from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from xlt.errors import XltError
from xlt.models.modeling_meanpool import BertMeanPoolForSequenceClassification
from xlt.models.resolve import position_limit
from xlt.train import predict_encoded, use_bf16

class Predictor:
    def __init__(self, model_dir: str | Path, bf16: str = "auto", onnx: str | None = None):
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise XltError(f"{model_dir} is not a saved model directory (no config.json); "
                           "save one with output.save_models in the experiment config")
        config = AutoConfig.from_pretrained(model_dir)
        self.task = getattr(config, "xlt_task", "classification")
        self.session = None  # an ONNX Runtime session replaces the PyTorch model when onnx is given
        if onnx is not None:
            from xlt.serve.onnx import onnx_path, open_session

            if self.task != "classification":
                raise XltError(f"{model_dir} is a {self.task} model; ONNX prediction covers classification models "
                               "only: predict without --onnx")
            self.session = open_session(onnx_path(model_dir, onnx))
            self.model = None
        elif self.task != "classification":
            self.model = AutoModelForTokenClassification.from_pretrained(model_dir)
        elif "BertMeanPoolForSequenceClassification" in (config.architectures or []):
            self.model = BertMeanPoolForSequenceClassification.from_pretrained(model_dir)
        else:
            self.model = AutoModelForSequenceClassification.from_pretrained(model_dir)
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
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, fix_mistral_regex=False)
        self.prefix = getattr(config, "xlt_text_prefix", "")
        self.notice = getattr(config, "xlt_notice", "")
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.max_tokens = position_limit(config) or 512
        self.bf16 = use_bf16(bf16)
        if self.model is not None:
            self.model.eval()

    def predict(self, texts: list[str], batch_size: int = 64, max_length: int = 512) -> list[dict]:
        if not texts:
            return []
        max_length = min(max_length, self.max_tokens)  # longer inputs are truncated, not an index error
        if self.task != "classification":
            return self._tag(texts, batch_size, max_length)
        enc = self.tokenizer([self.prefix + t for t in texts], truncation=True, max_length=max_length)
        if self.session is not None:
            from xlt.serve.onnx import predict_onnx

            pred, probs = predict_onnx(self.session, enc["input_ids"], self.tokenizer.pad_token_id, len(self.labels),
                                       batch_size)
        else:
            pred, probs = predict_encoded(self.model, self.tokenizer, enc["input_ids"], batch_size, self.bf16)
        return [{"label": self.labels[p], "probabilities": {lab: round(float(x), 4) for lab, x in zip(self.labels, pr)}}
                for p, pr in zip(pred, probs)]

    def _tag(self, texts: list[str], batch_size: int, max_length: int) -> list[dict]:
        """Token models: words split on whitespace, one tag per word."""
        from xlt.data.examples import TokenExample
        from xlt.tasks.tagging import encode_words, predict_words

        rows = [TokenExample(tuple(t.split()), tuple("O" for _ in t.split())) for t in texts]
        enc = encode_words(self.tokenizer, rows, max_length, {})
        tags = predict_words(self.model, self.tokenizer, enc, self.labels, "O", batch_size, self.bf16)
        return [{"tokens": list(r.tokens), "tags": t} for r, t in zip(rows, tags)]
