"""Export a saved classification model to ONNX and predict with ONNX Runtime, optionally with int8 weights.

Why: on a CPU, ONNX Runtime's fused kernels and its int8 matrix products (weights quantized per output
channel, activations per batch) classify about twice as fast as PyTorch for a fraction of a point of
macro-F1 (BENCHMARKS.md, `bench/protocol_speed.py --parts predict`). The files go to `<model_dir>/onnx/`
under the names Optimum uses: `model.onnx` (fp32) and `model_quantized.onnx` (int8 weights).
Token (NER/POS) models are not exported; they predict with PyTorch.
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from xlt.errors import XltError
from xlt.train import predict_batches, predict_encoded

ONNX_FILES = {"fp32": "model.onnx", "int8": "model_quantized.onnx"}
# texts of several lengths and scripts: the exported graph is checked against PyTorch on them
CHECK_TEXTS = ["ok", "Saya suka film ini, ceritanya bagus sekali.", "I did not sleep again last night and nothing helps.",
               "Это был очень длинный день, и я устал от всего. " * 3, "لا أستطيع النوم منذ أيام", "今日はとても楽しかった。"]


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise XltError("ONNX prediction needs onnxruntime and onnx: pip install 'xlt[onnx]'") from None
    return onnxruntime


def onnx_path(model_dir: str | Path, precision: str) -> Path:
    if precision not in ONNX_FILES:
        raise XltError(f"unknown ONNX precision {precision!r}; use one of {sorted(ONNX_FILES)}")
    return Path(model_dir) / "onnx" / ONNX_FILES[precision]


class _Logits(torch.nn.Module):
    """The graph's interface: token ids and attention mask in, logits out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(model_dir: str | Path, precision: str = "int8") -> dict:
    """Write `<model_dir>/onnx/<file>` and check it against the PyTorch model; returns what the check found."""
    from xlt.serve.predict import Predictor

    _require_onnxruntime()
    target = onnx_path(model_dir, precision)
    torch_pred = Predictor(model_dir)
    if torch_pred.task.data_kind != "text":
        raise XltError(f"{model_dir} is a {torch_pred.task.name} model; ONNX export covers text classification only "
                       "(token models predict with PyTorch: xlt predict without --onnx)")
    if getattr(torch_pred.model.config, "xlt_prompt", None):
        raise XltError(f"{model_dir} is a prompt-tuned model: its soft prompt is put in front of the word embeddings "
                       "in Python, which the ONNX export does not cover; predict with PyTorch (xlt predict without "
                       "--onnx)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        dummy = torch.ones(2, 8, dtype=torch.long)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer warnings
                torch.onnx.export(_Logits(torch_pred.model.eval()), (dummy, dummy), str(fp32), dynamo=False,
                                  input_names=["input_ids", "attention_mask"], output_names=["logits"],
                                  opset_version=17, dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                                                  "attention_mask": {0: "batch", 1: "tokens"},
                                                                  "logits": {0: "batch"}})
        except Exception as exc:  # an architecture the tracer cannot follow: say so once, keep PyTorch prediction
            raise XltError(f"ONNX export of {model_dir} failed ({type(exc).__name__}: {str(exc)[:200]}); "
                           "predict with PyTorch (xlt predict without --onnx)") from None
        written = fp32
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            written = Path(tmp) / "model_quantized.onnx"
            level = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice, printed every time
            try:
                quantize_dynamic(fp32, written, weight_type=QuantType.QInt8, per_channel=True)
            finally:
                logging.getLogger().setLevel(level)
        check = compare_with_torch(torch_pred, written)
        if precision == "fp32" and check["max_abs_prob_diff"] > 1e-3:
            raise XltError(f"the exported graph does not reproduce the PyTorch model (probabilities differ by "
                           f"{check['max_abs_prob_diff']:.4f}); predict with PyTorch (no --onnx)")
        os.replace(written, target)  # whole file or nothing: an interrupted export leaves no half-written model
    return {"path": str(target), "size_mb": round(target.stat().st_size / 1e6, 1), **check}


def compare_with_torch(torch_pred, path: Path) -> dict:
    """Both backends on CHECK_TEXTS: largest probability difference and how many labels agree."""
    ids = torch_pred.tokenizer([torch_pred.prefix + t for t in CHECK_TEXTS], truncation=True, max_length=128)["input_ids"]
    _, want = predict_encoded(torch_pred.model, torch_pred.tokenizer, ids, 4)
    _, got = predict_onnx(open_session(path), ids, torch_pred.tokenizer.pad_token_id, len(torch_pred.labels), 4)
    return {"max_abs_prob_diff": float(np.abs(want - got).max()),
            "labels_agree": f"{int((want.argmax(1) == got.argmax(1)).sum())}/{len(ids)}"}


def open_session(path: str | Path):
    ort = _require_onnxruntime()
    if not Path(path).exists():
        raise XltError(f"{path} not found; export it first: xlt export-onnx {Path(path).parent.parent}"
                       + (" --precision fp32" if Path(path).name == ONNX_FILES["fp32"] else ""))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same thread budget as PyTorch (xlt sets it)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def predict_onnx(session, ids: list[list[int]], pad_id: int, num_labels: int, batch_size: int = 64):
    """Class ids and probabilities, in input order (the batching of `train.predict_batches`)."""
    return predict_batches(lambda batch: session.run(None, {k: v.numpy() for k, v in batch.items()})[0],
                           ids, pad_id, num_labels, batch_size)
