"""A joint source: several languages' training data drawn into one training set by a sampling scheme.

Proportional sampling keeps every row once. Temperature sampling draws source i with probability
proportional to n_i^(1/tau), the smoothing XLM-R (Conneau et al., 2020) and MaChAmp (van der Goot et al.,
2021) use so that small sources are not drowned by large ones; uniform gives each source an equal share.
The set has as many rows as the sources together; a source drawn more often than it has rows is repeated
whole, then topped up with a seeded, stratified sample. Validation and test rows are concatenated (a
seeded sample of at most `eval_limit` per source): the joint model selects on every source's validation
data and its source-language reference scores every source's test data. No target row is ever read here.
"""
from __future__ import annotations

from xlt.data.examples import LanguageData
from xlt.data.splits import stratified_order
from xlt.errors import XltError

DEFAULT_TAU = 5.0


def sampling_weights(sizes: list[int], sampling: str, tau: float | None = None) -> list[float]:
    """Each source's share of the joint training set."""
    total = sum(sizes)
    if sampling == "proportional":
        raw = [n / total for n in sizes]
    elif sampling == "temperature":
        raw = [(n / total) ** (1.0 / (tau or DEFAULT_TAU)) for n in sizes]
    elif sampling == "uniform":
        raw = [1.0] * len(sizes)
    else:
        raise XltError(f"unknown sampling {sampling!r}; use proportional, temperature or uniform")
    return [r / sum(raw) for r in raw]


def draw(rows: list, count: int, seed: int) -> list:
    """`count` rows: whole copies of `rows`, then the first of a seeded, stratified order."""
    order = stratified_order(rows, seed)
    return rows * (count // len(rows)) + order[:count % len(rows)]


def check_labels_agree(parts: list[LanguageData]) -> None:
    """Every source must share one label set (a difference is an error naming it)."""
    first = parts[0]
    for p in parts[1:]:
        if p.labels != first.labels:
            only_a = sorted(set(first.labels) - set(p.labels))
            only_b = sorted(set(p.labels) - set(first.labels))
            raise XltError(f"the sources' label sets differ: {first.key()} has {first.labels} and {p.key()} has "
                           f"{p.labels} ({'only in ' + first.key() + ': ' + str(only_a) if only_a else ''}"
                           f"{'; ' if only_a and only_b else ''}"
                           f"{'only in ' + p.key() + ': ' + str(only_b) if only_b else ''}); map them to one set "
                           "with label_map in each data source (null drops rows, or for tags makes them O)")


def combine_sources(parts: list[LanguageData], name: str, sampling: str, tau: float | None,
                    eval_limit: int | None, seed: int) -> LanguageData:
    """One LanguageData drawn from `parts` (its `shares` say how much of each)."""
    check_labels_agree(parts)
    sizes = [len(p.splits["train"]) for p in parts]
    empty = [p.key() for p, n in zip(parts, sizes) if n == 0]
    if empty:
        raise XltError(f"source {empty[0]} has no training data; give its files: {{train: ...}} or drop it "
                       "from sources")
    total = sum(sizes)
    weights = sampling_weights(sizes, sampling, tau)
    counts = [round(total * w) for w in weights]
    train, shares = [], {}
    for p, n, c in zip(parts, sizes, counts):
        train += draw(p.splits["train"], c, seed)
        shares[p.key()] = {"rows": n, "drawn": c, "share": round(c / total, 4)}

    def capped(split: str) -> list:
        out = []
        for p in parts:
            rows = p.splits[split]
            out += rows if eval_limit is None or len(rows) <= eval_limit else stratified_order(rows, seed)[:eval_limit]
        return out

    datasets = {p.dataset for p in parts}
    notes = [f"joint source ({sampling}{f', tau {tau or DEFAULT_TAU:g}' if sampling == 'temperature' else ''}): "
             + ", ".join(f"{k} {v['drawn']} of {v['rows']} ({100 * v['share']:.1f}%)" for k, v in shares.items())]
    return LanguageData(datasets.pop() if len(datasets) == 1 else "multi", name,
                        {"train": train, "validation": capped("validation"), "test": capped("test")}, notes,
                        parts=list(parts), shares=shares)
