"""Multi-source transfer on NusaX-senti in one process (the frozen encoder's features are computed once and
shared by every config): the 12 x 11 single-source matrix, leave-one-out multi-source zero-shot on the ten
local languages against English alone, the same sources merged (linear, TIES) instead of trained jointly, and
both source rankers evaluated leave-one-target-out.

    python bench/multi_source.py                 # runs what is not finished, then prints the tables
    python bench/multi_source.py --table-only    # prints the tables from the stores
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

HERE = Path(__file__).parent / "multi_source"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    import xlt
    from xlt.config import load_config

    outs = {}
    for name in ("nusax-matrix", "nusax-leave-one-out", "nusax-merge-linear", "nusax-merge-ties"):
        exp = load_config(HERE / f"{name}.yaml")
        t0 = time.perf_counter()
        res = xlt.Results.from_dir(exp.output.dir) if args.table_only else \
            xlt.run(exp, data_dir=args.data_dir, progress=False)
        outs[name] = res
        print(f"{name}: {len(res.runs)} runs{'' if args.table_only else f' in {time.perf_counter() - t0:.0f} s'}")
    matrix = outs["nusax-matrix"].runs
    zero = matrix[matrix["strategy"] == "zero_shot"]
    english = {r["language"]: r["score"] for _, r in zero[zero["sources"] == "eng"].iterrows()}
    best = zero.loc[zero.groupby("language")["score"].idxmax()].set_index("language")
    loo = outs["nusax-leave-one-out"].runs
    loo = loo[loo["strategy"] == "zero_shot"].groupby("language")["score"].mean()
    print("\n| target | English alone | best single source | leave-one-out (11 sources) | gain over English |")
    print("|---|---|---|---|---|")
    for lang, score in loo.items():
        print(f"| {lang} | {100 * english[lang]:.1f} | {100 * best.loc[lang, 'score']:.1f} "
              f"({best.loc[lang, 'sources']}) | {100 * score:.1f} | {100 * (score - english[lang]):+.1f} |")
    print(f"| mean | {100 * sum(english[x] for x in loo.index) / len(loo):.1f} | "
          f"{100 * best.loc[loo.index, 'score'].mean():.1f} | **{100 * loo.mean():.1f}** | "
          f"{100 * (loo.mean() - sum(english[x] for x in loo.index) / len(loo)):+.1f} |")

    print("\n| target | best single source | joint (11 sources) | merged, linear | merged, ties |")
    print("|---|---|---|---|---|")
    merged = {}
    for kind in ("linear", "ties"):
        r = outs[f"nusax-merge-{kind}"].runs
        merged[kind] = r[r["strategy"] == "zero_shot"].groupby("language")["score"].mean()
    for lang, score in loo.items():
        print(f"| {lang} | {100 * best.loc[lang, 'score']:.1f} | {100 * score:.1f} | "
              f"{100 * merged['linear'][lang]:.1f} | {100 * merged['ties'][lang]:.1f} |")
    print(f"| mean | {100 * best.loc[loo.index, 'score'].mean():.1f} | {100 * loo.mean():.1f} | "
          f"{100 * merged['linear'].mean():.1f} | {100 * merged['ties'].mean():.1f} |")

    from xlt.ranking.results import FeatureTable, evaluate, measured_transfer

    res = evaluate(measured_transfer([outs["nusax-matrix"].output_dir]),
                   FeatureTable("embedded:multilingual-e5-small", args.data_dir))
    print(f"\nsource ranking, leave-one-target-out over {len(res['targets'])} targets")
    print("| ranker | NDCG@3 | regret (points) | top-1 within 2 points of the best |")
    print("|---|---|---|---|")
    for name, v in res["summary"].items():
        print(f"| {name} | {v['ndcg3']:.3f} | {100 * v['regret']:.2f} | {100 * v['within_2_points']:.0f}% |")
    print("\n| target | best source | heuristic top-1 | learned top-1 |")
    print("|---|---|---|---|")
    for row in res["targets"]:
        print(f"| {row['target']} | {row['best']} ({100 * row['best_score']:.1f}) | {row['heuristic']['top1']} "
              f"(-{100 * row['heuristic']['regret']:.1f}) | {row['learned']['top1']} "
              f"(-{100 * row['learned']['regret']:.1f}) |")


if __name__ == "__main__":
    main()
