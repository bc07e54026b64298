"""Alignment figures of BENCHMARKS.md ("Alignment"):

    python bench/alignment.py tatoeba [--languages amh swh ...]   # retrieval accuracy before and after a map
    python bench/alignment.py nusax [--output runs]               # NusaX zero-/few-shot: none, mean_center, procrustes
    python bench/alignment.py loss [--output runs] [--seeds 0 1 2]  # LoRA with the alignment loss against LoRA
    python bench/alignment.py ner [--output runs] [--seeds 0 1 2]   # MasakhaNER zero-shot, full FT, with and without

tatoeba: sentence vectors of the embedded e5-small (with its "query: " prefix) for each language's Tatoeba pairs with
English. Retrieval accuracy (XTREME's Tatoeba task: the nearest sentence by cosine similarity is the translation) in
both directions, before any map, after mean-centering (each side's own mean: no pairing used), and after Procrustes.
The Procrustes rotation is cross-fitted: fitted on one half of the pairs and scored on the other, both ways, so no
pair is scored by a map that saw it; every figure is on the same half-size candidate pools.

nusax: runs the three example configs in examples/alignment/ (resuming if interrupted) and compares each map with no
map over language x seed pairs (paired permutation test).

loss: runs examples/alignment/nusax-lora-align-loss.yaml and compares it with the LoRA runs of bench/prompt.py's
study (same seeds and training but for the loss; its four targets are among that study's ten), which it runs first
if they are missing.

ner: runs examples/alignment/masakhaner2-full.yaml and masakhaner2-full-align-loss.yaml (CoNLL-2003 English to the
MasakhaNER languages with Tatoeba sentences: Amharic from MasakhaNER 1.0, Swahili and Xhosa from 2.0; full fine-tuning,
zero-shot) for the seeds asked, and compares the arms over language x seed pairs.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from _xlt_run import run_config

LANGUAGES = ["amh", "swh", "hin", "tel", "jav", "ind", "tgl", "mar", "xho", "ara", "rus"]
CONFIGS = {"none": "examples/alignment/nusax-no-alignment.yaml",
           "mean_center": "examples/alignment/nusax-mean-center.yaml",
           "procrustes": "examples/alignment/nusax-procrustes.yaml"}


def tatoeba(languages: list[str]) -> None:
    from xlt.align.maps import procrustes, retrieval_accuracy
    from xlt.align.parallel import sentence_pairs
    from xlt.models import load_classifier, resolve
    from xlt.train import pooled_features

    spec = resolve("embedded:multilingual-e5-small")
    tok = spec.tokenizer()
    model = load_classifier(spec, 2, {0: "a", 1: "b"})

    def vectors(texts: list[str]) -> np.ndarray:
        ids = tok([spec.text_prefix + t for t in texts], truncation=True, max_length=128)["input_ids"]
        return pooled_features(model, tok, ids).numpy()

    def both_ways(x: np.ndarray, e: np.ndarray) -> tuple[float, float]:
        return retrieval_accuracy(x, e), retrieval_accuracy(e, x)

    print("| language | pairs | none xx->en | none en->xx | mean-centred xx->en | en->xx | Procrustes xx->en | en->xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    totals = []
    for lang in languages:
        pairs, _ = sentence_pairs("tatoeba", "eng", lang, None, 1000)
        eng, other = vectors([s for s, _ in pairs]), vectors([t for _, t in pairs])
        half = len(pairs) // 2
        folds = [(slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))]
        scores = {"none": [], "center": [], "procrustes": []}
        for fit, held in folds:
            x, e = other[held], eng[held]
            scores["none"].append(both_ways(x, e))
            scores["center"].append(both_ways(x - x.mean(0), e - e.mean(0)))
            fmap = procrustes(eng[fit], other[fit], e.mean(0), x.mean(0))
            scores["procrustes"].append(both_ways(fmap(x), e))
        row = {k: np.mean(v, axis=0) * 100 for k, v in scores.items()}
        totals.append(row)
        print(f"| {lang} | {len(pairs)} | " + " | ".join(f"{a:.1f} | {b:.1f}" for a, b in row.values()) + " |")
    mean = {k: np.mean([r[k] for r in totals], axis=0) for k in totals[0]}
    print(f"| mean | | " + " | ".join(f"{a:.1f} | {b:.1f}" for a, b in mean.values()) + " |")


def nusax(output: str) -> None:
    import xlt
    from xlt.evaluate.compare import paired_test

    tables = {}
    for name, config in CONFIGS.items():
        out = Path(output) / "alignment" / f"nusax-{name}"
        subprocess.run([sys.executable, "-m", "xlt.cli", "run", config, "--output", str(out)], check=True)
        runs = xlt.Results.from_dir(out).runs
        tables[name] = runs[runs["method"] == "frozen"].set_index(["strategy", "n", "language", "seed"])["score"]
    for strategy, n in (("zero_shot", None), ("few_shot", 100)):
        sel = {k: (t.xs(strategy, level="strategy") if n is None else t.xs((strategy, n), level=("strategy", "n")))
               for k, t in tables.items()}
        sel = {k: (v.droplevel("n") if "n" in v.index.names else v) for k, v in sel.items()}
        base = sel["none"]
        print(f"\n## {strategy}{f' N={n}' if n else ''}: macro-F1 x 100, mean over 3 seeds\n")
        print("| language | none | mean_center | procrustes |")
        print("|---|---:|---:|---:|")
        for lang in sorted(set(base.index.get_level_values("language"))):
            print(f"| {lang} | " + " | ".join(f"{sel[k].xs(lang, level='language').mean() * 100:.1f}"
                                             for k in CONFIGS) + " |")
        print("| mean | " + " | ".join(f"{sel[k].mean() * 100:.1f}" for k in CONFIGS) + " |")
        for k in ("mean_center", "procrustes"):
            a = sel[k].reindex(base.index)
            t = paired_test(list(a * 100), list(base * 100))
            la, lb = a.groupby(level="language").mean(), base.groupby(level="language").mean()
            by_language = paired_test(list(la * 100), list(lb * 100))
            print(f"\n{k} - none: {t['mean_diff']:+.1f} points; over {t['n']} language x seed pairs permutation p "
                  f"{t['p_permutation']:.4f}, Cohen's d {t['cohens_d']:.2f}; over the {by_language['n']} language "
                  f"means p {by_language['p_permutation']:.4f}, d {by_language['cohens_d']:.2f}; better on "
                  f"{int((la > lb).sum())} of {len(la)} languages")


def loss(output: str, seeds: list[int]) -> None:
    import yaml

    import xlt
    from xlt.evaluate.compare import paired_test

    reference = Path(output) / "prompt" / "nusax-prompt-vs-lora"
    subprocess.run([sys.executable, "bench/prompt.py", "--output", output, "--seeds", *map(str, seeds)], check=True,
                   stdout=subprocess.DEVNULL)
    cfg = yaml.safe_load(Path("examples/alignment/nusax-lora-align-loss.yaml").read_text())
    cfg["protocol"]["seeds"] = seeds
    out = Path(output) / "alignment" / "nusax-lora-align-loss"
    run_config(cfg, out)
    arms = {}
    for name, folder in (("lora", reference), ("lora + align_loss", out)):
        runs = xlt.Results.from_dir(folder).runs
        runs = runs[(runs["method"] == "lora") & runs["seed"].isin(seeds)]
        arms[name] = runs.set_index(["strategy", "language", "seed"])["score"] * 100
    langs = [t["language"] for t in cfg["targets"]]
    for strategy in ("zero_shot", "few_shot"):
        print(f"\n## {strategy}{' N=100' if strategy == 'few_shot' else ''}: macro-F1 x 100, mean over seeds {seeds}\n")
        print("| method | " + " | ".join(langs) + " | mean |\n|---|" + "---:|" * (len(langs) + 1))
        sel = {k: v.xs(strategy, level="strategy") for k, v in arms.items()}
        for name, scores in sel.items():
            means = [scores.xs(lang, level="language").mean() for lang in langs]
            print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in means) + f" | {np.mean(means):.1f} |")
        a = sel["lora + align_loss"]
        t = paired_test(list(a), list(sel["lora"].reindex(a.index)))
        print(f"\nalign_loss - none: {t['mean_diff']:+.1f} points over {t['n']} language x seed pairs, permutation p "
              f"{t['p_permutation']:.4f}, Cohen's d {t['cohens_d']:.2f}")
    for name, scores in arms.items():
        print(f"English source, {name}: {scores.xs('source', level='strategy').mean():.1f}")


def _run_with_seeds(config: str, out: Path, seeds: list[int]) -> None:
    import yaml

    cfg = yaml.safe_load(Path(config).read_text())
    cfg["protocol"]["seeds"] = seeds
    run_config(cfg, out)


def ner(output: str, seeds: list[int]) -> None:
    import xlt
    from xlt.evaluate.compare import paired_test

    arms = {}
    for name, config in (("full", "examples/alignment/masakhaner2-full.yaml"),
                         ("full + align_loss", "examples/alignment/masakhaner2-full-align-loss.yaml")):
        out = Path(output) / "alignment" / Path(config).stem
        _run_with_seeds(config, out, seeds)
        runs = xlt.Results.from_dir(out).runs
        runs = runs[runs["seed"].isin(seeds)]
        arms[name] = runs.set_index(["strategy", "language", "seed"])["score"] * 100
    zero = {k: v.xs("zero_shot", level="strategy") for k, v in arms.items()}
    langs = sorted(set(zero["full"].index.get_level_values("language")))
    print(f"\n## MasakhaNER zero-shot from CoNLL-2003 English: entity F1 x 100, mean over seeds {seeds}\n")
    print("| method | " + " | ".join(langs) + " | mean | English (CoNLL test) |\n|---|" + "---:|" * (len(langs) + 2))
    for name, scores in zero.items():
        means = [scores.xs(lang, level="language").mean() for lang in langs]
        print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in means) + f" | {np.mean(means):.1f} | "
              f"{arms[name].xs('source', level='strategy').mean():.1f} |")
    a = zero["full + align_loss"]
    t = paired_test(list(a), list(zero["full"].reindex(a.index)))
    print(f"\nalign_loss - none: {t['mean_diff']:+.1f} points over {t['n']} language x seed pairs, permutation p "
          f"{t['p_permutation']:.4f}, Cohen's d {t['cohens_d']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["tatoeba", "nusax", "loss", "ner"])
    ap.add_argument("--languages", nargs="+", default=LANGUAGES)
    ap.add_argument("--output", default="runs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    if args.part == "tatoeba":
        tatoeba(args.languages)
    elif args.part == "nusax":
        nusax(args.output)
    elif args.part == "ner":
        ner(args.output, args.seeds)
    else:
        loss(args.output, args.seeds)


if __name__ == "__main__":
    main()
