"""The frozen method's logistic-regression head on every BLAS thread against one, side by side: each fit of
the C grid, alternating the two settings so machine noise falls on both alike; prints the median seconds and
the ratio. The features are real: the embedded model's mean-pooled NusaX-senti English and Javanese
training texts (the shape of a few-shot refit).

    python bench/head_fit.py            # 5 repeats of the 8-value C grid
"""
from __future__ import annotations

import argparse
import statistics
import time


def features():
    from xlt.config import parse_config
    from xlt.protocol.plan import check_experiment
    from xlt.train import pooled_features

    exp = parse_config({"source": {"dataset": "nusax-senti", "language": "eng"},
                        "targets": [{"dataset": "nusax-senti", "language": "jav"}], "baselines": [],
                        "protocol": {"strategies": ["zero_shot"]}})
    ctx = check_experiment(exp, None, "/tmp/xlt-head-fit").ctx
    rows = ctx.source.splits["train"] + ctx.targets[0].splits["train"]
    x = pooled_features(ctx.frozen_encoder(), ctx.tokenizer, ctx.encode(rows).ids).numpy()
    return x, [r.label for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from xlt.methods.frozen import C_GRID

    x, y = features()
    times: dict[str, list[float]] = {"every BLAS thread": [], "one BLAS thread": []}
    for _ in range(args.repeats):
        for name, limit in (("every BLAS thread", None), ("one BLAS thread", 1)):
            t0 = time.perf_counter()
            with threadpool_limits(limits=limit, user_api="blas"):
                for c in C_GRID:
                    LogisticRegression(C=c, max_iter=3000).fit(x, y)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["every BLAS thread"])
    print(f"{x.shape[0]} rows x {x.shape[1]} features, {len(C_GRID)} values of C, {args.repeats} repeats (median):")
    for name, ts in times.items():
        print(f"  {name:18s} {statistics.median(ts):6.2f} s   ratio {statistics.median(ts) / base:.2f}")


if __name__ == "__main__":
    main()
