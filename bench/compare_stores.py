"""Compare two output directories run by run: the same configuration run twice (before and after a code
change, or an interrupted sweep against an uninterrupted one) should give the same metrics.

    python bench/compare_stores.py RUN_DIR_A RUN_DIR_B [--tolerance 1e-6]

Prints one line per run whose primary score differs, the largest difference over every scalar metric,
and exits 1 when a run is missing on one side or a difference exceeds the tolerance."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xlt.store import Store  # noqa: E402


def load(run_dir: Path) -> dict[tuple, dict]:
    store = Store(run_dir / "results.sqlite")
    try:
        return {(r["method"], r["strategy"], r["n"], r["seed"], r["dataset"], r["language"]): r["metrics"]
                for r in store.runs("done")}
    finally:
        store.close()


def scalars(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--tolerance", type=float, default=1e-6)
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)
    missing = sorted(set(a) ^ set(b), key=str)
    worst, differing = 0.0, 0
    for key in sorted(set(a) & set(b), key=str):
        sa, sb = scalars(a[key]), scalars(b[key])
        diff = max((abs(sa[k] - sb[k]) for k in sa.keys() & sb.keys()), default=0.0)
        worst = max(worst, diff)
        if diff > args.tolerance:
            differing += 1
            label = " ".join(str(x) for x in key if x is not None)
            print(f"{label}: score {sa.get('score', sa.get('macro_f1'))} vs {sb.get('score', sb.get('macro_f1'))}, "
                  f"largest metric difference {diff:.2e}")
    for key in missing:
        print(f"only in {'A' if key in a else 'B'}: {key}")
    print(f"{len(set(a) & set(b))} runs in both, {len(missing)} in one only; {differing} differ by more than "
          f"{args.tolerance:g}; largest difference over every scalar metric: {worst:.2e}")
    return 1 if missing or differing else 0


if __name__ == "__main__":
    sys.exit(main())
