"""Adaptation methods on a tiny model: which parameters train, and that a LoRA checkpoint brings
its classification head back (a known trap when LoRA meets sequence classifiers)."""
from __future__ import annotations

import pytest
import torch

from xlt.methods import make_method
from xlt.models import load_classifier, resolve


@pytest.fixture()
def spec(tiny_model_dir):
    return resolve(str(tiny_model_dir))


def fresh(spec, name, seed):
    torch.manual_seed(seed)
    method = make_method(name)
    return method, method.prepare(load_classifier(spec, 3, {0: "a", 1: "b", 2: "c"}))


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


def test_probe_head_fits_the_head_of_a_wrapped_model_before_fine_tuning(spec):
    """LP-FT's first step through peft's wrapper: the trainable head copy (the one checkpoints keep) gets
    the probe's weights, and the model then classifies its training texts as a linear probe would."""
    from conftest import synthetic_rows
    from xlt.config import Training
    from xlt.data.examples import Example
    from xlt.train import encode, head_inputs, predict_encoded, probe_head

    labels = {"negative": 0, "positive": 1}
    tok = spec.tokenizer()
    rows = [Example(text=t, label=lab) for t, lab in synthetic_rows(120, 3)]
    enc = encode(tok, rows[:90], "", 64, labels)
    val = encode(tok, rows[90:], "", 64, labels)
    torch.manual_seed(0)
    method = make_method("lora")
    model = method.prepare(load_classifier(spec, 2, {0: "negative", 1: "positive"}))
    before = {k: v.clone() for k, v in method.trainable_state(model).items() if "classifier" in k}
    pred0, _ = predict_encoded(model, tok, enc.ids)
    result = probe_head(model, tok, enc, val, Training(), seed=0)
    after = {k: v for k, v in method.trainable_state(model).items() if "classifier" in k}
    assert after.keys() == before.keys() and all(not torch.equal(before[k], after[k]) for k in after)
    pred, _ = predict_encoded(model, tok, enc.ids)
    acc = sum(int(p) == y for p, y in zip(pred, enc.labels)) / len(pred)
    acc0 = sum(int(p) == y for p, y in zip(pred0, enc.labels)) / len(pred0)
    assert acc >= 0.75 and acc >= acc0 + 0.2, (acc, acc0)  # random 32-dim features: 0.83 against 0.5
    assert result.best_val_f1 is not None and result.best_val_f1 >= 0.6  # 30 rows: 0.70 measured, chance 0.5
    # the features the probe saw are what the head sees: the untouched encoder's mean-pooled output
    from xlt.models.modeling_meanpool import mean_pool
    from xlt.train import collate
    batch = collate(enc.ids[:4], tok.pad_token_id)
    with torch.no_grad():
        hidden = model.base_model.model.bert(**batch).last_hidden_state
    torch.testing.assert_close(head_inputs(model, tok, enc.ids[:4]), mean_pool(hidden, batch["attention_mask"]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_frozen_head_is_the_logistic_regression_chosen_on_validation(n_classes):
    """The frozen method's head predicts what scikit-learn's fitted model predicts (two classes are
    stored as one row by sklearn), C comes from the validation data, and a class never seen in
    training is never predicted."""
    from sklearn.linear_model import LogisticRegression

    from xlt.methods.frozen import C_GRID, fit_logistic_head

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(n_classes, 16, generator=g) * 2
    y = [i % n_classes for i in range(300)]
    x = centres[y] + torch.randn(300, 16, generator=g) * 2  # overlapping clusters: C matters
    xv, yv, xt = x[:100], y[:100], torch.randn(200, 16, generator=g) * 3
    head = torch.nn.Linear(16, 4)  # one more output than classes: the absent class 3
    fit = fit_logistic_head(head, x[100:], y[100:], xv, yv, balanced=False, seed=0)
    assert [h["C"] for h in fit["history"]] == list(C_GRID)
    assert fit["val_macro_f1"] == max(h["val_macro_f1"] for h in fit["history"])
    ref = LogisticRegression(C=fit["C"], max_iter=3000).fit(x[100:].numpy(), y[100:])
    with torch.no_grad():
        pred = head(xt).argmax(1).tolist()
    assert pred == ref.predict(xt.numpy()).tolist()
    assert 3 not in pred and len(set(pred)) == n_classes
    # per-example weights reach the fit (few-shot refits weigh the target rows up)
    w = [5.0 if i % 7 == 0 else 1.0 for i in range(200)]
    fit_w = fit_logistic_head(head, x[100:], y[100:], None, None, balanced=False, seed=0, weights=w)
    ref_w = LogisticRegression(C=1.0, max_iter=3000).fit(x[100:].numpy(), y[100:], sample_weight=w)
    with torch.no_grad():
        assert fit_w["C"] == 1.0 and head(xt).argmax(1).tolist() == ref_w.predict(xt.numpy()).tolist()


def test_fast_dropout_keeps_rate_scale_and_seeding_and_restores_the_model(spec):
    from xlt.fast_dropout import FastDropout, effective_rate, fast_dropout

    drop = FastDropout(0.1)
    x = torch.ones(400, 1000, requires_grad=True)
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.9) < 0.003  # 400k draws: 3 SD is 0.0014
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - effective_rate(0.1))))
    assert abs(effective_rate(0.1) - 0.1) < 1e-5
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)  # dropped units get no gradient
    torch.manual_seed(0)
    assert torch.equal(drop(x) != 0, kept)  # torch.manual_seed repeats the mask
    assert torch.equal(drop.eval()(x), x)

    _, model = fresh(spec, "lora", 0)  # LoRA adds its own dropout layers (peft's lora_dropout)
    before = [type(m) for m in model.modules()]
    with fast_dropout(model):
        swapped = [m for m in model.modules() if isinstance(m, FastDropout)]
        assert swapped and not [m for m in model.modules() if type(m) is torch.nn.Dropout]
        assert any("lora_dropout" in name for name, m in model.named_modules() if isinstance(m, FastDropout))
    assert [type(m) for m in model.modules()] == before
