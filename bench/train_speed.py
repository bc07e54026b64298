"""Training throughput of the embedded model on this machine, side by side in one process:
xlt's default (fp32, dynamic padding, stratified length-grouped batches run as length-sorted pieces,
cheaper dropout masks on a CPU) against one pass per batch (and other piece costs), batches by length
alone, PyTorch's own dropout, bf16 autocast, and padding every text to max_length 128 (the usual recipe).
LoRA r=8 on query/value (or --method), batch 16, the first --texts of NusaX-senti Javanese train, one
epoch each, repeated `--rounds` times interleaved.

    python bench/train_speed.py [--rounds 2] [--method lora] [--texts 160] [--skip-bf16]
    python bench/train_speed.py --profile   # where one epoch's CPU time goes, by operator, per dropout kind
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from xlt.config import DataSource, Preprocess, Training
from xlt.data.pipeline import load_language
from xlt.methods import make_method
from xlt.models import load_classifier, resolve
import xlt.train as xlt_train
from xlt.train import Encoded, cpu_has_native_bf16, encode, set_threads, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--method", default="lora")
    ap.add_argument("--texts", type=int, default=160, help="texts per epoch (bf16 on AVX2 CPUs is very slow)")
    ap.add_argument("--skip-bf16", action="store_true", help="leave out bf16 (minutes on a CPU without native bf16)")
    ap.add_argument("--profile", action="store_true", help="operator profile of one epoch instead of the timing")
    args = ap.parse_args()
    set_threads(None)
    ld, _ = load_language(DataSource(dataset="nusax-senti", language="jav"), Preprocess(), str(DATA))
    spec = resolve(None)
    tok = spec.tokenizer()
    l2i = {lab: i for i, lab in enumerate(ld.labels)}
    enc = encode(tok, ld.splits["train"][: args.texts], spec.text_prefix, 128, l2i)
    padded = Encoded([x + [tok.pad_token_id] * (128 - len(x)) for x in enc.ids], enc.labels)
    # name -> (data, Training overrides, micro-batch piece cost in tokens or None for xlt's)
    variants = {"xlt default (fp32, dynamic padding)": (enc, {}, None),
                "one pass per batch (micro_batching off)": (enc, {"micro_batching": "off"}, None),
                "micro-batch piece cost 8 tokens": (enc, {}, 8),
                "micro-batch piece cost 96 tokens": (enc, {}, 96),
                "batches by length alone (batching length)": (enc, {"batching": "length"}, None),
                "PyTorch's dropout (fast_dropout off)": (enc, {"fast_dropout": "off"}, None),
                "bf16 autocast, dynamic padding": (enc, {"bf16": "on"}, None),
                "fp32, padded to 128, PyTorch's dropout": (padded, {"fast_dropout": "off", "batching": "random",
                                                                   "micro_batching": "off"}, None)}
    if args.skip_bf16 or args.profile:
        del variants["bf16 autocast, dynamic padding"]
    if args.profile:
        for name in ("xlt default (fp32, dynamic padding)", "PyTorch's dropout (fast_dropout off)"):
            profile_epoch(name, *variants[name][:2], args.method, spec, tok, ld, l2i)
        return
    speeds: dict[str, list[float]] = {k: [] for k in variants}
    default_piece_cost = xlt_train.PIECE_COST_TOKENS
    for _ in range(args.rounds):
        for name, (data, overrides, piece_cost) in variants.items():
            method = make_method(args.method)
            model = method.prepare(load_classifier(spec, len(l2i), dict(enumerate(ld.labels))))
            xlt_train.PIECE_COST_TOKENS = piece_cost or default_piece_cost
            t = time.perf_counter()
            train(model, method, tok, data, None, Training(epochs=1, min_steps=0, patience=0, **overrides), 1e-3, 0)
            speeds[name].append(len(data.ids) / (time.perf_counter() - t))
        xlt_train.PIECE_COST_TOKENS = default_piece_cost
    base = max(speeds["xlt default (fp32, dynamic padding)"])
    print(f"CPU: {cpu_name()}; torch threads {torch.get_num_threads()}; native bf16: {cpu_has_native_bf16()}")
    mean_len = sum(map(len, enc.ids)) / len(enc.ids)
    print(f"method {args.method}, batch 16, {len(enc.ids)} texts (mean {mean_len:.0f} tokens)")
    print(f"{'variant':<40} {'best ex/s':>10} {'ratio to xlt default':>22}")
    for name, vals in speeds.items():
        print(f"{name:<40} {max(vals):>10.1f} {max(vals) / base:>21.2f}x")


def profile_epoch(name: str, data: Encoded, overrides: dict, method_name: str, spec, tok, ld, l2i) -> None:
    """torch.profiler over one epoch: the operators with the largest share of CPU time, and the share
    of the operators that draw dropout masks (torch's `bernoulli_`, xlt's `random_`)."""
    from torch.profiler import ProfilerActivity, profile

    method = make_method(method_name)
    model = method.prepare(load_classifier(spec, len(l2i), dict(enumerate(ld.labels))))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train(model, method, tok, data, None,
              Training(epochs=1, min_steps=0, patience=0, **overrides), 1e-3, 0)
    ops = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in ops)
    masks = sum(e.self_cpu_time_total for e in ops if e.key in ("aten::bernoulli_", "aten::random_"))
    print(f"\n{name}: {len(data.ids)} texts; mask drawing (bernoulli_/random_) {100 * masks / total:.1f}% "
          f"of operator time")
    for e in sorted(ops, key=lambda e: -e.self_cpu_time_total)[:8]:
        print(f"  {e.key:<28} {100 * e.self_cpu_time_total / total:5.1f}%  calls {e.count}")


if __name__ == "__main__":
    main()
