"""Wall time of one protocol run sequentially and on a local Ray instance, side by side, on this machine.

A small LoRA protocol on NusaX-senti (English, 300 training texts, to Javanese and Sundanese; zero-shot and
few-shot N = 50; seeds 0 and 1): 2 source stages and 10 runs. Each arm writes a fresh output folder, and
the arms alternate for --rounds rounds. Sequential uses every core in one process; Ray runs one run per core
(resources.cpus_per_run 1, one torch thread each). The Ray time includes starting the instance and each
worker loading the model and data; the start is printed apart too. Also compares the two arms' scores.

    python bench/ray_vs_sequential.py [--rounds 2] [--cpus N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def config(out: Path) -> dict:
    return {"name": "ray-bench", "method": {"name": "lora"},
            "source": {"dataset": "nusax-senti", "language": "eng", "train_limit": 300},
            "targets": [{"dataset": "nusax-senti", "language": lang} for lang in ("jav", "sun")],
            "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [50], "seeds": [0, 1]},
            "training": {"epochs": 2, "min_steps": 20}, "baselines": [], "output": {"dir": str(out)},
            "data_dir": os.environ.get("XLT_DATA_DIR", str(DATA))}


def scores(out: Path) -> dict:
    from xlt.store import Store

    store = Store(out / "results.sqlite")
    try:
        return {r["run_id"]: round(r["metrics"]["score"], 6) for r in store.runs()}
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    args = ap.parse_args()
    import ray

    from xlt.config import Experiment
    from xlt.protocol.run import run_experiment

    root = Path(tempfile.mkdtemp(prefix="xlt-ray-bench-"))
    times: dict[str, list[float]] = {"sequential": [], "ray": [], "ray start": []}
    results = {}
    devnull = open(os.devnull, "w")
    for r in range(args.rounds):
        for arm in ("sequential", "ray") if r % 2 == 0 else ("ray", "sequential"):
            out = root / f"{arm}-{r}"
            exp = Experiment(**config(out))
            t0 = time.perf_counter()
            if arm == "ray":
                ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
                times["ray start"].append(time.perf_counter() - t0)
                run_experiment(exp, stream=devnull, ray="local")
                ray.shutdown()
            else:
                run_experiment(exp, stream=devnull)
            times[arm].append(time.perf_counter() - t0)
            results[arm] = scores(out)
            print(f"round {r}: {arm} {times[arm][-1]:.1f} s", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    seq, par = results["sequential"], results["ray"]
    diffs = [abs(seq[k] - par[k]) for k in seq]
    print(f"\n{args.cpus} CPUs; 2 source stages + {len(par)} runs; same runs in both arms: {seq.keys() == par.keys()}; "
          f"scores differing: {sum(d > 0 for d in diffs)}, largest difference {max(diffs):.4f} (one torch thread per "
          "run on Ray sums in another order than the sequential run's threads)")
    for arm, ts in times.items():
        print(f"{arm:<11} " + "  ".join(f"{t:6.1f} s" for t in ts))
    ratio = [r / s for r, s in zip(times["ray"], times["sequential"])]
    print("ray / sequential wall time per round: " + "  ".join(f"{x:.2f}" for x in ratio))


if __name__ == "__main__":
    main()
