"""kill -9 at random points of a sweep, several times, then resume: the final table must equal an
uninterrupted run's to the last digit, with no run duplicated and no stage half-written.

    python bench/kill_resume.py [--kills 10] [--min-s 20] [--max-s 120] [--config CONFIG] [--out bench/out/kill]
                                [--clean DIR]

A study (a config with several source sets, such as the transfer matrix) is checked group by group.
--clean names an uninterrupted output folder of the same config made before (else it is made in OUT/clean).

Default sweep: the frozen method on NusaX-senti, English to Javanese, Sundanese and Buginese, three seeds,
target-only, zero-, few- (N = 50, 100) and full-shot, both baselines. The clean run is made once (kept in
OUT/clean); each call kills a fresh sweep in OUT/killed.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "name": "kill-resume", "method": {"name": "frozen"},
    "source": {"dataset": "nusax-senti", "language": "eng"},
    "targets": [{"dataset": "nusax-senti", "language": lang} for lang in ("jav", "sun", "bug")],
    "protocol": {"strategies": ["target_only", "zero_shot", "few_shot", "full_shot"], "shots": [50, 100],
                 "seeds": [0, 1, 2]},
}


def xlt(config: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xlt.cli", "run", str(config), "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


def folders(out: Path) -> list[Path]:
    """The folders holding a store: the output folder, or each source set's folder of a study."""
    study = out / "study.json"
    if study.exists():
        return [out / g["folder"] for g in json.loads(study.read_text())["groups"]]
    return [out]


def done(out: Path) -> int:
    n = 0
    for f in folders(out):
        db = f / "results.sqlite"
        if not db.exists():
            continue
        try:
            con = sqlite3.connect(db, timeout=30)
            n += con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0]
            con.close()
        except sqlite3.DatabaseError:
            return -1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--min-s", type=float, default=20)
    ap.add_argument("--max-s", type=float, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", type=Path, help="a config of your own (default: the sweep above)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "kill")
    ap.add_argument("--clean", type=Path, help="an uninterrupted output folder of the same config")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = args.config or args.out / "sweep.yaml"
    if args.config is None:
        config.write_text(yaml.safe_dump(CONFIG))
    clean, killed = args.clean or args.out / "clean", args.out / "killed"
    t = time.perf_counter()  # uninterrupted, once: a later call finds it finished and runs nothing
    if args.clean is None and xlt(config, clean).wait() != 0:
        raise SystemExit("the clean run failed")
    print(f"clean run: {done(clean)} runs ({time.perf_counter() - t:.0f} s this call)")
    shutil.rmtree(killed, ignore_errors=True)
    rng = random.Random(args.seed)
    for k in range(1, args.kills + 1):
        proc = xlt(config, killed)
        wait = rng.uniform(args.min_s, args.max_s)
        try:
            proc.wait(timeout=wait)
            print(f"kill {k}: the sweep finished before {wait:.0f} s; no more kills")
            break
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            print(f"kill {k}: SIGKILL after {wait:.0f} s, {done(killed)} runs finished")
    assert xlt(config, killed).wait() == 0, "the resumed run failed"
    ids, failed = [], False
    for f in folders(killed):
        con = sqlite3.connect(f / "results.sqlite")
        ids += [r[0] for r in con.execute("SELECT run_id FROM runs")]
        con.close()
        res = subprocess.run([sys.executable, str(ROOT / "bench" / "compare_stores.py"), str(clean / f.relative_to(killed)),
                              str(f), "--tolerance", "0"], capture_output=True, text=True)
        print(f"{f.relative_to(killed)}: {res.stdout.strip().splitlines()[-1]}")
        failed |= res.returncode != 0
    half = [p.name for p in (killed / "stages").glob("*.tmp")] if (killed / "stages").exists() else []
    print(f"resumed: {len(ids)} runs, {len(ids) - len(set(ids))} duplicated, {len(half)} half-written stage files")
    return 0 if not failed and len(ids) == len(set(ids)) and not half else 1


if __name__ == "__main__":
    sys.exit(main())
