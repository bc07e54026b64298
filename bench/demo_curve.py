"""The demo's learning curve from its output folder: the method's mean score over the target languages per
strategy and N, and per seed for the few-shot runs, so a rise with N can be set against the seed spread.

    xlt demo --output DIR && python bench/demo_curve.py DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--method", default="frozen")
    args = ap.parse_args()

    import xlt
    from xlt.errors import XltError

    try:
        runs = xlt.Results.from_dir(args.run_dir).runs
    except XltError as e:
        ap.error(str(e))
    source = runs.loc[runs["strategy"] == "source", "language"].unique()  # the source-language reference
    runs = runs[(runs["method"] == args.method) & ~runs["language"].isin(source)]
    if runs.empty:
        ap.error(f"{args.run_dir} has no finished target runs of method {args.method}")
    print(f"{len(runs)} runs of {args.method} on {runs['language'].nunique()} target languages; "
          f"{int(runs['collapsed'].sum())} collapsed")
    print(runs.groupby(["strategy", "n"], dropna=False)["score"].mean().round(3).to_string())
    few = runs[runs["strategy"] == "few_shot"]
    if not few.empty:
        print("\nfew-shot, mean over languages per seed:")
        print(few.groupby(["n", "seed"])["score"].mean().unstack("seed").round(3).to_string())


if __name__ == "__main__":
    main()
