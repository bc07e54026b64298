"""Measured transfer for the learned ranker, read from xlt output folders: each zero-shot run's score by
(source, target), mean over seeds, of the first method in the folder (a transfer-matrix study, or any run
folder with one source); and the commands' two jobs: rank one target's candidates, evaluate both rankers
leave-one-target-out."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from xlt.errors import XltError

ENGLISH = "eng"
WITHIN = 0.02 + 1e-9  # "within 2 points of the best source" (scores are fractions); the epsilon absorbs rounding


def measured_transfer(run_dirs: list[Path]) -> dict[str, dict[str, float]]:
    """target key -> {source key: mean zero-shot score} over every folder given; a `.csv` file among them
    gives measured pairs directly (`read_transfer_csv`), e.g. a published transfer matrix."""
    from xlt.evaluate.compare import score
    from xlt.protocol.strategies import plain_transfer
    from xlt.protocol.study import read_study
    from xlt.report.study import study_runs
    from xlt.store import Store

    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for d in run_dirs:
        d = Path(d)
        if d.suffix == ".csv":
            for (target, source), value in read_transfer_csv(d).items():
                cells[(target, source)].append(value)
            continue
        study = read_study(d)
        if study is not None:
            by_name = {g["name"]: g["sources"] for g in study["groups"]}
            runs = [(by_name[r["sources"]], r) for r in study_runs(d, study)]
        elif (d / "results.sqlite").exists():
            store = Store(d / "results.sqlite")
            try:
                source = store.meta("experiment", {}).get("source")
                runs = [([source], r) for r in store.runs("done")]
            finally:
                store.close()
        else:
            raise XltError(f"{d} holds no xlt results (results.sqlite or study.json); give an `xlt run` output folder")
        methods = list(dict.fromkeys(r["method"] for _, r in runs))
        for sources, r in runs:
            if r["strategy"] == plain_transfer() and r["method"] == methods[0] and len(sources) == 1:
                cells[(f"{r['dataset']}/{r['language']}", sources[0])].append(score(r))
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (target, source), scores in cells.items():
        out[target][source] = sum(scores) / len(scores)
    return dict(out)


def read_transfer_csv(path: Path) -> dict[tuple[str, str], float]:
    """(target key, source key) -> score from a CSV with the header `source,target,score`: keys as
    dataset/language, scores as fractions (0.725, not 72.5), one row per pair. Anything else is an error
    naming the line, so no pair is guessed."""
    import csv

    if not path.is_file():
        raise XltError(f"{path}: no such file; give a CSV of measured transfer (source,target,score)")
    from xlt.files import read_utf8

    lines = [(n, line) for n, line in enumerate(read_utf8(path).splitlines(), 1)
             if line.strip() and not line.startswith("#")]  # comment lines are skipped; n is the file's line
    rows = list(zip([n for n, _ in lines], csv.reader(line for _, line in lines)))
    header = [c.strip() for c in rows[0][1]] if rows else None
    if header != ["source", "target", "score"]:
        raise XltError(f"{path}: the header must be source,target,score (got {header}); one row per measured "
                       "pair, keys as dataset/language")
    out: dict[tuple[str, str], float] = {}
    for n, cells in rows[1:]:
        where = f"{path}, line {n}"
        if len(cells) != 3:
            raise XltError(f"{where}: give three fields, source,target,score (got {len(cells)})")
        source, target, raw = (c.strip() for c in cells)
        if "/" not in source or "/" not in target:
            raise XltError(f"{where}: give languages as dataset/language, e.g. nusax-senti/jav")
        try:
            value = float(raw)
        except ValueError:
            raise XltError(f"{where}: score {raw!r} is not a number") from None
        if not 0 <= value <= 1:
            raise XltError(f"{where}: score {value} is not a fraction; give scores from 0 to 1 (72.5% as 0.725)")
        if (target, source) in out:
            raise XltError(f"{where}: {source} -> {target} is listed twice; keep one row per pair")
        out[(target, source)] = value
    if not out:
        raise XltError(f"{path}: no measured pairs under the header source,target,score")
    return out


def config_languages(exps: list) -> tuple[dict, list[str]]:
    """(key -> DataSource of every language these configs name, their sources' keys): FeatureTable's
    `settings` and `rank-sources`' candidates. A source keeps the settings it was trained with (its
    train_limit, label_map) even where another config reads it as a target; a target, your own files among
    them, is added where no source has its key."""
    from xlt.protocol.study import source_groups, source_key

    groups = [g for exp in exps for g in source_groups(exp)]
    settings: dict = {}
    for ds in [s for g in groups for s in ([g.exp.source] if g.exp.source else g.exp.sources.data)]:
        settings.setdefault(source_key(ds), ds)
    sources = list(settings)
    for ds in [t for g in groups for t in g.exp.targets]:
        settings.setdefault(source_key(ds), ds)
    return settings, sources


def run_configs(run_dirs: list[Path]) -> list:
    """The resolved config of each output folder that has one (a CSV of measured transfer has none)."""
    from xlt.config import load_config

    return [load_config(Path(d) / "config.resolved.yaml") for d in run_dirs
            if (Path(d) / "config.resolved.yaml").exists()]


def load_named(key: str, data_dir: str | None, source=None):
    """A named benchmark's language ("dataset/language") through the data pipeline: with the settings of
    `source` (a DataSource) where given, else the defaults."""
    from xlt.config import DataSource, Preprocess
    from xlt.data.pipeline import load_language

    if "/" not in key:
        raise XltError(f"{key!r}: give languages as dataset/language, e.g. nusax-senti/jav (`xlt data list`)")
    dataset, language = key.split("/", 1)
    if source is None:
        from xlt.data.registry import DATASETS

        if dataset not in DATASETS:
            raise XltError(f"{key!r} is not a named dataset's language (`xlt data list`). For your own files, "
                           "give --config with a config that names them (sources: or targets:) and use their "
                           "key, name/language, e.g. mydata/jav")
    return load_language(source or DataSource(dataset=dataset, language=language), Preprocess(), data_dir)[0]


class FeatureTable:
    """Pair features, each language loaded and tokenised once. `settings` (key -> DataSource) gives the data
    settings a source was trained with where they are not the defaults (a train_limit, a label_map), so that
    its size and label features describe the data that was used."""

    def __init__(self, model: str, data_dir: str | None, warn=print, settings: dict | None = None):
        from xlt.models import resolve

        self.tokenizer = resolve(model).tokenizer()
        self.data_dir, self.warn, self.settings = data_dir, warn, settings or {}
        self._data: dict = {}
        self._profiles: dict = {}
        self._warned: set = set()

    def language(self, key: str):
        if key not in self._data:
            from xlt.ranking.features import text_profile, uriel_code

            data = self._data[key] = load_named(key, self.data_dir, self.settings.get(key))
            self._profiles[key] = text_profile(self.tokenizer, data)
            if uriel_code(data.language) is None and data.language not in self._warned:
                self._warned.add(data.language)
                self.warn(f"warning: lang2vec (URIEL) does not know {data.language!r}; its pairs are ranked on the "
                          "other features (subword overlap, size, labels)")
        return self._data[key]

    def pair(self, source: str, target: str) -> dict:
        from xlt.ranking.features import pair_features

        s, t = self.language(source), self.language(target)
        return pair_features(s, t, self._profiles[source], self._profiles[target])


def ranking_groups(measured: dict[str, dict[str, float]], table: FeatureTable) -> dict[str, tuple[list, list]]:
    """target -> (each candidate source's features, its measured score), candidates in sorted order; targets
    with fewer than two measured sources say nothing about order and are left out."""
    return {t: ([table.pair(s, t) for s in sorted(row)], [row[s] for s in sorted(row)])
            for t, row in measured.items() if len(row) >= 2}


def learned_ranker(measured: dict[str, dict[str, float]], groups: dict, target: str, seed: int = 0,
                   record: bool = False, langrank: bool = False):
    """The learned ranker for `target`, trained on every other measured target (`groups`, from
    ranking_groups) on the pair features; with `langrank`, on the rest of LANGRANK's features too. With
    `record`, it also reads each source's record: for a training target, computed without that target and
    without `target`, so training sees what ranking `target` will see."""
    from xlt.ranking.rankers import LANGRANK_FEATURES, PAIR_FEATURES, train_ranker, with_record

    features = [*(LANGRANK_FEATURES if langrank else PAIR_FEATURES), *(["source_record"] if record else [])]
    others = [o for o in groups if o != target]
    return train_ranker([(with_record(groups[o][0], sorted(measured[o]), measured, {o, target}) if record
                          else groups[o][0], groups[o][1]) for o in others], seed, features)


def evaluate(measured: dict[str, dict[str, float]], table: FeatureTable, seed: int = 0) -> dict:
    """Leave-one-target-out: the learned ranker trained on every other target, with and without the sources'
    records; NDCG@3, regret, and whether the top-1 is within 2 points of the best source, for heuristic,
    learned, English-always and random."""
    from xlt.ranking.rankers import heuristic_scores, ndcg_at_k, random_baseline, regret, with_record

    groups = ranking_groups(measured, table)
    targets = sorted(groups)
    feats = {t: groups[t][0] for t in targets}
    scores = {t: groups[t][1] for t in targets}
    rows = []
    for t in targets:
        preds = {"heuristic": heuristic_scores(feats[t]),
                 "learned": learned_ranker(measured, groups, t, seed).scores(feats[t]),
                 "learned_record": learned_ranker(measured, groups, t, seed, record=True).scores(
                     with_record(feats[t], sorted(measured[t]), measured, {t})),
                 "learned_langrank": learned_ranker(measured, groups, t, seed, langrank=True).scores(feats[t]),
                 "english": [1.0 if s.endswith("/" + ENGLISH) else 0.0 for s in sorted(measured[t])]}
        row = {"target": t, "candidates": len(scores[t]), "best": sorted(measured[t])[scores[t].index(max(scores[t]))],
               "best_score": max(scores[t])}
        for name, pred in preds.items():
            top = sorted(measured[t])[max(range(len(pred)), key=lambda i: pred[i])]
            miss = regret(pred, scores[t])
            row[name] = {"top1": top, "ndcg3": ndcg_at_k(pred, scores[t]), "regret": miss,
                         "within_2_points": float(miss <= WITHIN)}
        n, r = random_baseline(scores[t], seed=seed)
        near = sum(s >= max(scores[t]) - WITHIN for s in scores[t]) / len(scores[t])  # a uniform top-1's chance
        row["random"] = {"top1": "", "ndcg3": n, "regret": r, "within_2_points": near}
        rows.append(row)
    summary = {}
    for name in (*preds, "random"):
        vals = [row[name] for row in rows]
        summary[name] = {"ndcg3": sum(v["ndcg3"] for v in vals) / len(vals),
                         "regret": sum(v["regret"] for v in vals) / len(vals),
                         "within_2_points": sum(v["within_2_points"] for v in vals) / len(vals)}
    return {"targets": rows, "summary": summary}


def dump(result: dict) -> str:
    return json.dumps(result, indent=1)
