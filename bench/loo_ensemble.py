"""Leave-one-out LoRA on NusaX-senti averaged with the frozen-embedding head (`protocol.ensemble:
embedding-head`), against each alone, per target and seed.

The two models err differently: LoRA's joint model on the eleven other languages and the frozen encoder's
logistic-regression head on the same rows score alike in the mean, so their average is the cheapest lever left
for leave-one-out. Each seed runs the config with the average, then without it on the same stages (hard-linked,
so LoRA is not trained again). The head's own test probabilities are read back from each pair of runs (twice
the average minus LoRA's); the head is a convex fit on the same rows, so they must agree across seeds, and the
script checks that they do.

For each seed S, the two halves of the targets on the two cores (`-a` and `-b`, or all ten in one folder):

    taskset -c 0 xlt run bench/multi_source/nusax-lora-leave-one-out.yaml --set 'protocol.seeds=[S]' \
        --set 'protocol.ensemble=embedding-head' --output bench/out/loo-ensemble/averaged-seedS
    mkdir -p bench/out/loo-ensemble/lora-seedS
    cp -al bench/out/loo-ensemble/averaged-seedS/stages bench/out/loo-ensemble/lora-seedS/
    taskset -c 0 xlt run bench/multi_source/nusax-lora-leave-one-out.yaml --set 'protocol.seeds=[S]' \
        --output bench/out/loo-ensemble/lora-seedS
    python bench/loo_ensemble.py --averaged bench/out/loo-ensemble/averaged-seed* \
        --lora bench/out/loo-ensemble/lora-seed*

The same from English alone, where LoRA's zero-shot depends strongly on the seed: the matrix config with
`--set 'sources.languages=[eng]'` (bench/multi_source/nusax-lora-matrix-1.yaml), with and without the average,
into `english-averaged-seedS` and `english-lora-seedS`, then the script on those folders with `--languages` set
to the ten local languages.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def stored_runs(folders: list[Path]) -> dict:
    """(seed, language) -> (gold labels, class probabilities, label order, stored score) of the
    LoRA zero-shot runs in these run folders (each source set's store below them)."""
    from xlt.store import open_existing, read_meta, run_predictions

    out = {}
    for db in sorted(p for f in folders for p in f.rglob("results.sqlite")):
        with open_existing(db) as con:
            labels = read_meta(con, "experiment")["labels"]
            for run_id, seed, lang, metrics in con.execute(
                    "select run_id, seed, language, metrics from runs where status='done' and method='lora' "
                    "and strategy='zero_shot'").fetchall():
                gold, probs = run_predictions(con, run_id)
                if probs:  # a run saved without its predictions (output.save_predictions: false) is left out
                    out[(seed, lang)] = (gold, np.array(probs), labels, 100 * json.loads(metrics)["score"])
    return out


def macro_f1(gold: list[str], probs: np.ndarray, labels: list[str]) -> float:
    from xlt.evaluate.metrics import macro_f1 as f1

    return 100 * f1(gold, [labels[i] for i in probs.argmax(1)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--averaged", nargs="+", type=Path, required=True, help="run folders with the average")
    ap.add_argument("--lora", nargs="+", type=Path, required=True, help="run folders without it")
    ap.add_argument("--languages", nargs="+", help="only these targets (default: every one in both)")
    args = ap.parse_args()
    from xlt.errors import XltError

    try:
        averaged, lora = stored_runs(args.averaged), stored_runs(args.lora)
    except XltError as e:  # a damaged store
        ap.error(str(e))
    pairs = sorted(k for k in set(averaged) & set(lora) if not args.languages or k[1] in args.languages)
    if not pairs:
        ap.error("no target and seed has finished LoRA zero-shot runs with stored predictions in "
                 "both --averaged and --lora")
    heads: dict[str, list[np.ndarray]] = {}
    scores: dict[str, dict[int, tuple[float, float]]] = {}  # language -> seed -> (LoRA, average)
    for seed, lang in pairs:
        gold, avg, labels, avg_score = averaged[(seed, lang)]
        plain, plain_score = lora[(seed, lang)][1], lora[(seed, lang)][3]
        head = 2 * avg - plain
        if head.min() < -1e-3 or np.abs(head.sum(1) - 1).max() > 1e-3:
            ap.error(f"{lang}, seed {seed}: the run without the average is not on the same stage (the head "
                     "read back is not a probability distribution)")
        heads.setdefault(lang, []).append(head)
        scores.setdefault(lang, {})[seed] = (macro_f1(gold, plain, labels), macro_f1(gold, avg, labels))
        if max(abs(a - b) for a, b in zip(scores[lang][seed], (plain_score, avg_score))) > 0.05:
            ap.error(f"{lang}, seed {seed}: the stored probabilities do not give the stored scores")
    drift = max(np.abs(h - hs[0]).max() for hs in heads.values() for h in hs)
    seeds = sorted({s for s, _ in pairs})
    langs = sorted(scores)
    head_f1 = {lang: macro_f1(averaged[(min(scores[lang]), lang)][0], heads[lang][0],
                              averaged[(min(scores[lang]), lang)][2]) for lang in langs}

    def cell(lang, seed, i):
        return scores[lang][seed][i] if seed in scores[lang] else np.nan

    cols = [f"LoRA, seed {s}" for s in seeds] + ["frozen head"] + [f"average, seed {s}" for s in seeds]
    print("| target | " + " | ".join(cols) + " | average - LoRA, mean over seeds |")
    print("|---|" + "---:|" * (len(cols) + 1))
    rows = [[*(cell(lang, s, 0) for s in seeds), head_f1[lang], *(cell(lang, s, 1) for s in seeds)]
            for lang in langs]
    for lang, row in zip(langs, rows):
        gain = np.nanmean(row[-len(seeds):]) - np.nanmean(row[:len(seeds)])
        print(f"| {lang} | " + " | ".join("" if np.isnan(v) else f"{v:.1f}" for v in row) + f" | {gain:+.1f} |")
    means = np.nanmean(rows, axis=0)
    print(f"| mean ({len(langs)}) | " + " | ".join(f"{v:.1f}" for v in means)
          + f" | {np.mean(means[-len(seeds):]) - np.mean(means[:len(seeds)]):+.1f} |")
    print(f"the head's test probabilities agree across seeds to {drift:.1e}")
    from xlt.evaluate.compare import paired_test

    flat = [(scores[lang][s][1], scores[lang][s][0], head_f1[lang]) for s, lang in pairs]
    for name, j in (("LoRA", 1), ("the frozen head", 2)):
        t = paired_test([x[0] for x in flat], [x[j] for x in flat])
        print(f"average - {name}: {t['mean_diff']:+.1f} points over {t['n']} target x seed pairs (above on "
              f"{sum(x[0] > x[j] for x in flat)}), permutation p {t['p_permutation']:.4f}")


if __name__ == "__main__":
    main()
