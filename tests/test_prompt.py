"""Soft prompts (method prompt): both kinds train and transfer, and a saved model predicts what its run predicted,
with the prompt put back in front of the words."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import tiny_config


@pytest.mark.parametrize("method", [{"name": "prompt", "virtual_tokens": 4, "init_text": "positive or negative"},
                                    {"name": "prompt", "kind": "p_tuning", "virtual_tokens": 4}])
def test_prompt_model_saves_and_predicts_like_its_run(tiny_model_dir, tiny_data, tmp_path, method):
    import xlt
    from xlt.data.readers import read_records
    from xlt.serve.predict import Predictor

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out")
    cfg.update(method=method, baselines=[])
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]}
    cfg["training"].update(epochs=2, min_steps=10, max_length=64, bf16="off")  # fp32: compared below
    cfg["output"]["save_models"] = ["few_shot"]
    results = xlt.run(cfg, progress=False, report=False)
    runs = results.runs
    assert sorted(runs["strategy"]) == ["few_shot", "source", "zero_shot"]

    saved = results.output_dir / "models" / "few_shot-10-tgt-seed0"
    assert (saved / "prompt" / "adapter_model.safetensors").exists()
    assert json.loads((saved / "config.json").read_text())["xlt_prompt"] == "prompt"
    con = sqlite3.connect(results.store)
    run_id = runs[runs["strategy"] == "few_shot"].iloc[0]["run_id"]
    stored = con.execute("SELECT pred, probs FROM predictions WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
    con.close()
    texts = [r["text"] for r in read_records(tiny_data["tgt_test"])]
    model = Predictor(saved, bf16="off")  # the run's precision
    assert model.predict(texts) == [p for p, _ in stored]
    assert np.allclose(model.predict_proba(texts), [json.loads(p) for _, p in stored], atol=1e-4)

    # without its prompt the classifier reads the words alone and predicts otherwise: the prompt is doing something
    plain = Predictor(saved, bf16="off")
    plain.model = plain.model.get_base_model()
    assert not np.allclose(plain.predict_proba(texts), model.predict_proba(texts), atol=1e-3)


def test_a_prompt_longer_than_the_positions_left_is_refused(tiny_model_dir, tiny_data, tmp_path):
    import xlt
    from xlt.errors import XltError

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out")
    cfg["method"] = {"name": "prompt", "virtual_tokens": 20}
    cfg["training"]["max_length"] = 120  # the tiny model has 128 positions
    with pytest.raises(XltError, match="lower training.max_length to 108"):
        xlt.run(cfg, progress=False)
    assert not (tmp_path / "out").exists()


def test_onnx_export_of_a_prompt_model_is_refused(tiny_model_dir, tiny_data, tmp_path):
    import xlt
    from xlt.errors import XltError
    from xlt.serve.onnx import export_onnx

    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "out")
    cfg.update(method={"name": "prompt", "virtual_tokens": 4}, baselines=[])
    cfg["protocol"] = {"strategies": ["zero_shot"], "seeds": [0]}
    cfg["training"].update(epochs=1, min_steps=2, max_length=64)
    cfg["output"]["save_models"] = ["zero_shot"]
    out = xlt.run(cfg, progress=False, report=False).output_dir / "models" / "zero_shot-tgt-seed0"
    with pytest.raises(XltError, match="prompt-tuned model"):
        export_onnx(out)
    assert not (out / "onnx").exists()
