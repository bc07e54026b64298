"""Source ranking from Python: what `xlt rank-sources` prints, as tables.

    import xlt
    ranks = xlt.rank_sources("nusax-senti/jav")                                  # zero-data heuristic
    ranks = xlt.rank_sources("nusax-senti/jav", train_from=["runs/nusax-matrix"])  # learned ranker
    xlt.evaluate_rankers(["runs/nusax-matrix"])                                  # NDCG@3, regret, top-1
"""
from __future__ import annotations

from pathlib import Path

from xlt.errors import XltError

DEFAULT_MODEL = "embedded:multilingual-e5-small"


def _measured(train_from, record: bool, langrank: bool) -> dict:
    from xlt.ranking.results import measured_transfer

    measured = measured_transfer([Path(p) for p in train_from]) if train_from else {}
    for flag, on in (("--record", record), ("--langrank", langrank)):
        if on and not measured:  # first: a bad file or flag fails before the model loads
            raise XltError(f"{flag} changes the learned ranker, which learns from measured transfer: give "
                           "--train-from RUN_DIR (an output folder, or a CSV of measured transfer)")
    return measured


def _table(train_from, configs: list, model: str, data_dir: str | None, warn):
    """The feature table, each language described by the data the runs or the configs read (a source trained
    on a sample or relabelled by that data; your own files by their files)."""
    from xlt.ranking.results import FeatureTable, config_languages, run_configs

    settings = config_languages(run_configs([Path(p) for p in train_from]) + configs)[0]
    return FeatureTable(model, data_dir, warn=warn, settings=settings)


def _configs(config) -> list:
    from xlt.config import Experiment, load_config

    if config is None:
        return []
    return [config if isinstance(config, Experiment) else load_config(config)]


def rank_sources(target: str, candidates: list[str] | str | None = None, train_from=(), config=None,
                 record: bool = False, langrank: bool = False, model: str = DEFAULT_MODEL,
                 data_dir: str | None = None, warn=print):
    """Candidate sources for `target` (dataset/language, or name/language for files `config` names), best
    first: a DataFrame with the source key, its score, the features behind it and, where `train_from` measured
    this target, its measured score (never read by the ranker). `candidates`: default every other language of
    the target's dataset, or the config's sources. With `train_from` (output folders or CSVs of measured
    transfer) the learned ranker, trained without the target; else the zero-data heuristic. `df.attrs["ranker"]`
    says which."""
    import pandas as pd

    from xlt.data.registry import get_spec
    from xlt.ranking.features import PAIR_FEATURES
    from xlt.ranking.rankers import heuristic_scores, with_record
    from xlt.ranking.results import config_languages, learned_ranker, ranking_groups

    measured = _measured(train_from, record, langrank)
    configs = _configs(config)
    table = _table(train_from, configs, model, data_dir, warn)
    target_lang = table.language(target).language  # first: a malformed target key fails here, by name
    dataset = target.split("/", 1)[0]
    if candidates:
        keys = [c.strip() for c in (candidates.split(",") if isinstance(candidates, str) else candidates)]
    elif configs:
        keys = [k for k in config_languages(configs)[1] if k != target]
        if not keys:
            raise XltError(f"{config} names no source besides {target}; list candidates with --candidates")
    else:
        keys = [f"{dataset}/{code}" for code in get_spec(dataset).languages]
    keys = [k for k in keys if table.language(k).language != target_lang or k.split("/")[0] != dataset]
    feats, names = [table.pair(k, target) for k in keys], PAIR_FEATURES
    if measured:  # the target's own measured results, if any, are left out of training and of the records
        ranker = learned_ranker(measured, ranking_groups(measured, table), target, record=record,
                                langrank=langrank)
        feats = with_record(feats, keys, measured, {target}) if record else feats
        names, scores, kind = ranker.features, ranker.scores(feats), "learned ranker"
    else:
        scores, kind = heuristic_scores(feats), "zero-data heuristic"
    seen = measured.get(target, {})
    df = pd.DataFrame([{"source": k, "score": s, **{n: f[n] for n in names},
                        **({"measured": seen.get(k)} if seen else {})} for k, s, f in zip(keys, scores, feats)])
    df = df.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    df.index = pd.RangeIndex(1, len(df) + 1, name="rank")
    df.attrs["ranker"] = kind
    df.attrs["data"] = {k: table.settings.get(k) for k in keys}  # for sources_block
    return df


def sources_block(ranks, top: int) -> dict:
    """A config's `sources:` for the `top` best-ranked sources, trained together (pooled): languages of one
    named benchmark as `dataset` + `languages`, anything else (your own files, several datasets) as `data`.
    A sample size the runs trained with is left out: the ranking is about languages."""
    keys = list(ranks["source"][:top])
    datasets = {k.split("/", 1)[0] for k in keys}
    data = ranks.attrs.get("data", {})
    named = [data.get(k) is None or data[k].dataset for k in keys]
    if len(datasets) == 1 and all(named):
        return {"sources": {"dataset": datasets.pop(), "languages": [k.split("/", 1)[1] for k in keys]}}
    entries = []
    for k in keys:
        ds = data.get(k)
        entries.append(ds.model_dump(exclude_none=True, exclude={"train_limit"}) if ds is not None else
                       {"dataset": k.split("/", 1)[0], "language": k.split("/", 1)[1]})
    return {"sources": {"data": entries}}


def evaluate_rankers(train_from, config=None, model: str = DEFAULT_MODEL, data_dir: str | None = None,
                     warn=print):
    """Every ranker scored leave-one-target-out on the measured transfer in `train_from`: a DataFrame, one row
    per ranker (heuristic, learned, learned_record, learned_langrank, english, random), with NDCG@3, regret
    (fraction of the metric) and the share of targets whose top-1 is within 2 points of the best.
    `df.attrs["targets"]` holds each target's picks."""
    import pandas as pd

    from xlt.ranking.results import evaluate

    measured = _measured(train_from, False, False)
    if not measured:
        raise XltError("--evaluate scores the rankers on measured transfer: give --train-from RUN_DIR")
    res = evaluate(measured, _table(train_from, _configs(config), model, data_dir, warn))
    df = pd.DataFrame.from_dict(res["summary"], orient="index")
    df.index.name = "ranker"
    df.attrs["targets"] = res["targets"]
    return df
