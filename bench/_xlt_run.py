"""Run one config dict through `xlt run` for a bench script, as a user would from the command line."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def run_config(cfg: dict, out: Path) -> None:
    """`xlt run` on `cfg` into `out` (resuming if it was interrupted); on failure, exit with xlt's status after its
    own one-line error, not with a traceback on top."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(cfg, fh)
    try:
        code = subprocess.run([sys.executable, "-m", "xlt.cli", "run", fh.name, "--output", str(out)]).returncode
    finally:
        Path(fh.name).unlink()
    if code:
        sys.exit(code)
