"""Throughput of xlt's training loop and prediction on this machine's accelerator (or its CPU): training
examples/s, prediction texts/s, peak memory, and model FLOPs utilisation (MFU) against the fastest
`torch.matmul` this device runs in the same precision, measured here rather than taken from a datasheet.

Full fine-tuning of the embedded multilingual-e5-small (or --model), through xlt.train.train and
xlt.train.predict_encoded, on texts of exactly --length tokens (random ids, so every batch costs the same).
FLOPs per token are 6 x non-embedding parameters for a training step and 2 x for a forward pass (Kaplan
et al., 2020); attention's own products are left out, so MFU is a slight underestimate.

    python bench/gpu.py [--model embedded:multilingual-e5-small] [--batch 32] [--length 128] [--steps 30]
"""
from __future__ import annotations

import argparse
import platform
import resource
import time

import torch

from xlt.config import Training
from xlt.methods import make_method
from xlt.models import load_classifier, resolve
from xlt.train import Encoded, device, half_dtype, predict_encoded, set_threads, train, use_bf16


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}, {torch.get_num_threads()} threads"
    except OSError:
        pass
    return f"CPU: {platform.processor()}"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dev: torch.device, dtype: torch.dtype) -> float:
    """FLOP/s of the fastest of a few square matmuls (4096 on a GPU, 1024 on a CPU) in `dtype`."""
    n = 4096 if dev.type == "cuda" else 1024
    a, b = (torch.randn(n, n, device=dev, dtype=dtype) for _ in range(2))
    best = float("inf")
    for _ in range(3 if dev.type == "cpu" else 10):
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        sync(dev)
        best = min(best, (time.perf_counter() - t0) / 10)
    return 2 * n**3 / best


def peak_memory(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(dev) / 2**30:.2f} GiB (GPU, allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process, resident)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="embedded:multilingual-e5-small")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30, help="timed training steps (after 3 warm-up steps)")
    ap.add_argument("--predict", type=int, default=2048, help="texts predicted")
    args = ap.parse_args()
    set_threads(None)
    dev = device()
    spec = resolve(args.model)
    tok = spec.tokenizer()
    model = load_classifier(spec, 2, {0: "a", 1: "b"}).to(dev)
    # FLOPs scale with the parameters a token is multiplied by: the embedding tables are looked up, not multiplied
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    g = torch.Generator().manual_seed(0)
    texts = max(args.batch * (args.steps + 3), args.predict)
    ids = torch.randint(1000, tok.vocab_size - 1, (texts, args.length), generator=g).tolist()
    labels = [i % 2 for i in range(texts)]
    bf16 = use_bf16("auto")
    precision = str(half_dtype(dev)).removeprefix("torch.") + " autocast" if bf16 else "fp32"
    tcfg = Training(batch_size=args.batch, epochs=1, min_steps=0, patience=0, warmup_ratio=0.0)
    method = make_method("full", "classification")

    warm = Encoded(ids[: args.batch * 3], labels[: args.batch * 3])
    train(model, method, tok, warm, None, tcfg, 2e-5, 0, desc="warm-up")
    span = slice(args.batch * 3, args.batch * (args.steps + 3))
    timed = Encoded(ids[span], labels[span])
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    sync(dev)
    t0 = time.perf_counter()
    train(model, method, tok, timed, None, tcfg, 2e-5, 0, desc="timed")
    sync(dev)
    train_s = time.perf_counter() - t0
    train_rate = len(timed.ids) / train_s
    train_mem = peak_memory(dev)

    predict_encoded(model, tok, ids[: args.batch], 512 if dev.type == "cuda" else 64, bf16)  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    predict_encoded(model, tok, ids[: args.predict], 512 if dev.type == "cuda" else 64, bf16)
    sync(dev)
    predict_rate = args.predict / (time.perf_counter() - t0)

    peak = matmul_peak(dev, half_dtype(dev) if bf16 else torch.float32)
    train_flops = 6 * params * args.length * train_rate
    predict_flops = 2 * params * args.length * predict_rate
    print(f"device: {device_name(dev)}; torch {torch.__version__}; precision {precision}")
    print(f"model: {spec.path} ({params / 1e6:.0f}M non-embedding parameters); batch {args.batch} x {args.length} tokens")
    print(f"matmul peak ({precision.split()[0]}): {peak / 1e12:.2f} TFLOP/s")
    print(f"training:   {train_rate:8.1f} examples/s  {train_flops / 1e12:.3f} TFLOP/s  MFU {train_flops / peak:.1%}"
          f"  peak memory {train_mem}")
    print(f"prediction: {predict_rate:8.1f} texts/s     {predict_flops / 1e12:.3f} TFLOP/s  "
          f"MFU {predict_flops / peak:.1%}  peak memory {peak_memory(dev)}")


if __name__ == "__main__":
    main()
