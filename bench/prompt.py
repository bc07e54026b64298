"""Soft prompts against LoRA (BENCHMARKS.md, "Soft prompts"): runs examples/prompt/nusax-prompt-vs-lora.yaml
(resuming if interrupted) and prints macro-F1 per language and the paired comparison of the two methods.

    python bench/prompt.py [--seeds 0 1 2] [--output runs]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CONFIG = "examples/prompt/nusax-prompt-vs-lora.yaml"


def main() -> None:
    import xlt
    from xlt.evaluate.compare import paired_test

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--output", default="runs")
    args = ap.parse_args()
    cfg = yaml.safe_load(Path(CONFIG).read_text())
    cfg["protocol"]["seeds"] = args.seeds
    out = Path(args.output) / "prompt" / "nusax-prompt-vs-lora"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(cfg, fh)
    subprocess.run([sys.executable, "-m", "xlt.cli", "run", fh.name, "--output", str(out)], check=True)
    runs = xlt.Results.from_dir(out).runs
    runs = runs[runs["seed"].isin(args.seeds)]  # an earlier, longer sweep in the same folder may hold more seeds
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
        print(f"\nprompt - lora: {t['mean_diff']:+.1f} points over {t['n']} language x seed pairs, permutation p "
              f"{t['p_permutation']:.4f}, Cohen's d {t['cohens_d']:.2f}")
    source = runs[runs["strategy"] == "source"].groupby("method")["score"].mean() * 100
    print("\nEnglish (source validation-selected stage, test split): " +
          ", ".join(f"{m} {v:.1f}" for m, v in source.items()))


if __name__ == "__main__":
    main()
