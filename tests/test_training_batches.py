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
