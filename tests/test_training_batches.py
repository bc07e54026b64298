"""Training batches: every text once per epoch, little padding, and (stratified) every class in every batch."""
import random
from collections import Counter

import pytest

from xlt.train import training_batches


def _length_predicts_label(n_per_class: int = 64):
    """Class 0 short, class 1 medium, class 2 long texts, as in NusaX-senti (neutral, negative, positive)."""
    rng = random.Random(1)
    labels = [c for c in range(3) for _ in range(n_per_class)]
    lengths = [rng.randint(5 + 20 * c, 25 + 20 * c) for c in labels]
    return lengths, labels


@pytest.mark.parametrize("batching", ["stratified", "length", "random"])
def test_every_text_once_per_epoch(batching):
    lengths, labels = _length_predicts_label()
    batches = training_batches(lengths, labels, 16, random.Random(0), batching)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 16 for b in batches)


def test_stratified_batches_keep_the_class_mix_and_most_of_the_padding_saving():
    lengths, labels = _length_predicts_label()

    def largest_class_share(batching):
        batches = training_batches(lengths, labels, 15, random.Random(0), batching)
        return max(Counter(labels[i] for i in b).most_common(1)[0][1] / len(b) for b in batches)

    def padded(batching):
        batches = training_batches(lengths, labels, 15, random.Random(0), batching)
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    assert largest_class_share("length") == 1.0  # sorting by length alone: batches of one class
    assert largest_class_share("stratified") <= 0.4  # 5 of each class in a batch of 15 (3 classes of 64)
    assert padded("length") < padded("stratified") < padded("random")


def test_token_labels_fall_back_to_length_batches():
    """Per-word labels have no class per text: stratified is length grouping, batch for batch."""
    lengths, _ = _length_predicts_label()
    tags = [[0] * n for n in lengths]
    assert (training_batches(lengths, tags, 16, random.Random(3), "stratified")
            == training_batches(lengths, tags, 16, random.Random(3), "length"))


def test_micro_batches_partition_the_batch_and_pad_less():
    from xlt.train import micro_batches

    lengths = [5] * 8 + [60] * 8  # two length groups in one batch: splitting saves 8 * 55 padded tokens
    batch = list(range(16))[::-1]
    pieces = micro_batches(batch, lengths, piece_cost=32)
    assert sorted(i for p in pieces for i in p) == sorted(batch)
    assert [sorted(p) for p in pieces] == [list(range(8)), list(range(8, 16))]
    assert micro_batches(batch, [30] * 16) == [batch]  # equal lengths: nothing to save, one pass
    assert micro_batches(batch, lengths, piece_cost=10_000) == [batch]  # saving below a pass's cost


@pytest.mark.parametrize("weighted", [False, True])
def test_micro_batching_gives_the_same_update_as_one_pass(tmp_path, weighted):
    """Run as pieces, a batch's gradient is the whole batch's (losses summed over the batch's normaliser):
    with dropout off, training with and without micro-batching ends at the same weights."""
    import torch
    from conftest import FILL, NEG, POS, build_tiny_bert
    from xlt.config import Training
    from xlt.data.examples import Example
    from xlt.methods import make_method
    from xlt.models import load_classifier, resolve
    from xlt.train import encode, micro_batches, train

    corpus = [" ".join(POS + NEG + FILL)] * 5
    spec = resolve(str(build_tiny_bert(tmp_path / "m", corpus, 60, hidden_dropout_prob=0.0,
                                       attention_probs_dropout_prob=0.0, xlt_pooling="mean")))
    tok = spec.tokenizer()
    rng = random.Random(0)
    rows = [Example(text=" ".join(rng.choices(FILL, k=rng.choice([2, 3, 25, 30]))) + f" {word}",
                    label="positive" if word in POS else "negative")
            for word in rng.choices(POS + NEG[:2], k=48)]  # unbalanced, for the weighted loss
    enc = encode(tok, rows, "", 64, {"negative": 0, "positive": 1})
    lengths = [len(x) for x in enc.ids]
    batches = training_batches(lengths, enc.labels, 16, random.Random(0), "stratified")
    assert any(len(micro_batches(b, lengths)) > 1 for b in batches)  # the test exercises a split

    def trained(micro_batching: str) -> dict:
        torch.manual_seed(0)
        method = make_method("full", freeze_embeddings=False)
        model = method.prepare(load_classifier(spec, 2, {0: "negative", 1: "positive"}))
        cfg = Training(epochs=2, min_steps=0, patience=0, batch_size=16, class_weighted_loss=weighted,
                       micro_batching=micro_batching, threads=1, bf16="off")  # fp32: bf16 rounding differs by shape
        result = train(model, method, tok, enc, None, cfg, 1e-3, seed=0)
        return {"loss": result.history[-1]["loss"], **{k: v.detach().clone() for k, v in model.state_dict().items()}}

    one_pass, pieces = trained("off"), trained("auto")
    assert abs(one_pass.pop("loss") - pieces.pop("loss")) < 1e-5
    moved = [k for k in one_pass if "classifier" in k or "encoder" in k]
    assert moved
    for k in moved:
        torch.testing.assert_close(pieces[k], one_pass[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("per_word_labels", [False, True])
def test_loss_normaliser_is_what_the_mean_loss_divides_by(per_word_labels):
    """Summed loss / _loss_normaliser = torch's mean cross-entropy, weighted or not, -100 ignored."""
    import torch
    from xlt.train import _loss_normaliser, batch_labels

    torch.manual_seed(0)
    labels = [[0, 2, -100], [1, 1, 2]] if per_word_labels else [0, 2, 2, 1]
    y = batch_labels(labels, 3).reshape(-1)
    logits = torch.randn(len(y), 3)
    for weight in (None, torch.tensor([0.5, 2.0, 1.0])):
        mean = torch.nn.CrossEntropyLoss(weight=weight)(logits, y)
        summed = torch.nn.CrossEntropyLoss(weight=weight, reduction="sum")(logits, y)
        torch.testing.assert_close(summed / _loss_normaliser(labels, weight), mean)


def test_a_frozen_feature_does_not_depend_on_the_texts_encoded_with_it(tiny_model_dir):
    """A resumed run encodes other sets of texts together than an uninterrupted one: each text's frozen
    feature must come out the same, bit for bit, whatever else is in its batch."""
    import torch

    from conftest import synthetic_rows
    from xlt.models import load_classifier, resolve
    from xlt.train import _FEATURES, pooled_features

    spec = resolve(str(tiny_model_dir))
    tok = spec.tokenizer()
    torch.manual_seed(0)
    model = load_classifier(spec, 2, {0: "a", 1: "b"})
    texts = [t for t, _ in synthetic_rows(60, 5)] + ["a much longer text " * k for k in range(1, 9)]
    ids = tok(texts, truncation=True, max_length=100)["input_ids"]
    _FEATURES.clear()
    alone = pooled_features(model, tok, ids[:30]).clone()
    _FEATURES.clear()
    mixed = pooled_features(model, tok, ids[40:] + ids[:30][::-1], batch_size=7)[-30:].flip(0).clone()
    _FEATURES.clear()
    assert torch.equal(alone, mixed)
