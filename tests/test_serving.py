"""Prediction from a saved model: the Python predictor and the HTTP server's limits and notice."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def saved_model(tiny_model_dir, tmp_path_factory):
    from xlt.models import resolve, load_classifier, save_for_transformers

    spec = resolve(str(tiny_model_dir))
    model = load_classifier(spec, 2, {0: "control", 1: "depression"})
    out = tmp_path_factory.mktemp("saved") / "model"
    save_for_transformers(model, spec.tokenizer(), out, {"xlt_text_prefix": "", "xlt_notice": "Research screening signal, not a diagnosis."})
    return out


def test_http_predict_returns_labels_probabilities_and_notice(saved_model):
    from xlt.serve.http import create_app

    client = TestClient(create_app(saved_model, max_texts=3, max_chars=50, max_body_bytes=2000))
    assert client.get("/health").json()["labels"] == ["control", "depression"]
    res = client.post("/predict", json={"texts": ["a good day", "a sad day"]})
    assert res.status_code == 200
    body = res.json()
    assert len(body["predictions"]) == 2 and body["notice"] == "Research screening signal, not a diagnosis."
    probs = body["predictions"][0]["probabilities"]
    assert set(probs) == {"control", "depression"} and abs(sum(probs.values()) - 1) < 1e-3
    assert client.post("/predict", json={"texts": ["x"] * 4}).status_code == 413
    assert client.post("/predict", json={"texts": ["x" * 51]}).status_code == 413
    assert client.post("/predict", content=b'{"texts": ["' + b"y" * 3000 + b'"]}').status_code == 413
    assert client.post("/predict", json={"text": "wrong key"}).status_code == 422
    assert client.post("/predict", json={"texts": []}).status_code == 422


def test_server_listens_on_localhost_only_by_default(saved_model):
    """`xlt serve` started without --host answers on 127.0.0.1, and its listening socket is bound to the
    loopback address alone (not 0.0.0.0)."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "xlt.cli", "serve", str(saved_model), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, health = time.time() + 120, None
        while time.time() < deadline and health is None:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            except OSError:
                time.sleep(0.3)
        assert health is not None and b"control" in health
        listening = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
    finally:
        proc.terminate()
        proc.wait(timeout=30)


TEXTS = ["a good day", "a sad day and a long night", "x", "the film was bad, the music worse, the end too long " * 4]


@pytest.fixture(scope="module")
def confident_model(tiny_model_dir, tmp_path_factory):
    """A tiny classifier whose head spreads TEXTS apart (centred on their mean feature, scaled), so the
    comparisons below are between probabilities far from uniform that differ from text to text."""
    import torch

    from xlt.models import load_classifier, resolve, save_for_transformers
    from xlt.train import pooled_features

    spec = resolve(str(tiny_model_dir))
    tok = spec.tokenizer()
    torch.manual_seed(0)
    model = load_classifier(spec, 3, {0: "neg", 1: "neu", 2: "pos"})
    feats = pooled_features(model, tok, tok(["query: " + t for t in TEXTS], truncation=True, max_length=128)["input_ids"])
    centred = feats - feats.mean(0)
    with torch.no_grad():
        w = torch.randn_like(model.classifier.weight)
        w *= 4 / (centred @ w.T).std()
        model.classifier.weight.copy_(w)
        model.classifier.bias.copy_(-(feats.mean(0) @ w.T))
    out = tmp_path_factory.mktemp("onnx") / "model"
    save_for_transformers(model, tok, out, {"xlt_text_prefix": "query: "})
    return out


def test_onnx_export_predicts_what_pytorch_predicts(confident_model):
    import numpy as np

    from xlt.serve.onnx import export_onnx
    from xlt.serve.predict import Predictor

    # fp32 on both sides: on a CPU with native bf16 PyTorch predicts under bf16 autocast by default, which moves
    # probabilities by about 0.01 and can flip a text on a class border
    want = Predictor(confident_model, bf16="off").predict_records(TEXTS, batch_size=2)
    probs = lambda out: np.array([list(o["probabilities"].values()) for o in out])  # noqa: E731
    assert probs(want).max(1).min() < 0.9 and len({o["label"] for o in want}) > 1  # not a trivial comparison

    res = export_onnx(confident_model, "fp32")
    assert res["labels_agree"] == "6/6" and res["max_abs_prob_diff"] < 1e-4
    got = Predictor(confident_model, onnx="fp32").predict_records(TEXTS, batch_size=2)  # order kept after sorting
    assert [o["label"] for o in got] == [o["label"] for o in want]
    assert np.abs(probs(got) - probs(want)).max() < 1e-3

    res8 = export_onnx(confident_model, "int8")
    import onnx

    ops = {n.op_type for n in onnx.load(str(confident_model / "onnx" / "model_quantized.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops, ops  # the matrix products really run in int8
    got8 = Predictor(confident_model, onnx="int8").predict_records(TEXTS)
    clear = [i for i, o in enumerate(want) if max(o["probabilities"].values()) > 0.6]  # not on a class border
    assert len(clear) >= 3 and all(got8[i]["label"] == want[i]["label"] for i in clear), (res8, got8, want)


def test_onnx_prediction_errors_say_what_to_do(confident_model, tmp_path):
    import json
    import shutil

    from xlt.errors import XltError
    from xlt.serve.predict import Predictor

    bare = tmp_path / "bare"
    shutil.copytree(confident_model, bare, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(XltError, match="xlt export-onnx"):
        Predictor(bare, onnx="int8")
    with pytest.raises(XltError, match="int8"):
        Predictor(bare, onnx="int4")
    cfg = json.loads((bare / "config.json").read_text())
    (bare / "config.json").write_text(json.dumps({**cfg, "xlt_task": "ner"}))
    with pytest.raises(XltError, match="classification models only"):
        Predictor(bare, onnx="int8")


def test_http_server_on_the_onnx_export(confident_model):
    from xlt.serve.http import create_app
    from xlt.serve.onnx import export_onnx
    from xlt.serve.predict import Predictor

    export_onnx(confident_model, "fp32")
    client = TestClient(create_app(confident_model, onnx="fp32"))
    res = client.post("/predict", json={"texts": TEXTS[:2]})
    assert res.status_code == 200
    assert [p["label"] for p in res.json()["predictions"]] == Predictor(confident_model).predict(TEXTS[:2])


def test_predict_and_predict_proba_agree_with_the_records(confident_model):
    import numpy as np

    import xlt

    model = xlt.load(confident_model)
    labels, probs = model.predict(TEXTS), model.predict_proba(TEXTS)
    records = model.predict_records(TEXTS)
    assert labels == [r["label"] for r in records] and probs.shape == (len(TEXTS), 3)
    assert [model.labels[i] for i in probs.argmax(1)] == labels
    np.testing.assert_allclose(probs, [list(r["probabilities"].values()) for r in records], atol=1e-4)
    assert model.predict([]) == [] and model.predict_proba([]).shape == (0, 3)
