"""Adaptation methods on a tiny model: which parameters train, and that a LoRA checkpoint brings
its classification head back (a known trap when LoRA meets sequence classifiers)."""
from __future__ import annotations

import pytest
import torch

from xlt.config import Method
from xlt.methods import METHODS, get_method
from xlt.models import load_classifier, resolve


@pytest.fixture()
def spec(tiny_model_dir):
    return resolve(str(tiny_model_dir))


def fresh(spec, name, seed):
    torch.manual_seed(seed)
    method = get_method(Method(name=name, freeze_embeddings=True))
    return method, method.prepare(load_classifier(spec, 3, {0: "a", 1: "b", 2: "c"}))


def test_registry_has_the_methods():
    assert {"full", "lora", "frozen"} <= set(METHODS)
    with pytest.raises(Exception, match="unknown method 'adapterz'"):
        get_method(Method(name="adapterz"))


def test_trainable_parameters_per_method(spec):
    _, full = fresh(spec, "full", 0)
    trainable = {k for k, p in full.named_parameters() if p.requires_grad}
    assert "bert.embeddings.word_embeddings.weight" not in trainable and "classifier.weight" in trainable
    assert "bert.encoder.layer.0.attention.self.query.weight" in trainable
    _, frozen = fresh(spec, "frozen", 0)
    assert {k for k, p in frozen.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}
    _, lora = fresh(spec, "lora", 0)
    names = {k for k, p in lora.named_parameters() if p.requires_grad}
    assert any("lora_A" in k for k in names) and any("classifier" in k for k in names)
    assert not any("query.base_layer" in k for k in names)


def test_lora_checkpoint_restores_head_and_export_merges(spec):
    method, a = fresh(spec, "lora", 0)
    with torch.no_grad():
        for k, p in a.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)  # as if trained: LoRA B is no longer zero, the head moved
    state = method.trainable_state(a)
    _, b = fresh(spec, "lora", 1)  # different initialisation
    method.load_trainable_state(b, state)
    x = {"input_ids": torch.tensor([[0, 5, 6, 7, 2]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    a.eval(), b.eval()
    with torch.no_grad():
        la, lb = a(**x).logits, b(**x).logits
        merged = method.export(b).eval()(**x).logits
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(merged, la, atol=1e-5, rtol=1e-4)
    assert type(method.export(b)).__name__ == "BertMeanPoolForSequenceClassification"
