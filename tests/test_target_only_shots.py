"""target_only_shots: a fresh model on the N-shot sample alone, the no-transfer point beside few-shot."""
from __future__ import annotations

from conftest import tiny_config


def test_it_trains_a_fresh_model_on_the_few_shot_sample_alone(tiny_model_dir, tiny_data, tmp_path):
    import xlt
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", baselines=["tfidf-lr"])
    cfg["protocol"] = {"strategies": ["few_shot", "target_only_shots"], "shots": [10, 40], "seeds": [0]}
    results = xlt.run(cfg, progress=False)
    mine = results.runs[results.runs["strategy"] == "target_only_shots"]
    assert sorted(zip(mine["method"], mine["n"])) == [("full", 10), ("full", 40), ("tfidf-lr", 10), ("tfidf-lr", 40)]
    info = {(r["method"], r["n"]): r["train_info"] for r in Store(results.store).runs()
            if r["strategy"] == "target_only_shots"}
    assert info[("tfidf-lr", 10)]["train_rows"] == 10  # the baseline fits the 10 shots, without the source rows
    assert "source_stage" not in info[("full", 40)] and info[("full", 40)]["lr"] == cfg["training"]["lr"]
    report = results.report_markdown.read_text()
    assert "Target-only (shots) (N=10)" in report and "TF-IDF + LR: Target-only (shots) (N=40)" in report
