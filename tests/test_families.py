"""The encoder families x methods x tasks: tiny random models (2 layers, hidden size 32) of XLM-R, DeBERTa-v2
and DistilBERT, each reading with the embedded model's tokenizer, through a short protocol with the
baselines (BERT runs the full contract matrix in test_contract.py; the embedded e5 is a BERT). Also: `.bin`
weights load under weights_only, and pooling is read from a sentence-transformers config."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from test_contract import METHOD_SETTINGS, SUPPORTED, _data

from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.tasks import TASKS

SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _config(family: str, tok):
    from transformers import DebertaV2Config, DistilBertConfig, XLMRobertaConfig

    if family == "xlm-roberta":  # positions start after the padding index, so two more
        return XLMRobertaConfig(vocab_size=len(tok), max_position_embeddings=130 + tok.pad_token_id + 1,
                                pad_token_id=tok.pad_token_id, **SIZE)
    if family == "deberta-v2":  # the v3 layout: relative positions only, no absolute ones, no token types
        return DebertaV2Config(vocab_size=len(tok), max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                               relative_attention=True, position_buckets=32, pos_att_type=["p2c", "c2p"],
                               position_biased_input=False, type_vocab_size=0, **SIZE)
    return DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                            max_position_embeddings=130, pad_token_id=tok.pad_token_id)


FAMILIES = ("xlm-roberta", "deberta-v2", "distilbert")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    import torch
    from transformers import AutoModel

    from xlt.models import resolve

    tok = resolve("embedded:multilingual-e5-small").tokenizer()
    out = {}
    for family in FAMILIES:
        path = tmp_path_factory.mktemp(f"tiny-{family}")
        torch.manual_seed(0)
        AutoModel.from_config(_config(family, tok)).save_pretrained(path)
        tok.save_pretrained(path)
        out[family] = path
    return out


@pytest.mark.parametrize("method_name,task_name", SUPPORTED)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_runs_every_method_and_task(tiny_models, tmp_path, family, method_name, task_name):
    import xlt

    task = TASKS.get(task_name)
    data = _data(task, tmp_path)
    cfg = {"name": f"{family}-{method_name}-{task_name}", "task": task_name, "model": str(tiny_models[family]),
           "method": {"name": method_name, **METHOD_SETTINGS.get(method_name, {})},
           "source": data["src"], "targets": [data["tgt"]],
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [8], "seeds": [0]},
           "training": {"epochs": 1, "epochs_continue": 1, "min_steps": 2, "batch_size": 8, "max_length": 32,
                        "threads": 1, "patience": 0},
           "baselines": list(task.baselines), "output": {"dir": str(tmp_path / "out"), "save_models": ["few_shot"]}}
    results = xlt.run(cfg, progress=False, report=False)  # reports are tested on their own
    runs = results.runs
    for m in [method_name, *task.baselines]:  # every baseline gets its rows: none is dropped on any family
        mine = runs[runs["method"] == m]
        assert {"zero_shot", "few_shot"} <= set(mine["strategy"]), (m, sorted(mine["strategy"]))
        assert mine["score"].between(0, 1).all() and not mine["score"].isna().any()
    model = xlt.load(results.output_dir / "models" / "few_shot-8-tgt-seed0")
    assert len(model.predict(["iki dina apik banget", "Juma lan Kofi"])) == 2


def test_lora_targets_follow_the_architecture(tiny_models):
    """The task's default layers (query, value) do not exist in DeBERTa or DistilBERT: peft's per-architecture
    names are used there; layers a user lists are kept, and a wrong one is still an error."""
    from xlt.config import Experiment
    from xlt.methods import get_method
    from xlt.models import resolve

    def targets(family, **method):
        exp = Experiment.model_validate({"model": "x", "method": {"name": "lora", **method},
                                         "source": {"dataset": "nusax-senti", "language": "eng"}, "targets": []})
        m = get_method(exp.method, TASKS.get("classification"))
        m.check(resolve(str(tiny_models[family])))
        return m.cfg.target_modules

    assert targets("xlm-roberta") == ["query", "value"]
    assert targets("deberta-v2") == ["query_proj", "value_proj"]
    assert targets("distilbert") == ["q_lin", "v_lin"]
    assert targets("deberta-v2", target_modules=["key_proj"]) == ["key_proj"]
    with pytest.raises(XltError, match="query_proj"):
        targets("deberta-v2", target_modules=["query"])


def test_bin_weights_load_only_as_tensors(tiny_models, tmp_path):
    """A model shipped as pytorch_model.bin loads (torch.load with weights_only=True); one whose pickle holds
    code is refused instead of run."""
    import shutil

    import torch
    from transformers import AutoModel

    from xlt.models import load_classifier, resolve

    src = tiny_models["xlm-roberta"]
    bin_dir = tmp_path / "bin-model"
    shutil.copytree(src, bin_dir)
    (bin_dir / "model.safetensors").unlink()
    torch.save(AutoModel.from_pretrained(src).state_dict(), bin_dir / "pytorch_model.bin")
    spec = resolve(str(bin_dir))
    model = load_classifier(spec, 2, {0: "a", 1: "b"})
    want = AutoModel.from_pretrained(src).embeddings.word_embeddings.weight
    assert torch.equal(model.roberta.embeddings.word_embeddings.weight, want)

    marker = tmp_path / "ran"
    (bin_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(XltError, match="plain tensors"):
        load_classifier(spec, 2, {0: "a", 1: "b"})
    with pytest.raises(XltError, match="plain tensors"):  # and before a run writes anything
        resolve(str(bin_dir))
    assert not marker.exists()

    (bin_dir / "pytorch_model.bin").unlink()
    with pytest.raises(XltError, match="safetensors"):
        resolve(str(bin_dir))


class _Payload:
    """Unpickling this would create a file: what a malicious checkpoint would do instead."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path(self.path).touch, ())


def test_pooling_is_read_from_a_sentence_transformers_config(tiny_models, tmp_path):
    import json
    import shutil

    from xlt.models import resolve

    d = tmp_path / "st-model"
    shutil.copytree(tiny_models["distilbert"], d)
    assert resolve(str(d)).pooling == "mean"  # no sentence-transformers config: mean
    (d / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type":
                                                 "sentence_transformers.models.Transformer"},
                                                {"idx": 1, "name": "1", "path": "1_Pooling", "type":
                                                 "sentence_transformers.models.Pooling"}]))
    (d / "1_Pooling").mkdir()
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                             "pooling_mode_mean_tokens": False}))
    assert resolve(str(d)).pooling == "cls"
    from xlt.config import ModelEntry

    assert resolve(ModelEntry(path=str(d), pooling="mean")).pooling == "mean"  # the config's choice wins


def test_masked_lm_loss_at_masked_positions_equals_the_models_own():
    """Language adapters compute MLM loss on masked positions only; on every family that loss must be the one the
    model's own forward computes over all positions."""
    import torch
    from transformers import AutoModelForMaskedLM, BertConfig, DebertaV2Config, DistilBertConfig, XLMRobertaConfig

    from xlt.methods._language_adapters import _masked_loss, _position_head

    size = dict(SIZE, vocab_size=500)
    configs = [BertConfig(**size), XLMRobertaConfig(**size),
               DebertaV2Config(**size, relative_attention=True, position_buckets=32, pos_att_type=["p2c", "c2p"],
                               position_biased_input=False, type_vocab_size=0),
               DistilBertConfig(vocab_size=500, dim=32, n_layers=2, n_heads=2, hidden_dim=64)]
    for config in configs:
        torch.manual_seed(0)
        mlm = AutoModelForMaskedLM.from_config(config).eval()
        ids = torch.randint(5, 500, (2, 10))
        labels = torch.full_like(ids, -100)
        labels[:, 3], labels[0, 7] = ids[:, 3], 9
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
        assert _position_head(mlm) is not None, type(mlm).__name__
        with torch.no_grad():
            assert torch.allclose(_masked_loss(mlm, batch), mlm(**batch).loss, atol=1e-5), type(mlm).__name__
