"""Every shipped config (examples/ and the demo preset) passes every check a run makes against the real
data, so an example cannot go stale unnoticed; the check writes nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA, needs_shared_data
from xlt import check_experiment, load_config
from xlt.protocol.study import check_study, source_groups
from xlt.errors import XltError

CONFIGS = sorted((ROOT / "examples").rglob("*.yaml")) + [ROOT / "xlt" / "presets" / "demo.yaml"]
OWN_DATA = {"your-russian-data.yaml": "data file not found: data/russian_depression.csv"}  # users point it at their files


@pytest.fixture(scope="module", autouse=True)
def _read_each_file_once():
    """The configs share data files and the model: each is read once for the module."""
    from xlt.protocol.plan import reading_once

    with reading_once():
        yield


@needs_shared_data()
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_config_passes_every_check(path: Path, tmp_path):
    exp = load_config(path)
    if exp.translation is not None and exp.translation.translator.name == "apertium" and not shutil.which("apertium"):
        pytest.skip("the apertium command is not installed (Debian: apt-get install apertium and its pairs)")
    out = tmp_path / "out"
    if path.name in OWN_DATA:
        with pytest.raises(XltError, match=OWN_DATA[path.name]):
            check_experiment(exp, str(SHARED_DATA), str(out))
        return
    if exp.sources is not None:  # several source sets: every group passes its checks
        groups = source_groups(exp)
        plans = check_study(groups, str(SHARED_DATA), out)
        assert sorted(t.language for p in plans for t in p.ctx.targets) == \
            sorted(t.language for g in groups for t in g.exp.targets) and not any(p.finished for p in plans)
        return
    plan = check_experiment(exp, str(SHARED_DATA), str(out))
    per_seed = len(exp.targets) * len(exp.protocol.strategies)
    assert len(plan.keys) >= per_seed * len(exp.protocol.seeds)  # every target, strategy and seed is planned
    assert {k.language for k in plan.keys} >= {t.language for t in plan.ctx.targets}
    assert not plan.finished and f"{len(plan.keys)} runs ({len(plan.keys)} to run, 0 finished)" in plan.summary()
    assert not out.exists()
