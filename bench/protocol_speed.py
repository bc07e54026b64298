"""xlt's transfer protocol against the usual recipe, side by side in one process.

The usual recipe, as the study's sources write it: transformers `Trainer`, every text padded to
max_length 128, fp32, default `TrainingArguments` apart from the shared hyperparameters, and the
English stage retrained inside every run that needs it. xlt: `run_experiment` on the same model
(the embedded multilingual-e5-small, mean-pooled head in both), the same splits and k-shot samples,
method, learning rates, batch size, epochs (3 from scratch, 2 when continuing), warm-up and weight
decay, and no early stopping (patience 0), so both train the same number of optimiser steps.

Parts (--parts, default all):
  protocol  wall time of target-only, zero-shot, few-shot N=100/250, full-shot over the seeds and
            languages, and macro-F1 of both per language and setting (the agreement check); seed by
            seed, each seed's result kept in bench/out/ so an interrupted run resumes
  protocol-xlt  xlt's side alone, with where its time goes (training loops, evaluation, the rest)
  train     training examples/s of one epoch on the English train split, per method
  predict   texts/s of xlt's Predictor (PyTorch, and its ONNX exports int8/fp32) against
            transformers.pipeline on 2,000 texts, and the macro-F1 each keeps on the test splits
  predict-saved  macro-F1 and label agreement of PyTorch and the int8 ONNX export on a model an
            experiment saved (--saved-model DIR --saved-config DIR/../../config.resolved.yaml)
  memory    peak resident memory of one LoRA training epoch, each side in its own subprocess
  mfu       achieved training FLOP/s (counted by torch's FlopCounterMode) over the FLOP/s torch.matmul
            reaches on the model's own matrix shapes, measured in the same run

    python bench/protocol_speed.py [--parts protocol train predict memory mfu] [--seeds 0 1 2]
                                   [--langs jav sun] [--method lora] [--quick]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from xlt.config import DataSource, Preprocess, Training, parse_config
from xlt.protocol.strategies import is_reference
from xlt.data.pipeline import load_language
from xlt.data.splits import k_shot
from xlt.evaluate.metrics import macro_f1, mean_sd
from xlt.methods import make_method
from xlt.models import load_classifier, resolve, save_for_transformers
from xlt.train import encode, set_threads, train

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import cpu_name  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EPOCHS, EPOCHS_CONTINUE, BATCH, MAX_LEN = 3, 2, 16, 128
SHOTS = [100, 250]


def strategies() -> list[tuple[str, int | None]]:
    return [("target_only", None), ("zero_shot", None), *[("few_shot", n) for n in SHOTS], ("full_shot", None)]


class Bench:
    """Data and model shared by every part: NusaX-senti English and the target languages."""

    def __init__(self, langs: list[str], quick: bool):
        self.spec = resolve(None)
        self.tok = self.spec.tokenizer()
        self.quick = quick
        self.data = {lang: load_language(DataSource(dataset="nusax-senti", language=lang), Preprocess(), str(DATA))[0]
                     for lang in ["eng", *langs]}
        if quick:  # a smoke test of the script, not a measurement
            SHOTS[:] = [10, 20]
            for ld in self.data.values():
                ld.splits = {s: rows[:60] for s, rows in ld.splits.items()}
        self.labels = self.data["eng"].labels
        self.l2i = {lab: i for i, lab in enumerate(self.labels)}

    def model(self, seed: int):
        torch.manual_seed(seed)
        return load_classifier(self.spec, len(self.labels), dict(enumerate(self.labels)))


# ---------------------------------------------------------------- the usual recipe (Trainer)

class PaddedDataset(torch.utils.data.Dataset):
    def __init__(self, b: Bench, rows):
        enc = b.tok([b.spec.text_prefix + r.text for r in rows], padding="max_length", truncation=True, max_length=MAX_LEN)
        self.items = [{"input_ids": i, "attention_mask": m, "labels": b.l2i[r.label]}
                      for i, m, r in zip(enc["input_ids"], enc["attention_mask"], rows)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return {k: torch.tensor(v) for k, v in self.items[i].items()}


def trainer_fit(b: Bench, model, rows, epochs: int, lr: float, seed: int, out: str):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=out, num_train_epochs=epochs, per_device_train_batch_size=BATCH,
                             per_device_eval_batch_size=64, learning_rate=lr, weight_decay=0.01, warmup_ratio=0.1,
                             seed=seed, report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True,
                             disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=PaddedDataset(b, rows))
    trainer.train()
    return trainer


def trainer_f1(b: Bench, trainer, rows) -> float:
    out = trainer.predict(PaddedDataset(b, rows))
    return macro_f1([b.l2i[r.label] for r in rows], list(out.predictions.argmax(-1)))


def baseline_protocol(b: Bench, method: str, seeds: list[int], langs: list[str]) -> dict:
    """Every run from scratch: the English stage is retrained for each transfer run."""
    m = make_method(method)
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for lang in langs:
                tgt = b.data[lang].splits
                for strategy, n in strategies():
                    model = m.prepare(b.model(seed))
                    if strategy == "target_only":
                        tr = trainer_fit(b, model, tgt["train"], EPOCHS, m.default_lr, seed, tmp)
                    else:
                        tr = trainer_fit(b, model, b.data["eng"].splits["train"], EPOCHS, m.default_lr, seed, tmp)
                        if strategy != "zero_shot":
                            rows = k_shot(tgt["train"], n, seed) if n else tgt["train"]
                            tr = trainer_fit(b, model, rows, EPOCHS_CONTINUE, m.default_lr_continue, seed, tmp)
                    scores[(lang, strategy, n, seed)] = trainer_f1(b, tr, tgt["test"])
    return scores


# ---------------------------------------------------------------- xlt

def _source(b: Bench, lang: str, tmp: str) -> dict:
    """The language as xlt reads it: the named dataset, or in quick mode the same truncated splits the
    baseline reads, written to files."""
    if not b.quick:
        return {"dataset": "nusax-senti", "language": lang}
    import csv

    files = {}
    for split, rows in b.data[lang].splits.items():
        files[split] = str(Path(tmp) / f"{lang}-{split}.csv")
        with open(files[split], "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([("text", "label"), *((r.text, r.label) for r in rows)])
    return {"files": files, "text": "text", "label": "label", "language": lang, "name": "nusax-senti"}


def xlt_protocol(b: Bench, method: str, seeds: list[int], langs: list[str]) -> dict:
    from xlt.protocol import run_experiment
    from xlt.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"name": "bench-protocol", "method": {"name": method},
               "source": _source(b, "eng", tmp), "targets": [_source(b, lang, tmp) for lang in langs],
               "protocol": {"strategies": ["target_only", "zero_shot", "few_shot", "full_shot"], "shots": SHOTS,
                            "seeds": seeds},
               "training": {"epochs": EPOCHS, "epochs_continue": EPOCHS_CONTINUE, "min_steps": 0, "batch_size": BATCH,
                            "max_length": MAX_LEN, "patience": 0},
               "baselines": [], "output": {"dir": tmp, "save_predictions": False}}
        exp = parse_config(cfg)
        t = time.perf_counter()
        run_experiment(exp, str(DATA))
        wall = time.perf_counter() - t
        runs = Store(Path(tmp) / "results.sqlite").runs("done")
        stage_loops = sum(json.loads(f.read_text())["seconds"] for f in (Path(tmp) / "stages").glob("*.json"))
    scores = {(r["language"], r["strategy"], r["n"], r["seed"]): r["metrics"]["macro_f1"]
              for r in runs if not is_reference(r["strategy"])}
    return scores, time_breakdown(runs, stage_loops, wall)


def time_breakdown(runs: list[dict], stage_loops: float, wall: float) -> dict:
    """Where xlt's wall time goes, from its own results store: training loops (source stages + target
    trainings), test-set evaluation, the rest of each run (model loading, encoding, saving), and the time
    outside runs (data loading and checks, before the first run)."""
    inside = sum(r["finished"] - r["started"] for r in runs)
    target_loops = sum(r["train_info"].get("seconds", 0.0) for r in runs
                       if r["strategy"] in ("target_only", "few_shot", "full_shot"))
    evaluation = sum(r["eval_seconds"] for r in runs)
    return {"wall": wall, "source stage training loops": stage_loops, "target training loops": target_loops,
            "test evaluation": evaluation, "rest of the runs": inside - stage_loops - target_loops - evaluation,
            "outside runs": wall - inside}


def print_breakdown(breakdown: dict) -> None:
    print("\n| xlt time | seconds | share |\n|---|---|---|")
    for k, v in breakdown.items():
        print(f"| {k} | {v:.0f} | {v / breakdown['wall']:.0%} |")


def part_protocol_xlt(b: Bench, args) -> None:
    """xlt's side of the protocol alone, with its time breakdown (for profiling; no ratio)."""
    t = time.perf_counter()
    scores, breakdown = xlt_protocol(b, args.method, args.seeds, args.langs)
    print(f"\n## xlt's protocol alone ({args.method}; seeds {args.seeds}; {', '.join(args.langs)}): "
          f"{time.perf_counter() - t:.0f} s")
    print_breakdown(breakdown)
    print("| language | setting | seed | macro-F1 |\n|---|---|---|---|")
    for (lang, strategy, n, seed), f1 in sorted(scores.items(), key=str):
        print(f"| {lang} | {strategy}{f' N={n}' if n else ''} | {seed} | {f1:.3f} |")


def part_protocol(b: Bench, args) -> None:
    """Seed by seed, the usual recipe then xlt, so the two sides of each ratio run minutes apart.

    Each finished seed is written to bench/out/ (atomically), and a rerun with the same arguments
    skips it: the 2.5-hour measurement survives an interruption.
    """
    from xlt.files import atomic_write_text

    tag = f"{args.method}-{'-'.join(args.langs)}{'-quick' if b.quick else ''}"
    path = Path(__file__).parent / "out" / f"protocol-{tag}.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    for seed in args.seeds:
        if str(seed) in done:
            print(f"seed {seed}: reusing the measurement of {done[str(seed)]['finished']} from {path}")
            continue
        t = time.perf_counter()
        base = baseline_protocol(b, args.method, [seed], args.langs)
        t_base = time.perf_counter() - t
        t = time.perf_counter()
        mine, breakdown = xlt_protocol(b, args.method, [seed], args.langs)
        t_xlt = time.perf_counter() - t
        print(f"seed {seed}: usual recipe {t_base:.0f} s, xlt {t_xlt:.0f} s, {t_base / t_xlt:.2f}x", flush=True)
        done[str(seed)] = {"baseline_seconds": t_base, "xlt_seconds": t_xlt, "cpu": cpu_name(),
                           "threads": torch.get_num_threads(), "finished": time.strftime("%Y-%m-%d %H:%M"),
                           "baseline": {"|".join(map(str, k)): v for k, v in base.items()},
                           "xlt": {"|".join(map(str, k)): v for k, v in mine.items()}, "xlt_breakdown": breakdown}
        path.parent.mkdir(exist_ok=True)
        atomic_write_text(path, json.dumps(done, indent=1))
    seeds = [s for s in args.seeds if str(s) in done]
    t_base = sum(done[str(s)]["baseline_seconds"] for s in seeds)
    t_xlt = sum(done[str(s)]["xlt_seconds"] for s in seeds)
    print(f"\n## protocol ({args.method}; seeds {seeds}; {', '.join(args.langs)}; "
          f"{len(strategies())} settings per language)")
    print("| seed | usual recipe (Trainer, padded 128, fp32, source retrained) s | xlt run_experiment s | speed-up | "
          "measured |\n|---|---|---|---|---|")
    for s in seeds:
        d = done[str(s)]
        print(f"| {s} | {d['baseline_seconds']:.0f} | {d['xlt_seconds']:.0f} | "
              f"{d['baseline_seconds'] / d['xlt_seconds']:.2f}x | {d['finished']}, {d['threads']} threads |")
    print(f"| all | {t_base:.0f} | {t_xlt:.0f} | {t_base / t_xlt:.2f}x | |")
    for s in seeds:
        if "xlt_breakdown" in done[str(s)]:
            print(f"\nseed {s}:", end="")
            print_breakdown(done[str(s)]["xlt_breakdown"])
    print("\n| language | setting | xlt macro-F1 | usual recipe macro-F1 | difference | within seed spread |")
    print("|---|---|---|---|---|---|")
    for lang in args.langs:
        for strategy, n in strategies():
            keys = {s: f"{lang}|{strategy}|{n}|{s}" for s in seeds}
            a = [done[str(s)]["xlt"][keys[s]] for s in seeds]
            c = [done[str(s)]["baseline"][keys[s]] for s in seeds]
            (ma, sa), (mc, sc) = mean_sd(a), mean_sd(c)
            spread = max(sa, sc) * 2
            agree = ("yes" if abs(ma - mc) <= spread else "no") if len(seeds) > 1 else "n/a (one seed)"
            print(f"| {lang} | {strategy}{f' N={n}' if n else ''} | {ma:.3f} ± {sa:.3f} | {mc:.3f} ± {sc:.3f} | "
                  f"{ma - mc:+.3f} | {agree} |")
    # the protocol as a whole: each seed's mean over all settings, then mean ± SD over seeds
    per_seed = {side: [sum(done[str(s)][side].values()) / len(done[str(s)][side]) for s in seeds]
                for side in ("xlt", "baseline")}
    (ma, sa), (mc, sc) = mean_sd(per_seed["xlt"]), mean_sd(per_seed["baseline"])
    agree = ("yes" if abs(ma - mc) <= max(sa, sc) * 2 else "no") if len(seeds) > 1 else "n/a (one seed)"
    print(f"| all | mean of the settings | {ma:.3f} ± {sa:.3f} | {mc:.3f} ± {sc:.3f} | {ma - mc:+.3f} | {agree} |")
    print("(within seed spread: |difference| <= 2 x the larger SD over seeds)")


# ---------------------------------------------------------------- throughput, memory, MFU

def xlt_epoch(b: Bench, method: str, rows, model=None) -> float:
    m = make_method(method)
    model = m.prepare(model if model is not None else b.model(0))
    enc = encode(b.tok, rows, b.spec.text_prefix, MAX_LEN, b.l2i)
    t = time.perf_counter()
    train(model, m, b.tok, enc, None, Training(epochs=1, min_steps=0, patience=0, batch_size=BATCH), m.default_lr, 0)
    return len(rows) / (time.perf_counter() - t)


def trainer_epoch(b: Bench, method: str, rows, model=None) -> float:
    m = make_method(method)
    model = m.prepare(model if model is not None else b.model(0))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        trainer_fit(b, model, rows, 1, m.default_lr, 0, tmp)
    return len(rows) / (time.perf_counter() - t)


def part_train(b: Bench, args) -> None:
    rows = b.data["eng"].splits["train"]
    print(f"\n## training throughput (one epoch, {len(rows)} English texts, batch {BATCH})")
    print("| method | xlt ex/s | usual recipe ex/s | ratio |\n|---|---|---|---|")
    for method in ("lora", "full", "frozen"):
        # frozen: xlt encodes each text once and trains the head on cached features; Trainer runs the
        # frozen encoder forward in every step
        mine, base = xlt_epoch(b, method, rows), trainer_epoch(b, method, rows)
        print(f"| {method} | {mine:.1f} | {base:.1f} | {mine / base:.2f}x |")


def part_predict(b: Bench, args) -> None:
    """texts/s on 2,000 texts and macro-F1 on the test splits of `transformers.pipeline`, xlt's Predictor
    (PyTorch) and xlt's Predictor on the ONNX exports (int8 and fp32), all on one model fine-tuned here
    (full fine-tuning, 2 epochs on English), so the ratio and the F1 each backend keeps come from one run.
    Two rounds, the backends interleaved; each backend's faster round is reported."""
    from transformers import pipeline

    from xlt.serve.onnx import export_onnx
    from xlt.serve.predict import Predictor

    texts = [r.text for ld in b.data.values() for s in ("train", "validation", "test") for r in ld.splits[s]]
    texts = (texts * (2000 // len(texts) + 1))[: 200 if b.quick else 2000]
    m = make_method("full")
    model = m.prepare(b.model(0))
    enc = encode(b.tok, b.data["eng"].splits["train"], b.spec.text_prefix, MAX_LEN, b.l2i)
    train(model, m, b.tok, enc, None, Training(epochs=2, min_steps=0, patience=0, batch_size=BATCH), m.default_lr, 0)
    tests = {lang: ld.splits["test"] for lang, ld in b.data.items()}
    with tempfile.TemporaryDirectory() as tmp:
        save_for_transformers(model, b.tok, Path(tmp), {"xlt_text_prefix": b.spec.text_prefix})
        checks = {p: export_onnx(tmp, p) for p in ("int8", "fp32")}
        pipe = pipeline("text-classification", model=tmp, tokenizer=tmp, trust_remote_code=True, device="cpu")
        backends = {"transformers.pipeline": lambda x: [o["label"] for o in pipe([b.spec.text_prefix + t for t in x],
                                                                                 truncation=True, max_length=MAX_LEN)],
                    "xlt predict (PyTorch)": Predictor(tmp), "xlt predict --onnx int8": Predictor(tmp, onnx="int8"),
                    "xlt predict --onnx fp32": Predictor(tmp, onnx="fp32")}
        run = {k: (v if callable(v) else (lambda x, p=v: [o["label"] for o in p.predict(x, max_length=MAX_LEN)]))
               for k, v in backends.items()}
        rate = {k: 0.0 for k in run}
        for _ in range(2):
            for k, f in run.items():
                t = time.perf_counter()
                f(texts)
                rate[k] = max(rate[k], len(texts) / (time.perf_counter() - t))
        labels = {k: {lang: f([r.text for r in rows]) for lang, rows in tests.items()} for k, f in run.items()}
    f1 = {k: {lang: macro_f1([r.label for r in rows], labels[k][lang]) for lang, rows in tests.items()} for k in run}
    ref = labels["xlt predict (PyTorch)"]
    agree = {k: np.mean([a == c for lang in tests for a, c in zip(labels[k][lang], ref[lang])]) for k in run}
    base = rate["transformers.pipeline"]
    langs = list(tests)
    print(f"\n## prediction ({len(texts)} texts; macro-F1 on the {', '.join(langs)} test splits, model fine-tuned "
          "2 epochs on English)")
    print(f"| backend | texts/s | vs pipeline | {' | '.join(f'F1 {lang}' for lang in langs)} | mean F1 | "
          "labels as PyTorch's |")
    print("|---|---|---|" + "---|" * (len(langs) + 2))
    for k in run:
        scores = [f1[k][lang] for lang in langs]
        print(f"| {k} | {rate[k]:.1f} | {rate[k] / base:.2f}x | {' | '.join(f'{x:.4f}' for x in scores)} | "
              f"{np.mean(scores):.4f} | {agree[k]:.1%} |")
    for p, c in checks.items():
        print(f"ONNX {p}: {c['size_mb']} MB, labels agree with PyTorch on {c['labels_agree']} check texts, "
              f"largest probability difference {c['max_abs_prob_diff']:.4f}")


def part_predict_saved(b: Bench, args) -> None:
    """What int8 ONNX costs on a model saved by an experiment (--saved-model DIR --saved-config its
    config.resolved.yaml): macro-F1 of PyTorch and of the int8 export on each target's test split, and
    the share of labels that stay the same. The model directory is copied, not written into."""
    import shutil

    from xlt.config import load_config
    from xlt.serve.onnx import export_onnx
    from xlt.serve.predict import Predictor

    exp = load_config(args.saved_config)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        shutil.copytree(args.saved_model, model, ignore=shutil.ignore_patterns("onnx"))
        export_onnx(model, "int8")
        torch_pred, int8_pred = Predictor(model), Predictor(model, onnx="int8")
        print(f"\n## int8 ONNX on {args.saved_model}\n| target | test rows | PyTorch macro-F1 | int8 macro-F1 | "
              "difference (points) | labels as PyTorch's |\n|---|---|---|---|---|---|")
        for src in exp.targets:
            rows = load_language(src, exp.preprocess, str(DATA), exp.split_ratios, exp.split_seed)[0].splits["test"]
            texts, gold = [r.text for r in rows], [r.label for r in rows]
            want = [o["label"] for o in torch_pred.predict(texts)]
            got = [o["label"] for o in int8_pred.predict(texts)]
            f_t, f_q = macro_f1(gold, want), macro_f1(gold, got)
            print(f"| {src.dataset} {src.language or ''} | {len(rows)} | {f_t:.4f} | {f_q:.4f} | {100 * (f_q - f_t):+.2f} | "
                  f"{np.mean([a == c for a, c in zip(want, got)]):.1%} |")


MEMORY_SIDES = {"xlt": "xlt's training loop", "xlt-trim": "xlt, glibc M_TRIM_THRESHOLD 16 MB (memory handed back sooner)",
                "trainer": "the usual recipe (Trainer, padded 128)"}


def part_memory(b: Bench, args) -> None:
    print("\n## peak resident memory, one LoRA epoch on the English train split (own subprocess each)")
    print("| side | peak RSS (GB) | after imports | + tokenizer, data | + model weights touched | ex/s |")
    print("|---|---|---|---|---|---|")
    peaks = {}
    for side, label in MEMORY_SIDES.items():
        cmd = [sys.executable, __file__, "--memory-child", side, "--method", "lora"] + (["--quick"] if b.quick else [])
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        peaks[side] = out["peak"]
        print(f"| {label} | {out['peak']:.2f} | {out['imports']:.2f} | {out['data']:.2f} | {out['model']:.2f} | "
              f"{out['ex_s']:.1f} |")
    print(f"ratio xlt / usual recipe: {peaks['xlt'] / peaks['trainer']:.2f}")


def memory_child(side: str, method: str, quick: bool) -> None:
    """Peak RSS is the child's own ru_maxrss; the stages are its RSS after each step (psutil)."""
    import psutil

    proc = psutil.Process()
    stages = {"imports": proc.memory_info().rss / 1e9}
    b = Bench([], quick)
    stages["data"] = proc.memory_info().rss / 1e9
    model = b.model(0)
    for p in model.parameters():  # weights are memory-mapped until first read
        p.detach().sum()
    stages["model"] = proc.memory_info().rss / 1e9
    if side == "xlt-trim":
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-1, 16 << 20)  # M_TRIM_THRESHOLD (glibc)
    rows = b.data["eng"].splits["train"]
    ex_s = (trainer_epoch if side == "trainer" else xlt_epoch)(b, method, rows, model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    print(json.dumps({**stages, "peak": peak, "ex_s": ex_s}))


def part_mfu(b: Bench, args) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from xlt.fast_dropout import fast_dropout
    from xlt.train import collate, training_batches

    m = make_method(args.method)
    model = m.prepare(b.model(0))
    rows = b.data["eng"].splits["train"]
    enc = encode(b.tok, rows, b.spec.text_prefix, MAX_LEN, b.l2i)
    batches = training_batches([len(x) for x in enc.ids], enc.labels, BATCH, random.Random(0), Training().batching)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step(idx):
        batch = collate([enc.ids[i] for i in idx], b.tok.pad_token_id)
        loss = torch.nn.functional.cross_entropy(model(**batch).logits, torch.tensor([enc.labels[i] for i in idx]))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    with fast_dropout(model):  # as xlt's training loop does on a CPU
        with FlopCounterMode(display=False) as counter:
            for idx in batches:
                step(idx)
        flops = counter.get_total_flops()
        t = time.perf_counter()
        for idx in batches:
            step(idx)
        achieved = flops / (time.perf_counter() - t)
    tokens = int(np.mean([sum(len(enc.ids[i]) for i in idx) for idx in batches]))
    h, ff = model.config.hidden_size, model.config.intermediate_size  # the model's own matrix shapes
    shapes = [(tokens, h, h), (tokens, h, ff), (tokens, ff, h)]  # attention projections, FFN up, FFN down
    peak = 0.0
    for mm, k, n in shapes:
        x, w = torch.randn(mm, k), torch.randn(k, n)
        for _ in range(3):
            torch.matmul(x, w)
        reps = 50
        t = time.perf_counter()
        for _ in range(reps):
            torch.matmul(x, w)
        peak = max(peak, 2 * mm * k * n * reps / (time.perf_counter() - t))
    print(f"\n## model FLOPs utilisation ({args.method}, one epoch, {len(batches)} batches, ~{tokens} tokens per batch)")
    print(f"achieved training FLOP/s (FlopCounterMode count / wall time): {achieved / 1e9:.1f} GFLOP/s")
    print(f"torch.matmul on the model's shapes {shapes}: best {peak / 1e9:.1f} GFLOP/s")
    print(f"utilisation: {achieved / peak:.1%}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", nargs="+", default=["protocol", "train", "predict", "memory", "mfu"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--langs", nargs="+", default=["jav", "sun"])
    ap.add_argument("--method", default="lora")
    ap.add_argument("--quick", action="store_true", help="60 texts per split: checks the script runs, measures nothing")
    ap.add_argument("--saved-model", help="predict-saved: a model directory an experiment saved")
    ap.add_argument("--saved-config", help="predict-saved: that experiment's config.resolved.yaml")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    set_threads(None)
    if args.memory_child:
        return memory_child(args.memory_child, args.method, args.quick)
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads"
          f"{'; QUICK MODE: not a measurement' if args.quick else ''}")
    b = Bench(args.langs, args.quick)
    parts = {"protocol": part_protocol, "protocol-xlt": part_protocol_xlt, "train": part_train, "predict": part_predict,
             "predict-saved": part_predict_saved, "memory": part_memory,
             "mfu": part_mfu}
    for p in args.parts:
        parts[p](b, args)
    print(json.dumps({"parts": args.parts, "seeds": args.seeds, "langs": args.langs, "method": args.method}))


if __name__ == "__main__":
    main()
