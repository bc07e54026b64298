"""Training batches and class balance: `training.batching` compared on NusaX-senti.

Length-grouped batches save padding, but in NusaX-senti length predicts the label (neutral posts are
about half as long as positive ones), so sorting by length fills whole batches with one class. This
script shows the batches' class mix of each setting and trains LoRA from scratch on each target
language (the protocol's target-only run: 3 epochs, patience 0, xlt's defaults otherwise) with each
setting and seed, then prints test macro-F1, collapsed runs and training-loop time.

    python bench/batching.py [--langs jav sun] [--seeds 0 1 2] [--batching stratified length random]

Each finished run is kept in bench/out/batching.json, so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from xlt.config import DataSource, Preprocess, Training
from xlt.data.pipeline import load_language
from xlt.evaluate.metrics import classification_metrics, mean_sd
from xlt.files import atomic_write_text
from xlt.methods import make_method
from xlt.models import load_classifier, resolve
from xlt.train import encode, predict_encoded, seed_everything, set_threads, train, training_batches

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import cpu_name  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).parent / "out" / "batching.json"


def majority_share(labels: list[int], batches: list[list[int]]) -> float:
    """Mean over batches of the share of the batch's most frequent class."""
    return sum(Counter(labels[i] for i in b).most_common(1)[0][1] / len(b) for b in batches) / len(batches)


def padded_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--langs", nargs="+", default=["jav", "sun"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--batching", nargs="+", default=["stratified", "length", "random"],
                    choices=["stratified", "length", "random"])
    ap.add_argument("--method", default="lora")
    args = ap.parse_args()
    set_threads(None)
    spec = resolve(None)
    tok = spec.tokenizer()
    print(f"CPU: {cpu_name()}; method {args.method}; NusaX-senti target-only, 3 epochs, batch 16")
    done = json.loads(OUT.read_text()) if OUT.exists() else {}
    for lang in args.langs:
        ld = load_language(DataSource(dataset="nusax-senti", language=lang), Preprocess(), str(DATA))[0]
        labels = ld.labels
        l2i = {lab: i for i, lab in enumerate(labels)}
        enc = encode(tok, ld.splits["train"], spec.text_prefix, 128, l2i)
        test = ld.splits["test"]
        test_ids = encode(tok, test, spec.text_prefix, 128, l2i).ids
        lengths = [len(x) for x in enc.ids]
        print(f"\n{lang}: {len(enc.ids)} training texts; class shares {dict(Counter(r.label for r in ld.splits['train']))}")
        print("| batching | mean share of a batch's largest class | padded tokens per epoch |\n|---|---|---|")
        for b in args.batching:
            batches = training_batches(lengths, enc.labels, 16, random.Random(0), b)
            print(f"| {b} | {majority_share(enc.labels, batches):.2f} | {padded_tokens(lengths, batches)} |")
        for seed in args.seeds:
            for b in args.batching:
                key = f"{lang}|{seed}|{b}|{args.method}"
                if key in done:
                    continue
                seed_everything(seed)
                method = make_method(args.method)
                model = method.prepare(load_classifier(spec, len(labels), dict(enumerate(labels))))
                cfg = Training(epochs=3, min_steps=0, patience=0, batch_size=16, max_length=128, batching=b)
                res = train(model, method, tok, enc, None, cfg, method.default_lr, seed, desc=key)
                pred, _ = predict_encoded(model, tok, test_ids)
                m = classification_metrics([r.label for r in test], [labels[p] for p in pred], labels)
                done[key] = {"macro_f1": m["macro_f1"], "collapsed": m["collapsed"], "reason": m["collapse_reason"],
                             "train_seconds": res.seconds, "finished": time.strftime("%Y-%m-%d %H:%M")}
                print(f"{key}: macro-F1 {m['macro_f1']:.3f}, {res.seconds:.0f} s {m['collapse_reason']}", flush=True)
                OUT.parent.mkdir(exist_ok=True)
                atomic_write_text(OUT, json.dumps(done, indent=1))
    print(f"\n| batching | {' | '.join(args.langs)} | mean | collapsed | training s (ratio to random) |")
    print("|---|" + "---|" * (len(args.langs) + 3))
    base = sum(done[f"{lang}|{s}|random|{args.method}"]["train_seconds"] for lang in args.langs for s in args.seeds
               if f"{lang}|{s}|random|{args.method}" in done)
    for b in args.batching:
        runs = {lang: [done.get(f"{lang}|{s}|{b}|{args.method}") for s in args.seeds] for lang in args.langs}
        if any(r is None for rs in runs.values() for r in rs):
            continue
        cells = [" ± ".join(f"{x:.3f}" for x in mean_sd([r["macro_f1"] for r in runs[lang]])) for lang in args.langs]
        allf = [r["macro_f1"] for rs in runs.values() for r in rs]
        secs = sum(r["train_seconds"] for rs in runs.values() for r in rs)
        collapsed = sum(r["collapsed"] for rs in runs.values() for r in rs)
        ratio = f" ({secs / base:.2f})" if base else ""
        print(f"| {b} | {' | '.join(cells)} | {sum(allf) / len(allf):.3f} | {collapsed}/{len(allf)} | {secs:.0f}{ratio} |")
    print(f"(means ± SD over seeds {args.seeds}; runs kept in {OUT})")


if __name__ == "__main__":
    main()
