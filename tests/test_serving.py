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


def test_server_binds_to_localhost_by_default():
    import inspect

    from xlt.serve.http import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
