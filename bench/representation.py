"""X-MAML and language-adaptive pretraining against their plain strategies (BENCHMARKS.md, "Representation-level
methods"), on the same source stages:

    python bench/representation.py xmaml [--seeds 0 1 2] [--shots 50 100] [--output runs]  # few_shot_meta, few_shot
    python bench/representation.py lapt [--seeds 0 1 2] [--output runs]    # zero_shot_lapt against zero_shot

Each runs its example config (examples/meta/nusax-xmaml.yaml, examples/lapt/nusax-lapt.yaml) with the seeds given,
resuming if interrupted, and prints macro-F1 per language, the paired difference, and LAPT's minutes per language.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PARTS = {"xmaml": ("examples/meta/nusax-xmaml.yaml", "few_shot", "few_shot_meta"),
         "lapt": ("examples/lapt/nusax-lapt.yaml", "zero_shot", "zero_shot_lapt")}


def main() -> None:
    import xlt
    from xlt.evaluate.compare import paired_test

    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=sorted(PARTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--output", default="runs")
    ap.add_argument("--shots", type=int, nargs="+", help="few-shot N (xmaml; default: the config's)")
    args = ap.parse_args()
    if args.shots and (args.part != "xmaml" or min(args.shots) < 1):
        ap.error("--shots takes positive few-shot sizes N, and only for xmaml (lapt is zero-shot)")
    config, plain, new = PARTS[args.part]
    cfg = yaml.safe_load(Path(config).read_text())
    cfg["protocol"]["seeds"] = args.seeds
    if args.shots:
        cfg["protocol"]["shots"] = args.shots
    out = Path(args.output) / Path(config).parent.name / cfg["name"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(cfg, fh)
    try:  # xlt prints its own one-line error; exit with its status instead of a traceback on top
        code = subprocess.run([sys.executable, "-m", "xlt.cli", "run", fh.name, "--output", str(out)]).returncode
    finally:
        Path(fh.name).unlink()
    if code:
        sys.exit(code)
    runs = xlt.Results.from_dir(out).runs
    runs = runs[runs["seed"].isin(args.seeds)]
    langs = [t["language"] for t in cfg["targets"]]
    runs = runs[runs["strategy"].isin([plain, new])]
    runs = runs.assign(n=runs["n"].fillna(0).astype(int))
    print(f"\n## {cfg['name']}: macro-F1 x 100, mean over seeds {args.seeds}\n")
    print("| strategy | N | " + " | ".join(langs) + " | mean |\n|---|---:|" + "---:|" * (len(langs) + 1))
    table = runs.pivot_table(index=["strategy", "n"], columns="language", values="score", aggfunc="mean") * 100
    shots = sorted(runs["n"].unique())
    for n in shots:
        for strategy in (plain, new):
            row = table.loc[(strategy, n), langs]
            print(f"| {strategy} | {n or ''} | " + " | ".join(f"{v:.1f}" for v in row) + f" | {row.mean():.1f} |")
    for n in shots:
        pairs = runs[runs["n"] == n].pivot_table(index=["language", "seed"], columns="strategy", values="score") * 100
        t = paired_test(list(pairs[new]), list(pairs[plain]))
        print(f"\n{new} - {plain}{f' at N={n}' if n else ''}: {t['mean_diff']:+.1f} points over {t['n']} language x "
              f"seed pairs, permutation p {t['p_permutation']:.4f}")
    if args.part == "lapt":
        con = sqlite3.connect(out / "results.sqlite")
        for language, info in con.execute("SELECT language, train_info FROM runs WHERE strategy = 'zero_shot_lapt' "
                                          "AND status = 'done' ORDER BY language, seed"):
            lapt = json.loads(info)["lapt"]
            print(f"LAPT {language}: {lapt['minutes']:.1f} min, masked-LM loss {lapt['mlm_loss_first']:.2f} -> "
                  f"{lapt['mlm_loss_last']:.2f} ({lapt['steps']} steps, {lapt['texts']} texts)")
        con.close()


if __name__ == "__main__":
    main()
