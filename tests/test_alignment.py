"""Alignment of sentence vectors for the frozen method: the maps themselves, a run that records the parallel data it
used and saves a plain classifier with the map folded in, and one clear error for each kind of bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import cli_in_process, needs_shared_data, tiny_config
from test_contract import tiny_random_bert  # noqa: F401  (a fixture)

from xlt.align.maps import mean_center, procrustes, retrieval_accuracy


def test_procrustes_recovers_a_rotation_and_restores_retrieval():
    """Target vectors = source vectors rotated, shifted and noised: retrieval fails before the map and is near perfect
    after it, on pairs the map was not fitted on."""
    rng = np.random.default_rng(0)
    d, n = 16, 400
    source = rng.normal(size=(n, d)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    target = (source @ rotation.T + 3.0 + 0.05 * rng.normal(size=(n, d))).astype(np.float32)
    fit, held = slice(0, 200), slice(200, n)
    fmap = procrustes(source[fit], target[fit], source.mean(0), target.mean(0))
    assert retrieval_accuracy(target[held], source[held]) < 0.2
    assert retrieval_accuracy(fmap(target[held]), source[held]) > 0.95
    assert np.allclose(fmap.rotation @ fmap.rotation.T, np.eye(d), atol=1e-4)  # orthogonal
    a, b = fmap.as_affine()
    assert np.allclose(target[held] @ a + b, fmap(target[held]), atol=1e-4)

    shifted = mean_center(source.mean(0), target.mean(0))
    assert np.allclose(shifted(target).mean(0), source.mean(0), atol=1e-4)


def _frozen_aligned(tiny_model_dir, tiny_data, tmp_path, align: dict, out="out") -> dict:
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / out)
    cfg["method"] = {"name": "frozen", "align": align}
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["output"]["save_models"] = ["few_shot"]
    return cfg


def _parallel_files(tiny_data, tmp_path, n_target: int | None = None):
    import csv

    texts = {lang: [r["text"] for r in csv.DictReader(open(tiny_data[f"{lang}_train"], encoding="utf-8"))]
             for lang in ("src", "tgt")}
    src, tgt = tmp_path / "par.src", tmp_path / "par.tgt"
    src.write_text("\n".join(texts["src"][:40]) + "\n")
    tgt.write_text("\n".join(texts["tgt"][:n_target or 40]) + "\n")
    return [str(src), str(tgt)]


def test_aligned_frozen_run_records_its_parallel_data_and_saves_the_map_in_the_head(tiny_model_dir, tiny_data,
                                                                                    tmp_path):
    import xlt
    from xlt.data.readers import read_records

    files = _parallel_files(tiny_data, tmp_path)
    cfg = _frozen_aligned(tiny_model_dir, tiny_data, tmp_path, {"map": "procrustes", "parallel": {"files": {"tgt": files}}})
    results = xlt.run(cfg, progress=False, report=False)
    info = _train_info(results.store)
    for strategy in ("zero_shot", "few_shot"):
        aligned = info[("frozen", strategy, "tgt")]["alignment"]["tgt"]
        assert aligned["map"] == "procrustes" and aligned["pairs"] == 40
        assert aligned["parallel"] == "files par.src / par.tgt" and aligned["source_texts"] == 100
    assert "alignment" not in info[("frozen", "source", "src")]

    # the saved model is a plain classifier whose head holds the target's map: it predicts what the run predicted
    import sqlite3

    runs = results.runs
    run_id = runs[(runs["method"] == "frozen") & (runs["strategy"] == "few_shot")].iloc[0]["run_id"]
    con = sqlite3.connect(results.store)
    stored = con.execute("SELECT pred, probs FROM predictions WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
    con.close()
    texts = [r["text"] for r in read_records(tiny_data["tgt_test"])]
    from xlt.serve.predict import Predictor

    card = (results.output_dir / "models" / "few_shot-10-tgt-seed0" / "README.md").read_text()
    assert "The head holds a `procrustes` map of tgt sentence vectors" in card
    model = Predictor(results.output_dir / "models" / "few_shot-10-tgt-seed0", bf16="off")  # the run's precision
    assert len(stored) == len(texts) and model.predict(texts) == [p for p, _ in stored]
    assert np.allclose(model.predict_proba(texts), [json.loads(p) for _, p in stored], atol=1e-4)

    maps = sorted((results.output_dir / "stages").glob("align-procrustes-tgt-*.safetensors"))
    assert len(maps) == 1  # fitted once, shared by the zero- and few-shot runs

    mean = _frozen_aligned(tiny_model_dir, tiny_data, tmp_path, {"map": "mean_center"}, out="out-mean")
    aligned = _train_info(xlt.run(mean, progress=False, report=False).store)[("frozen", "zero_shot", "tgt")]
    assert aligned["alignment"]["tgt"]["map"] == "mean_center" and "pairs" not in aligned["alignment"]["tgt"]

    # a saved map cut short (a copy interrupted) is one error naming the file; the finished runs stay
    from xlt.errors import XltError

    saved = next((tmp_path / "out-mean" / "stages").glob("align-mean_center-tgt-*.safetensors"))
    saved.write_bytes(saved.read_bytes()[:10])
    def frozen_runs():
        return {k: v for k, v in _train_info(tmp_path / "out-mean" / "results.sqlite").items() if k[0] == "frozen"}

    finished = frozen_runs()
    mean["protocol"]["shots"] = [10, 20]
    with pytest.raises(XltError, match=f"saved stage {saved} cannot be read.*delete it"):
        xlt.run(mean, progress=False, report=False)
    assert len(finished) == 3 and frozen_runs() == finished


def test_default_alignment_maps_only_runs_without_target_labels(tiny_model_dir, tiny_data, tmp_path):
    """The frozen method's default for text classification: mean-centring in zero-shot and self-training runs,
    none in runs that train on target labels (few-shot); a test-only target is read unmapped with a note;
    `align: none` is the method without a map, with the run identities stores had before the default."""
    import xlt
    from xlt.config import Experiment
    from xlt.identity import identity_settings, run_hash

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out", method={"name": "frozen"}, baselines=[])
    cfg["protocol"] = {"strategies": ["zero_shot", "self_training", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["output"]["save_models"] = ["zero_shot", "few_shot"]
    info = _train_info(xlt.run(cfg, progress=False, report=False).store)
    models = tmp_path / "out" / "models"  # the model card says which saved head holds a map
    assert "The head holds a `mean_center` map of tgt" in (models / "zero_shot-tgt-seed0" / "README.md").read_text()
    assert "map of" not in (models / "few_shot-10-tgt-seed0" / "README.md").read_text()
    for strategy in ("zero_shot", "self_training"):
        assert info[("frozen", strategy, "tgt")]["alignment"]["tgt"]["map"] == "mean_center"
    assert "alignment" not in info[("frozen", "few_shot", "tgt")]
    assert "alignment" not in info[("frozen", "source", "src")]
    assert cli_in_process("report", str(tmp_path / "out")).returncode == 0  # the report says which runs were mapped
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| tgt | frozen | mean_center | - | 100 |" in report and "| self_training, zero_shot |" in report

    # `align: none` leaves the key out of the run identity, as stores written before this default had it
    off = Experiment.model_validate({**cfg, "method": {"name": "frozen", "align": "none"}})
    assert off.method.align == "none" and "align" not in identity_settings(off.method, ("stage", "run"))
    default = Experiment.model_validate(cfg)
    assert identity_settings(default.method, ("stage",))["align"]["map"] == "mean_center"
    target = off.targets[0]
    assert run_hash(default, "frozen", target, ["a", "b"]) != run_hash(off, "frozen", target, ["a", "b"])

    test_only = dict(cfg["targets"][0], files={"test": cfg["targets"][0]["files"]["test"]})
    cfg2 = {**cfg, "targets": [test_only], "output": {"dir": str(tmp_path / "out-test-only")}}
    cfg2["protocol"] = {"strategies": ["zero_shot"], "seeds": [0]}
    zero = _train_info(xlt.run(cfg2, progress=False, report=False).store)[("frozen", "zero_shot", "tgt")]
    assert zero["alignment"]["tgt"]["map"] == "none" and "no unlabelled text" in zero["alignment"]["tgt"]["note"]

    ner = Experiment.model_validate({"task": "ner", "source": {"dataset": "conll2003"}, "targets": [],
                                     "method": {"name": "frozen"}})
    assert ner.method.align == "none"


def _train_info(db) -> dict:
    import json
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute("SELECT method, strategy, language, train_info FROM runs WHERE status = 'done'").fetchall()
    con.close()
    return {(m, s, lang): json.loads(info) for m, s, lang, info in rows}


def test_bad_alignment_input_is_one_error_and_nothing_written(tiny_model_dir, tiny_data, tmp_path):
    latin1 = tmp_path / "latin1.tgt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 40)
    empty = tmp_path / "empty.tgt"
    empty.write_text("")
    cases = {
        "is not UTF-8 text": {"map": "procrustes",
                              "parallel": {"files": {"tgt": [_parallel_files(tiny_data, tmp_path)[0], str(latin1)]}}},
        "gives 0 src-tgt sentence pairs; alignment needs at least 10": {
            "map": "procrustes", "parallel": {"files": {"tgt": [str(empty), str(empty)]}}},
        "differ in line count": {"map": "procrustes",
                                 "parallel": {"files": {"tgt": _parallel_files(tiny_data, tmp_path, 30)}}},
        "Tatoeba pairs each language with English": {"map": "procrustes", "parallel": "tatoeba"},
        "parallel: files has no entry for tgt": {"map": "procrustes", "parallel": {"files": {"xho": ["a", "b"]}}},
        "which leaks them into training": {"map": "procrustes", "parallel": {"dataset": "nusax-senti",
                                                                             "split": "test"}},
        "give parallel: tatoeba": {"map": "procrustes"},
        "'off' is not a setting; give none (no map)": "off",
    }
    for i, (message, align) in enumerate(cases.items()):
        path = tmp_path / f"c{i}.yaml"
        path.write_text(yaml.safe_dump(_frozen_aligned(tiny_model_dir, tiny_data, tmp_path, align, out=f"out{i}")))
        res = cli_in_process("run", path)
        assert res.returncode == 2 and res.stderr.count("xlt: error:") == 1, (message, res.stderr)
        assert message in res.stderr and not (tmp_path / f"out{i}").exists(), (message, res.stderr)


@needs_shared_data()
def test_tatoeba_pairs_and_a_language_it_lacks(tmp_path):
    from xlt.align.parallel import sentence_pairs
    from xlt.errors import XltError

    pairs, where = sentence_pairs("tatoeba", "eng", "swa", None, 1000)  # Swahili is filed as swh
    assert where == "Tatoeba swh-eng" and 10 <= len(pairs) <= 1000 and all(s and t for s, t in pairs)
    with pytest.raises(XltError, match="Tatoeba has no bug-English sentences; give parallel: tatoeba"):
        sentence_pairs("tatoeba", "eng", "bug", None, 1000)


def test_pair_losses():
    import torch

    from xlt.align.loss import pair_loss

    torch.manual_seed(0)
    a = torch.randn(8, 16)
    assert pair_loss(a, a, "cosine", 0.05) < 1e-6
    assert pair_loss(a, torch.randn(8, 16), "cosine", 0.05) > 0.5
    # InfoNCE: pairs that match each other (and not the rest of the batch) score far below mismatched ones
    assert pair_loss(a, a + 0.01 * torch.randn(8, 16), "contrastive", 0.05) < 0.01
    assert pair_loss(a, a[torch.randperm(8)], "contrastive", 0.05) > 1.0


@pytest.mark.parametrize("method,task", [("lora", "classification"), ("full", "ner")])
def test_fine_tuning_with_the_alignment_loss_records_it(tiny_random_bert, tmp_path, method, task):
    """The source stage adds the loss at every step and records the pairs it used; a tagger's sentence vector is
    its word vectors' mean."""
    import xlt
    from test_contract import _data
    from xlt.tasks import TASKS

    data = _data(TASKS.get(task), tmp_path)
    src, tgt = tmp_path / "pairs.src", tmp_path / "pairs.tgt"
    src.write_text("\n".join(f"the day was very good {i}" for i in range(30)) + "\n")
    tgt.write_text("\n".join(f"iki dina apik banget {i}" for i in range(30)) + "\n")
    cfg = {"task": task, "model": str(tiny_random_bert), "method": {"name": method}, "baselines": [],
           "source": data["src"], "targets": [data["tgt"]],
           "protocol": {"strategies": ["zero_shot"], "seeds": [0]},
           "training": {"epochs": 4, "min_steps": 8, "batch_size": 8, "max_length": 32, "threads": 1,
                        "align_loss": {"parallel": {"files": {"tgt": [str(src), str(tgt)]}}, "batch_size": 8}},
           "output": {"dir": str(tmp_path / "out")}}
    results = xlt.run(cfg, progress=False, report=False)
    info = _train_info(results.store)[(method, "zero_shot", "tgt")]  # a zero-shot run's record is its stage's
    assert info["align_loss"] == {"loss": "contrastive", "weight": 1.0,
                                  "languages": {"tgt": {"pairs": 30, "parallel": "files pairs.src / pairs.tgt"}}}
    curve = [e["align_loss"] for e in info["history"]]
    assert len(curve) >= 2 and curve[-1] < curve[0]  # the pairs' vectors are pulled together


def test_alignment_loss_refuses_what_it_cannot_align(tiny_random_bert, tmp_path):
    import xlt
    from test_contract import _data
    from xlt.errors import XltError
    from xlt.tasks import TASKS

    data = _data(TASKS.get("classification"), tmp_path)
    for method, message in (("madx", "madx reads each language through its own adapter"),
                            ("frozen", "method: {name: frozen, align: ...}"),
                            ("lora", "parallel: files has no entry for tgt")):
        parallel = {"files": {"xho": ["a", "b"]}} if method == "lora" else "tatoeba"
        cfg = {"model": str(tiny_random_bert), "method": {"name": method}, "source": data["src"],
               "targets": [data["tgt"]], "training": {"align_loss": {"parallel": parallel}},
               "output": {"dir": str(tmp_path / "out")}}
        with pytest.raises(XltError, match=message.replace("{", r"\{").replace("}", r"\}")):
            xlt.run(cfg, progress=False)
        assert not (tmp_path / "out").exists()
