"""Strategies: what a run trains on, found by name (the config's `protocol.strategies`).

Each module here is one strategy: a `Strategy` subclass (xlt/protocol/strategies/base.py) that declares
its name, title and table order, whether it starts from the source stage, uses N shots or reads
unlabelled text, which rows it and the simple baselines train on, and its `run()`. Planning, reports,
plots and baselines read those declarations, so a new strategy is one new file (plus its test and docs).
"""
from xlt.registry import Registry

STRATEGIES: Registry = Registry("strategy", "xlt.protocol.strategies", instances=True)


def ordered() -> list:
    """Every strategy in table order (the source-language reference first)."""
    return sorted(STRATEGIES, key=lambda s: s.order)


__all__ = ["STRATEGIES", "ordered"]


def is_reference(name: str) -> bool:
    """Whether runs of this strategy score the source language (the reference, not a transfer)."""
    return STRATEGIES.get(name).scores_source


def plain_transfer() -> str:
    """The strategy that applies the source stage to a target as it is (zero-shot): what transfer matrices
    and source rankers read."""
    return next(s.name for s in ordered() if s.from_source and not (
        s.uses_shots or s.reads_unlabelled or s.needs_target_train or s.scores_source))


def table_order(name: str) -> int:
    return STRATEGIES.get(name).order
