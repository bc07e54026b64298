"""The Python API as the README shows it: the README's own example runs (on a small copy of its data)."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SHARED_DATA, needs_shared_data


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def small_mirror(root: Path, languages=("english", "javanese"), rows={"train": 150, "valid": 40, "test": 60}) -> Path:
    """NusaX-senti laid out as the data mirror, each split cut to its first rows (the code reads the same)."""
    for lang in languages:
        (root / "nusax-senti" / lang).mkdir(parents=True)
        for split, n in rows.items():
            with open(SHARED_DATA / "nusax-senti" / lang / f"{split}.csv", encoding="utf-8") as fh:
                kept = list(csv.reader(fh))[: n + 1]
            with open(root / "nusax-senti" / lang / f"{split}.csv", "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows(kept)
    return root


@needs_shared_data()
def test_the_readme_python_example_runs(tmp_path):
    mirror = small_mirror(tmp_path / "mirror")
    env = {**os.environ, "XLT_DATA_DIR": str(mirror), "PYTHONUNBUFFERED": "1"}
    res = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "few_shot" in out and "zero_shot" in out and "embedding-lr" in out  # the summary table
    assert str(Path("runs/quick-look/report.html")) in out
    assert re.search(r"\[\['(negative|neutral|positive)'\]|\['(negative|neutral|positive)'\] \['negative', "
                     r"'neutral', 'positive'\]", out), out[-2000:]
    probs = re.search(r"\[\[([0-9.e\- ]+)\]\]", out)
    assert probs and abs(sum(float(x) for x in probs.group(1).split()) - 1) < 1e-3
