"""The preprocessing ablation: the same runs with the configured text cleaning and without it.

The runs without cleaning live in RUN_DIR/without-preprocessing (their own store and report); here
they are paired with the main runs by (method, language, strategy, N, seed). The row filters (short
posts counted on the text as written, duplicates of the cleaned text) decide the same way in both arms
and identifier scrubbing stays on, so the arms see the same posts; test sizes are shown as a check.
"""
from __future__ import annotations

from xlt.evaluate.compare import paired_test, score
from xlt.protocol.strategies import is_reference
from xlt.report.tables import fmt, group, row_name, sort_key


def _key(r: dict) -> tuple:
    return r["method"], f"{r['dataset']}/{r['language']}", r["strategy"], r["n"], r["seed"]


def ablation_table(with_runs: list[dict], without_runs: list[dict], methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Macro-F1 with and without cleaning per language and setting, and their difference."""
    header = ["Method", "Language", "Setting", "With cleaning", "Without", "Difference (with - without)",
              "Test n with / without", "Seeds paired"]
    without = {_key(r): r for r in without_runs}
    rows = []
    for m in methods:
        for (lang, strategy, n), rs in sorted(group([r for r in with_runs if r["method"] == m]).items(),
                                              key=lambda kv: (kv[0][0], sort_key(kv[0]))):
            pairs = [(r, without[_key(r)]) for r in rs if _key(r) in without]
            if not pairs:
                continue
            a, b = [score(x) for x, _ in pairs], [score(y) for _, y in pairs]
            rows.append([m, lang, row_name(strategy, n), fmt(a), fmt(b), fmt([x - y for x, y in zip(a, b)]),
                         f"{pairs[0][0]['metrics']['n']} / {pairs[0][1]['metrics']['n']}", str(len(pairs))])
    return header, rows


def ablation_test(with_runs: list[dict], without_runs: list[dict], method: str) -> dict | None:
    """Paired tests of with - without over every (language, setting, seed) of one method."""
    without = {_key(r): r for r in without_runs}
    pairs = [(score(r), score(without[_key(r)])) for r in with_runs
             if r["method"] == method and not is_reference(r["strategy"]) and _key(r) in without]
    if not pairs:
        return None
    return paired_test([a for a, _ in pairs], [b for _, b in pairs])
