"""Stratified splits and nested, seeded, stratified k-shot samples."""
from __future__ import annotations

import random
from collections import defaultdict

from xlt.data.examples import Example
from xlt.errors import XltError


def stratified_split(rows: list[Example], ratios: dict[str, float], seed: int) -> dict[str, list[Example]]:
    """Split rows into named parts with the given ratios (e.g. 70/15/15), stratified by label."""
    from sklearn.model_selection import train_test_split

    total = sum(ratios.values())
    names = list(ratios)
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.label] += 1
    small = {k: v for k, v in counts.items() if v < len(names)}
    if small:
        raise XltError(f"cannot split stratified: classes {small} have fewer examples than the {len(names)} splits")
    out, rest, rest_share = {}, list(rows), total
    for name in names[:-1]:
        share = ratios[name] / rest_share
        part, rest = train_test_split(rest, train_size=share, stratify=[r.label for r in rest], random_state=seed)
        out[name] = part
        rest_share -= ratios[name]
    out[names[-1]] = rest
    return out


def stratified_order(rows: list[Example], seed: int) -> list[Example]:
    """A seeded ordering of rows whose every prefix is as close to stratified as possible.

    Taking the first N gives the N-shot sample, so samples are nested (the 100 are inside the 250)
    by construction. At each position the class furthest behind its share is chosen.
    """
    rng = random.Random(seed)
    by_class: dict[str, list[Example]] = defaultdict(list)
    for r in rows:
        by_class[r.label].append(r)
    classes = sorted(by_class)
    for c in classes:
        rng.shuffle(by_class[c])
    share = {c: len(by_class[c]) / len(rows) for c in classes}
    taken = {c: 0 for c in classes}
    order = []
    for t in range(len(rows)):
        open_classes = [c for c in classes if taken[c] < len(by_class[c])]
        c = max(open_classes, key=lambda c: (share[c] * (t + 1) - taken[c], -classes.index(c)))
        order.append(by_class[c][taken[c]])
        taken[c] += 1
    return order


def k_shot(rows: list[Example], n: int, seed: int) -> list[Example]:
    """The nested, stratified N-example sample for this seed; clear errors when it cannot exist."""
    if n > len(rows):
        raise XltError(f"few-shot N={n} is larger than the {len(rows)} training examples available; "
                       f"lower protocol.shots to at most {len(rows)}")
    labels = {r.label for r in rows}
    if n < len(labels):
        raise XltError(f"few-shot N={n} is smaller than the number of classes ({len(labels)}); "
                       "each class needs at least one example")
    sample = stratified_order(rows, seed)[:n]
    missing = labels - {r.label for r in sample}
    if missing:
        raise XltError(f"few-shot N={n} leaves classes {sorted(missing)} without examples; raise N")
    return sample
