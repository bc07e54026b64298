"""Soft prompts against LoRA (BENCHMARKS.md, "Soft prompts"): runs examples/prompt/nusax-prompt-vs-lora.yaml
(resuming if interrupted) and prints macro-F1 per language and the paired comparison of the two methods.

    python bench/prompt.py [--seeds 0 1 2] [--output runs]

Seeds can run on separate cores into separate folders (`taskset -c 0 python bench/prompt.py --seeds 0 --output
runs/s0`, `taskset -c 1 ... --seeds 1 --output runs/s1`) and be tabled together with `--stores
runs/s0/prompt/nusax-prompt-vs-lora runs/s1/prompt/nusax-prompt-vs-lora`, which runs nothing.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from _xlt_run import run_config

CONFIG = "examples/prompt/nusax-prompt-vs-lora.yaml"


def main() -> None:
    import xlt
    from xlt.evaluate.compare import paired_test

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--output", default="runs")
    ap.add_argument("--stores", nargs="+", type=Path, help="run folders to table together (runs nothing)")
    args = ap.parse_args()
    missing = [str(d) for d in args.stores or [] if not (d / "results.sqlite").exists()]
    if missing:
        ap.error(f"{', '.join(missing)} holds no results.sqlite; give the output folders of bench/prompt.py runs")
    cfg = yaml.safe_load(Path(CONFIG).read_text())
    cfg["protocol"]["seeds"] = args.seeds
    stores = args.stores or [Path(args.output) / "prompt" / "nusax-prompt-vs-lora"]
    if not args.stores:
        run_config(cfg, stores[0])
    import pandas as pd

    runs = pd.concat([xlt.Results.from_dir(d).runs for d in stores], ignore_index=True)
    runs = runs[runs["seed"].isin(args.seeds)]  # an earlier, longer sweep in the same folder may hold more seeds
    if not {"prompt", "lora"} <= set(runs["method"]) or not {"zero_shot", "few_shot"} <= set(runs["strategy"]):
        ap.error(f"{', '.join(map(str, stores))} holds no finished prompt and lora runs of zero_shot and few_shot for "
                 f"seeds {args.seeds}; give the output folders of bench/prompt.py runs")
    langs = [t["language"] for t in cfg["targets"]]
    for strategy in ("zero_shot", "few_shot"):
        sel = runs[runs["strategy"] == strategy]
        table = sel.pivot_table(index="method", columns="language", values="score", aggfunc="mean") * 100
        print(f"\n## {strategy}{' N=100' if strategy == 'few_shot' else ''}: macro-F1 x 100, mean over seeds "
              f"{args.seeds}\n")
        print("| method | " + " | ".join(langs) + " | mean |\n|---|" + "---:|" * (len(langs) + 1))
        for method in ("prompt", "lora"):
            row = table.loc[method, langs]
            print(f"| {method} | " + " | ".join(f"{v:.1f}" for v in row) + f" | {row.mean():.1f} |")
        pairs = sel.pivot_table(index=["language", "seed"], columns="method", values="score")
        t = paired_test(list(pairs["prompt"] * 100), list(pairs["lora"] * 100))
        means = pairs.groupby(level="language").mean()
        by_lang = paired_test(list(means["prompt"] * 100), list(means["lora"] * 100))
        print(f"\nprompt - lora: {t['mean_diff']:+.1f} points over {t['n']} language x seed pairs (prompt above on "
              f"{int((pairs['prompt'] > pairs['lora']).sum())}), permutation p {t['p_permutation']:.4f}, Cohen's d "
              f"{t['cohens_d']:.2f}; over the {by_lang['n']} language means p {by_lang['p_permutation']:.4f}, prompt "
              f"above on {int((means['prompt'] > means['lora']).sum())}")
    source = runs[runs["strategy"] == "source"].groupby("method")["score"].mean() * 100
    print("\nEnglish (source validation-selected stage, test split): " +
          ", ".join(f"{m} {v:.1f}" for m, v in source.items()))


if __name__ == "__main__":
    main()
