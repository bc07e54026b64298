"""The model-comparison study of BENCHMARKS.md ("Models compared"): the embedded multilingual e5-small against
the English all-MiniLM-L6-v2 (from its PyPI package) on NusaX-senti and MasakhaNER 2.0, through the example
configs in examples/models/, then each report's model-comparison table and paired tests.

    python bench/models_compare.py [--only nusax|masakhaner2] [--output runs]

Run from the repository root; all-MiniLM-L6-v2 is unzipped into models/ first if it is not there.
Interrupted, it resumes: the same command skips finished runs.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

CONFIGS = {"nusax": "examples/models/nusax-e5-vs-minilm.yaml",
           "masakhaner2": "examples/models/masakhaner2-e5-vs-minilm.yaml"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--output", default="runs", help="parent folder of the two studies")
    args = ap.parse_args()
    if not Path("models/all-MiniLM-L6-v2/config.json").exists():
        from all_minilm_l6_v2 import extract_model

        extract_model("models")
    for name, config in CONFIGS.items():
        if args.only and name != args.only:
            continue
        out = Path(args.output) / f"models-{name}"
        subprocess.run([sys.executable, "-m", "xlt.cli", "run", config, "--output", str(out)], check=True)
        report = (out / "report.md").read_text()
        section = re.search(r"^## Models compared.*?(?=^## |\Z)", report, re.S | re.M)
        print(f"\n# {name}: {out / 'report.md'}\n")
        print(section.group(0) if section else "(no model comparison in the report)")


if __name__ == "__main__":
    main()
