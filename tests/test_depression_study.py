"""The depression study's report layouts and its preprocessing ablation, on hand-made data."""
from __future__ import annotations

import pytest

from xlt.config import Preprocess
from xlt.data.examples import Example
from xlt.data.preprocess import preprocess
from xlt.errors import XltError

E = Example


def _run(method, lang, strategy, n, seed, f1, per_class=None, accuracy=0.0, test_n=10):
    return {"method": method, "dataset": "d", "language": lang, "strategy": strategy, "n": n, "seed": seed,
            "selection": "", "metrics": {"macro_f1": f1, "accuracy": accuracy, "per_class": per_class or {},
                                         "n": test_n, "collapsed": False}}


def test_ablation_arm_keeps_the_same_rows_with_their_original_text():
    rows = [E("Visit https://x.org NOW, I feel SO down today and every day", "dep"),
            E("short one", "ctl"),  # under min_words: dropped in both arms
            E("Mail me at a.b@c.com about the Game tonight, it will be great fun", "ctl"),
            E("MAIL me at a.b@c.com about the game tonight, it will be great fun!!", "ctl")]  # duplicate once cleaned
    cfg = Preprocess(scrub_pii=True, lowercase=True, remove_urls=True, remove_non_alnum=True, min_words=5, dedupe=True)
    cleaned, _, kept = preprocess(rows, cfg, "eng")
    raw, report, kept_raw = preprocess(rows, cfg.without_rewriting(), "eng")
    assert kept == kept_raw == [0, 2]
    assert cleaned[0].text == "visit url now i feel so down today and every day"
    # original text, identifiers scrubbed (the responsible-use default stays on in both arms)
    assert [r.text for r in raw] == ["Visit [URL] NOW, I feel SO down today and every day",
                                     "Mail me at [EMAIL] about the Game tonight, it will be great fun"]
    assert [r.label for r in raw] == ["dep", "ctl"] and report.rows_out == 2


def test_table5_is_accuracy_and_positive_class_scores():
    from xlt.report.tables import table5

    pc = lambda p, r, f: {"depression": {"precision": p, "recall": r, "f1": f}, "control": {}}  # noqa: E731
    runs = [_run("lora", "ara", "target_only", None, 0, 0.6, pc(0.5, 0.9, 0.64), accuracy=0.50),
            _run("lora", "ara", "target_only", None, 1, 0.6, pc(0.7, 0.7, 0.70), accuracy=0.60),
            _run("lora", "ara", "full_shot", None, 0, 0.6, pc(0.55, 0.6, 0.58), accuracy=0.56),
            _run("lora", "eng", "source", None, 0, 0.9, pc(0.9, 0.9, 0.9), accuracy=0.9)]
    header, rows = table5(runs, "d/ara", "depression", "lora")
    assert header[2:5] == ["Precision (depression)", "Recall (depression)", "F1 (depression)"]
    assert rows[0] == ["Baseline (target-only)", "0.55 ± 0.07", "0.60 ± 0.14", "0.80 ± 0.14", "0.67 ± 0.04", "2"]
    assert rows[1] == ["Full-shot (transfer)", "0.56", "0.55", "0.60", "0.58", "1"]
    assert len(rows) == 2  # the English source run belongs to the source's table


def test_ablation_pairs_runs_by_language_setting_and_seed():
    from xlt.report.ablation import ablation_table, ablation_test

    with_ = [_run("frozen", "ara", "zero_shot", None, s, f) for s, f in ((0, 0.70), (1, 0.72), (2, 0.74))]
    with_ += [_run("frozen", "ara", "few_shot", 100, 0, 0.80, test_n=12)]
    without = [_run("frozen", "ara", "zero_shot", None, s, f) for s, f in ((0, 0.60), (1, 0.66), (2, 0.62))]
    without += [_run("frozen", "ara", "few_shot", 100, 1, 0.5)]  # seed 1 only: no pair for the seed-0 run
    header, rows = ablation_table(with_, without, ["frozen"])
    assert len(rows) == 1 and rows[0][:5] == ["frozen", "d/ara", "Zero-shot", "0.72 ± 0.02", "0.63 ± 0.03"]
    assert rows[0][5] == "0.09 ± 0.03" and rows[0][6:] == ["10 / 10", "3"]
    t = ablation_test(with_, without, "frozen")
    assert t["n"] == 3 and t["mean_diff"] == pytest.approx(0.28 / 3)
    assert t["p_permutation"] == pytest.approx(0.25)  # 3 positive differences: 2 of 8 sign patterns as extreme


def test_ablation_needs_a_text_rewriting_step(tiny_model_dir, tiny_data, tmp_path):
    from conftest import tiny_config
    from xlt.config import parse_config

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", ablate_preprocessing=True,
                      preprocess={"min_words": 2})
    with pytest.raises(XltError, match="ablate_preprocessing compares text cleaning on and off"):
        parse_config(cfg)
    cfg["preprocess"]["lowercase"] = True
    assert parse_config(cfg).without_text_cleaning().preprocess.rewrite_text is False
    from xlt.identity import run_hash

    a, b = parse_config(cfg), parse_config({**cfg, "ablate_preprocessing": False})
    assert run_hash(a, "full", None, ["x"]) == run_hash(b, "full", None, ["x"])  # the arm is its own folder


def test_ablation_runs_both_arms_and_reports_them(tiny_model_dir, tiny_data, tmp_path):
    from conftest import tiny_config
    from xlt.config import parse_config
    from xlt.protocol import run_experiment
    from xlt.report import build_report
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "frozen"}, baselines=[],
                      ablate_preprocessing=True, preprocess={"lowercase": True, "remove_non_alnum": True},
                      positive_label="positive")
    cfg["protocol"]["strategies"] = ["zero_shot", "full_shot"]
    out = run_experiment(parse_config(cfg))
    main, arm = Store(out / "results.sqlite").runs("done"), Store(out / "without-preprocessing" / "results.sqlite").runs("done")
    assert len(main) == len(arm) == 3
    assert {(r["strategy"], r["language"]) for r in main} == {(r["strategy"], r["language"]) for r in arm}
    md, _ = build_report(out)
    text = md.read_text()
    assert "## Preprocessing ablation" in text and "over 2 paired runs" in text
    assert "Table 5 layout of Alakbarli et al., 2025), positive class 'positive'" in text and "Precision (positive)" in text
