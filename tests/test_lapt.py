"""Language-adaptive pretraining (strategy zero_shot_lapt): the encoder is trained by masked-LM on the target's
text, saved once per language and seed without its word embeddings, and the source stage trained from it."""
from __future__ import annotations

import json
import sqlite3

import pytest
from test_contract import _data, tiny_random_bert  # noqa: F401  (a fixture)

from xlt.tasks import TASKS


def _config(model, tmp_path, mode: str, method: str = "lora") -> dict:
    data = _data(TASKS.get("classification"), tmp_path)
    return {"model": str(model), "method": {"name": method}, "baselines": [], "source": data["src"],
            "targets": [data["tgt"]],
            "protocol": {"strategies": ["zero_shot", "zero_shot_lapt"], "seeds": [0],
                         "lapt": {"mode": mode, "steps": 6, "head_steps": 2, "batch_size": 4}},
            "training": {"epochs": 1, "min_steps": 4, "batch_size": 8, "max_length": 32, "threads": 1},
            "output": {"dir": str(tmp_path / "out")}}


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_lapt_adapts_the_encoder_and_trains_a_stage_from_it(tiny_random_bert, tmp_path, mode):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    import xlt

    results = xlt.run(_config(tiny_random_bert, tmp_path, mode), progress=False, report=False)
    con = sqlite3.connect(results.store)
    info = dict(con.execute("SELECT strategy, train_info FROM runs WHERE status = 'done' AND language = 'tgt'"))
    con.close()
    lapt = json.loads(info["zero_shot_lapt"])["lapt"]
    assert lapt["mode"] == mode and lapt["steps"] == 6 and lapt["language"] == "tgt" and lapt["minutes"] >= 0
    assert lapt["mlm_head"].startswith("none in the model: initialised and trained 2 steps on tgt text")
    assert "lapt" not in json.loads(info["zero_shot"])

    stages = results.output_dir / "stages"
    [adapted] = stages.glob("lapt-tgt-seed0-*.safetensors")
    state = load_file(str(adapted))
    assert "embeddings.word_embeddings.weight" not in state  # never trained: not stored
    pretrained = AutoModel.from_pretrained(tiny_random_bert).state_dict()
    changed = [k for k, v in state.items() if k in pretrained and not torch.equal(v, pretrained[k])]
    assert changed and all(("query" in k or "value" in k) for k in changed) == (mode == "lora")
    assert len(list(stages.glob("*-lora-seed0-source-lapt-tgt-*.safetensors"))) == 1  # its own source stage


def test_lapt_refuses_methods_that_cannot_use_it(tiny_random_bert, tmp_path):
    import xlt
    from xlt.errors import XltError

    for method in ("frozen", "madx"):
        with pytest.raises(XltError, match=f"method {method} keeps it fixed"):
            xlt.run(_config(tiny_random_bert, tmp_path, "full", method), progress=False)
        assert not (tmp_path / "out").exists()


def test_pooled_lapt_adapts_once_for_every_target(tiny_random_bert, tmp_path):
    import xlt

    cfg = _config(tiny_random_bert, tmp_path, "full")
    second = {**cfg["source"], "language": "two"}  # the source's files under another name: a second target
    cfg["targets"].append(second)
    cfg["protocol"]["lapt"]["scope"] = "targets"
    cfg["protocol"]["seeds"] = [0, 1]
    results = xlt.run(cfg, progress=False, report=False)
    con = sqlite3.connect(results.store)
    infos = [json.loads(i)["lapt"] for (i,) in con.execute(
        "SELECT train_info FROM runs WHERE status = 'done' AND strategy = 'zero_shot_lapt' AND seed = 0 "
        "ORDER BY language")]
    seed1 = json.loads(con.execute("SELECT train_info FROM runs WHERE status = 'done' AND seed = 1 AND "
                                   "strategy = 'zero_shot_lapt' LIMIT 1").fetchone()[0])["lapt"]
    con.close()
    assert len(infos) == 2 and infos[0] == infos[1]  # one adaptation, recorded by both targets' runs
    assert infos[0]["mlm_head_minutes"] >= 0 and seed1["mlm_head_minutes"] is None  # one head, reused by seed 1
    assert len(list((results.output_dir / "stages").glob("mlm-head-*.safetensors"))) == 1
    assert infos[0]["texts_per_language"] == {"toy/tgt": 36, "toy/two": 36}  # train + validation, never test
    assert infos[0]["texts"] == 72 and infos[0]["language"] == "2-targets"
    stages = results.output_dir / "stages"
    assert len(list(stages.glob("lapt-2-targets-seed0-*.safetensors"))) == 1
    assert len(list(stages.glob("lapt-2-targets-seed1-*.safetensors"))) == 1
    assert not list(stages.glob("lapt-tgt-*")) and not list(stages.glob("lapt-two-*"))
    assert len(list(stages.glob("*-lora-seed0-source-lapt-2-targets-*.safetensors"))) == 1  # one source stage
