"""What a study saves over running its groups as separate configs: the checks before training (each data
file read once, the model resolved once) for leave-one-out on MasakhaNER 2.0, timed side by side in one
process, and the texts the frozen encoder encodes once instead of once per group.

    python bench/study_speed.py [--config examples/multi-source/masakhaner2-leave-one-out.yaml] [--repeats 2]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=ROOT / "examples" / "multi-source" / "masakhaner2-leave-one-out.yaml")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import tempfile

    from xlt.config import load_config
    from xlt.protocol.plan import check_experiment
    from xlt.protocol.study import check_study, source_groups

    exp = load_config(args.config)
    groups = source_groups(exp)
    out = Path(tempfile.mkdtemp())
    for r in range(args.repeats):
        t = time.perf_counter()
        plans = check_study(groups, None, out)
        study = time.perf_counter() - t
        t = time.perf_counter()
        for g in groups:  # as separate configs would: every group reads its files and loads the model itself
            check_experiment(g.exp, None, str(out / (g.folder or ".")))
        separate = time.perf_counter() - t
        print(f"repeat {r}: checks of {len(groups)} groups: study {study:.0f} s, separately {separate:.0f} s "
              f"(ratio {separate / study:.1f})")
    texts = sum(len({r.text for d in [p.ctx.source, *p.ctx.targets] for rows in d.splits.values() for r in rows})
                for p in plans)
    unique = len({r.text for p in plans for d in [*p.ctx.source.parts, *p.ctx.targets] for rows in d.splits.values()
                  for r in rows})
    print(f"texts a frozen encoder would encode: {texts} as separate configs, {unique} in the study "
          f"({texts / max(1, unique):.1f} times fewer)")


if __name__ == "__main__":
    main()
