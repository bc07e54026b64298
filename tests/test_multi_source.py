"""Several sources: sampling schemes, source sets resolved into groups (joint, leave-one-out, the transfer
matrix), the study run end to end on a tiny model and resumed, no test split read for training, and bad
input rejected before anything is written."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA, cli_in_process, needs_shared_data, synthetic_rows, write_csv
from xlt.config import parse_config
from xlt.data.examples import Example, LanguageData
from xlt.data.multi_source import combine_sources, draw, sampling_weights
from xlt.errors import XltError
from xlt.protocol.study import source_groups


def test_sampling_weights():
    assert sampling_weights([300, 100], "proportional") == pytest.approx([0.75, 0.25])
    assert sampling_weights([300, 100], "uniform") == pytest.approx([0.5, 0.5])
    # n_i^(1/tau): tau 1 is proportional, tau 2 flattens toward uniform
    assert sampling_weights([300, 100], "temperature", 1.0) == pytest.approx([0.75, 0.25])
    w = sampling_weights([300, 100], "temperature", 2.0)
    assert w == pytest.approx([3 ** 0.5 / (3 ** 0.5 + 1), 1 / (3 ** 0.5 + 1)])
    assert 0.5 < w[0] < 0.75


def _lang(code: str, n: int, seed: int) -> LanguageData:
    rows = [Example(f"{code} {t}", lab) for t, lab in synthetic_rows(n, seed)]
    return LanguageData("toy", code, {"train": rows[: n // 2], "validation": rows[n // 2: 3 * n // 4],
                                      "test": rows[3 * n // 4:]})


def test_combine_draws_only_training_rows_with_recorded_shares():
    big, small = _lang("aaa", 400, 1), _lang("bbb", 40, 2)
    joint = combine_sources([big, small], "aaa+bbb", "uniform", None, 5, seed=0)
    assert joint.shares == {"toy/aaa": {"rows": 200, "drawn": 110, "share": 0.5},
                            "toy/bbb": {"rows": 20, "drawn": 110, "share": 0.5}}
    assert len(joint.splits["train"]) == 220
    train_ids = {id(r) for d in (big, small) for r in d.splits["train"]}
    assert all(id(r) in train_ids for r in joint.splits["train"])  # training rows come from train splits alone
    assert len(joint.splits["validation"]) == len(joint.splits["test"]) == 10  # eval_limit per source
    # the small source is repeated whole 5 times, then topped up with a stratified sample
    drawn = [r for r in joint.splits["train"] if r.text.startswith("bbb")]
    assert len(drawn) == 110 and len(set(drawn)) == 20
    assert len(draw(small.splits["train"], 25, 0)) == 25


def test_label_sets_must_agree():
    a = _lang("aaa", 40, 1)
    b = LanguageData("toy", "bbb", {s: [Example("x y", "other")] * 4 for s in ("train", "validation", "test")})
    with pytest.raises(XltError, match=r"label sets differ.*only in toy/bbb: \['other'\].*label_map"):
        combine_sources([a, b], "x", "proportional", None, None, 0)


def _cfg(sources, targets, **extra) -> dict:
    return {"task": "classification", "method": {"name": "frozen"}, "sources": sources,
            "targets": [{"dataset": "nusax-senti", "language": t} for t in targets], **extra}


def test_groups_leave_one_out_matrix_and_joint():
    loo = source_groups(parse_config(_cfg({"dataset": "nusax-senti", "languages": "all-but-target"},
                                          ["jav", "sun"])))
    assert [g.name for g in loo] == ["all-but-jav", "all-but-sun"]
    for g, target in zip(loo, ["jav", "sun"]):
        langs = [s.language for s in g.exp.sources.data]
        assert target not in langs and len(langs) == 11 and [t.language for t in g.exp.targets] == [target]
        assert g.folder == g.name
    each = source_groups(parse_config(_cfg({"dataset": "nusax-senti", "languages": ["eng", "jav"],
                                            "combine": "each"}, ["jav", "sun"])))
    assert [(g.name, [t.language for t in g.exp.targets]) for g in each] == [("eng", ["jav", "sun"]),
                                                                            ("jav", ["sun"])]
    assert all(g.exp.sources is None and g.exp.source is not None for g in each)
    joint = source_groups(parse_config(_cfg([{"dataset": "nusax-senti", "language": "eng"},
                                             {"dataset": "nusax-senti", "language": "ind"}], ["jav", "sun"])))
    assert len(joint) == 1 and joint[0].folder is None and joint[0].name == "eng+ind"
    with pytest.raises(XltError, match="listed twice"):
        source_groups(parse_config(_cfg([{"dataset": "nusax-senti", "language": "eng"},
                                         {"dataset": "nusax-senti", "language": "english"}], ["jav"])))
    with pytest.raises(XltError, match="one of its own sources"):
        source_groups(parse_config(_cfg({"dataset": "nusax-senti", "languages": ["eng", "jav"]}, ["jav"])))


def test_a_single_source_config_keeps_its_run_identity():
    """`sources` is new: a config with `source:` hashes as it did (so existing stores resume)."""
    from xlt.identity import identity_settings

    exp = parse_config({"source": {"dataset": "nusax-senti", "language": "eng"},
                        "targets": [{"dataset": "nusax-senti", "language": "jav"}]})
    assert "sources" not in identity_settings(exp, ("stage", "run")) and "source" in identity_settings(exp, ("stage",))


@needs_shared_data()
def test_leave_one_out_on_nusax_never_reads_a_test_split_or_the_target():
    """Training on the other languages' train splits of a parallel set is fine; any test split is not."""
    from xlt.protocol.plan import load_data
    from xlt.tasks import get_task

    exp = parse_config(_cfg({"dataset": "nusax-senti", "languages": "all-but-target"}, ["jav"],
                            data_dir=str(SHARED_DATA)))
    group = source_groups(exp)[0]
    source, targets, _ = load_data(group.exp, None, get_task("classification"))
    parts = {p.language for p in source.parts}
    assert "jav" not in parts and len(parts) == 11
    tests = {(p.language, r.text) for p in [*source.parts, *targets] for r in p.splits["test"]}
    assert not {r.text for r in source.splits["train"]} & {t for _, t in tests}
    train_rows = {id(r) for p in source.parts for r in p.splits["train"]}
    assert all(id(r) in train_rows for r in source.splits["train"])
    assert not {r.text for r in source.splits["train"]} & {r.text for r in targets[0].splits["train"]}


def _toy_languages(tmp_path: Path, codes=("aaa", "bbb", "ccc")) -> list[dict]:
    langs = []
    for seed, code in enumerate(codes, 1):
        rows = [(f"{t} {code}", lab) for t, lab in synthetic_rows(80, seed)]
        files = {s: str(write_csv(tmp_path / f"{code}_{s}.csv", part))
                 for s, part in (("train", rows[:40]), ("validation", rows[40:60]), ("test", rows[60:]))}
        langs.append({"files": files, "text": "text", "label": "label", "language": code, "name": "toy"})
    return langs


@pytest.mark.parametrize("combine", ["each", "pooled"])
def test_a_study_runs_reports_and_resumes(tiny_model_dir, tmp_path, combine):
    import io

    import xlt
    from xlt.protocol.run import run_experiment

    langs = _toy_languages(tmp_path)
    sources = {"data": langs, "combine": combine, **({"sampling": "temperature", "tau": 2} if combine == "pooled"
                                                      else {})}
    targets = langs if combine == "each" else langs[2:]
    cfg = {"name": f"study-{combine}", "model": str(tiny_model_dir), "method": {"name": "frozen"},
           "sources": sources if combine == "each" else {**sources, "data": langs[:2]}, "targets": targets,
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]},
           "training": {"threads": 1}, "baselines": [], "output": {"dir": str(tmp_path / "out")}}
    results = xlt.run(cfg, progress=False)
    runs = results.runs
    if combine == "each":  # 3 sources x 2 targets each (never itself), 2 strategies, + 3 source references
        assert len(runs) == 3 * 2 * 2 + 3
        assert sorted(set(runs["sources"])) == ["aaa", "bbb", "ccc"]
        zero = runs[runs["strategy"] == "zero_shot"]
        assert not (zero["sources"] == zero["language"]).any()
        report = results.report_markdown.read_text()
        assert "source (rows) to target (columns)" in report
        assert (tmp_path / "out" / "figures" / "transfer_matrix_frozen.png").stat().st_size > 1000
        assert (tmp_path / "out" / "from-aaa" / "report.md").exists()
        stages = [f.name for f in (tmp_path / "out" / "stages").glob("*.safetensors")]
        assert len([f for f in stages if not f.startswith("align-")]) == 3  # one stage per source
        # the default mean-centring: one map per source and target it is transferred to
        assert len([f for f in stages if f.startswith("align-mean_center-")]) == 3 * 2
        # the matrix as the CSV `xlt rank-sources --train-from` reads: the same pairs and scores as the folder
        from xlt.ranking.results import measured_transfer

        res = cli_in_process("export", "transfer", tmp_path / "out")
        assert res.returncode == 0 and "wrote 6 source -> target scores" in res.stdout, (res.stdout, res.stderr)
        from_csv = measured_transfer([tmp_path / "out" / "transfer.csv"])
        from_dir = measured_transfer([tmp_path / "out"])
        assert from_csv.keys() == from_dir.keys()
        assert all(from_csv[t][s] == pytest.approx(v, abs=1e-6) for t, row in from_dir.items() for s, v in row.items())
    else:
        assert sorted(runs["strategy"]) == ["few_shot", "source", "zero_shot"]
        report = results.report_markdown.read_text()
        assert "The joint source" in report and "toy/aaa" in report
        info = runs[runs["strategy"] == "zero_shot"]
        assert runs["score"].between(0, 1).all() and len(info) == 1
    stream = io.StringIO()
    cfg_exp = parse_config(cfg)
    run_experiment(cfg_exp, stream=stream)  # resumed: nothing left to run
    assert "0 to run" in stream.getvalue()


BAD = {
    "source listed twice": ({"data": [{"dataset": "nusax-senti", "language": "eng"},
                                      {"dataset": "nusax-senti", "language": "english"}]}, "listed twice"),
    "target among its own sources": ({"dataset": "nusax-senti", "languages": ["eng", "jav"]},
                                     "is one of its own sources"),
    "disjoint label sets": ({"data": [{"dataset": "nusax-senti", "language": "eng"},
                                      {"dataset": "masakhanews", "language": "eng"}]}, "label sets differ"),
    "tau not above 0": ({"dataset": "nusax-senti", "languages": ["eng"], "sampling": "temperature", "tau": 0},
                        "tau must be above 0"),
}


@needs_shared_data()
def test_bad_sources_get_one_error_and_write_nothing(tmp_path):
    def reject(name):
        sources, message = BAD[name]
        out = tmp_path / name.replace(" ", "-")
        cfg = {**_cfg(sources, ["jav"]), "output": {"dir": str(out)}, "data_dir": str(SHARED_DATA)}
        path = tmp_path / f"{name.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = cli_in_process("run", path)
        errors = [line for line in res.stderr.splitlines() if line.startswith("xlt: error:")]
        ok = res.returncode == 2 and len(errors) == 1 and message in errors[0] and not out.exists()
        return None if ok else f"{name}: exit {res.returncode}, {res.stderr[-400:]!r}"

    failures = [f for f in map(reject, BAD) if f]
    assert not failures, failures


def test_merge_states_with_peft_merge_functions():
    import torch

    from xlt.protocol.merge import merge_states

    start = {"w": torch.zeros(4)}
    states = [{"w": torch.tensor([1.0, -1.0, 0.1, 2.0])}, {"w": torch.tensor([3.0, 1.0, -0.1, 2.0])}]
    linear = merge_states(start, states, [0.5, 0.5], "linear", 1.0)["w"]
    assert torch.allclose(linear, torch.tensor([2.0, 0.0, 0.0, 2.0]))
    # ties, density 1: signs elected by total mass, the agreeing entries averaged
    ties = merge_states(start, states, [0.5, 0.5], "ties", 1.0)["w"]
    assert torch.allclose(ties, torch.tensor([2.0, 1.0, 0.1, 2.0]))
    # the task vectors are taken from the starting state
    shifted = merge_states({"w": torch.ones(4)}, [{"w": s["w"] + 1} for s in states], [0.5, 0.5], "linear", 1.0)
    assert torch.allclose(shifted["w"], linear + 1)


@pytest.mark.parametrize("method", ["frozen", "lora"])
def test_merged_sources_train_the_matrix_stages_and_merge_them(tiny_model_dir, tmp_path, method):
    import io

    import xlt
    from xlt.protocol.run import run_experiment

    langs = _toy_languages(tmp_path)
    base = {"model": str(tiny_model_dir), "method": {"name": method},
            "protocol": {"strategies": ["zero_shot"], "seeds": [0]},
            "training": {"threads": 1, "epochs": 1, "min_steps": 2, "batch_size": 8, "max_length": 32},
            "baselines": [], "output": {"dir": str(tmp_path / "out")}}
    matrix = xlt.run({**base, "name": "m", "sources": {"data": langs, "combine": "each"}, "targets": langs},
                     progress=False)
    stages = sorted(f for f in (tmp_path / "out" / "stages").glob("*.safetensors") if not f.name.startswith("align-"))
    assert len(stages) == 3  # one per source (the frozen method's mean-centring maps are saved beside them)
    stream = io.StringIO()
    cfg = {**base, "name": "merge", "sources": {"data": langs[:2], "combine": "merge", "merge": "ties"},
           "targets": langs[2:], "output": {"dir": str(tmp_path / "out" / "merged")}}
    exp = parse_config(cfg)
    from xlt.protocol.plan import check_experiment

    plan = check_experiment(exp, None, str(tmp_path / "out" / "merged"), tmp_path / "out" / "stages")
    assert len(plan.keys) == 2  # the merged model's source reference and the zero-shot run
    run_experiment(exp, stream=stream)
    results = xlt.Results.from_dir(tmp_path / "out" / "merged")
    zero = results.runs[results.runs["strategy"] == "zero_shot"]
    assert len(zero) == 1 and 0 <= zero["score"].iloc[0] <= 1
    assert matrix.runs["score"].between(0, 1).all()
    # each source's stage is the matrix's stage for that source: the same identity, the same weights
    own = sorted(f for f in (tmp_path / "out" / "merged" / "stages").glob("*.safetensors")
                 if not f.name.startswith("align-"))
    assert len(own) == 2 and {p.name for p in own} <= {p.name for p in stages}
    for p in own:
        assert p.read_bytes() == (tmp_path / "out" / "stages" / p.name).read_bytes()
    from xlt.store import Store

    store = Store(tmp_path / "out" / "merged" / "results.sqlite")
    info = store.runs("done")[0]["train_info"]["merged"]
    store.close()
    assert info["combination"] == "ties" and sorted(info["sources"]) == ["toy/aaa", "toy/bbb"]


def test_an_interrupted_matrix_resumes_without_repeating_finished_pairs(tiny_model_dir, tmp_path, monkeypatch):
    """Stopped after 5 runs (the third source set half done), resumed: every pair once, the same scores as an
    uninterrupted study (bench/kill_resume.py does this with SIGKILL on real data)."""
    import xlt
    from xlt.protocol import run as run_module

    langs = _toy_languages(tmp_path)
    cfg = {"model": str(tiny_model_dir), "method": {"name": "frozen"}, "name": "matrix",
           "sources": {"data": langs, "combine": "each"}, "targets": langs,
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]},
           "training": {"threads": 1}, "baselines": []}
    clean = xlt.run({**cfg, "output": {"dir": str(tmp_path / "clean")}}, progress=False, report=False).runs
    real_execute, calls = run_module.execute, []

    def execute_then_stop(ctx, key):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append((ctx.source.key(), key))
        return real_execute(ctx, key)

    monkeypatch.setattr(run_module, "execute", execute_then_stop)
    with pytest.raises(KeyboardInterrupt):
        xlt.run({**cfg, "output": {"dir": str(tmp_path / "killed")}}, progress=False, report=False)
    monkeypatch.setattr(run_module, "execute", lambda ctx, key: calls.append((ctx.source.key(), key))
                        or real_execute(ctx, key))
    resumed = xlt.run({**cfg, "output": {"dir": str(tmp_path / "killed")}}, progress=False).runs
    assert len(calls) == len(clean) and len(set(calls)) == len(calls)  # no finished pair run again
    key = ["sources", "strategy", "n", "language"]
    assert resumed.set_index(key)["score"].sort_index().equals(clean.set_index(key)["score"].sort_index())


def test_merging_with_ranker_weights_runs_one_source_set_per_target(tiny_model_dir, tmp_path):
    import xlt

    langs = _toy_languages(tmp_path, ("aaa", "bbb", "ccc", "ddd"))
    cfg = {"name": "merge-ranked", "model": str(tiny_model_dir), "method": {"name": "frozen"},
           "sources": {"data": langs[:2], "combine": "merge", "merge": "dare_linear", "density": 0.8,
                       "merge_weights": "heuristic"},
           "targets": langs[2:], "protocol": {"strategies": ["zero_shot"], "seeds": [0]},
           "training": {"threads": 1}, "baselines": [], "output": {"dir": str(tmp_path / "out")}}
    results = xlt.run(cfg, progress=False)
    assert sorted(set(results.runs["sources"])) == ["merged-aaa+bbb-to-ccc", "merged-aaa+bbb-to-ddd"]
    assert "each source's own model, merged" in results.report_markdown.read_text()
    from xlt.store import Store

    store = Store(tmp_path / "out" / "merged-aaa+bbb-to-ccc" / "results.sqlite")
    weights = [v["weight"] for v in store.runs("done")[0]["train_info"]["merged"]["sources"].values()]
    store.close()
    assert len(weights) == 2 and abs(sum(weights) - 1) < 1e-3
