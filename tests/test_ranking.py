"""Source-language ranking: URIEL distances from lang2vec's bundled files, pair features, the heuristic,
the learned ranker and its metrics, and a language URIEL does not know (a warning, ranking goes on)."""
from __future__ import annotations

import pytest
from conftest import SHARED_DATA, cli_in_process, needs_shared_data

from xlt.data.examples import Example, LanguageData
from xlt.ranking.features import (LANGRANK_EXTRA, PAIR_FEATURES, TextProfile, pair_features, uriel_code,
                                  uriel_distances, word_profile)
from xlt.ranking.rankers import heuristic_scores, ndcg_at_k, random_baseline, regret, relevance, train_ranker


def test_uriel_distances_know_close_and_far_languages():
    close, far = uriel_distances("jav", "sun"), uriel_distances("jav", "eng")
    assert close["genetic"] < far["genetic"] and close["geographic"] < far["geographic"]
    assert uriel_code("swa") == "swh"  # a macrolanguage code URIEL files under its individual language
    assert all(v is None for v in uriel_distances("xyz", "eng").values())
    assert uriel_distances("jav", "sun")["featural"] < uriel_distances("jav", "eng")["featural"]


def _lang(code: str, labels=("neg", "pos"), n: int = 20) -> LanguageData:
    rows = [Example(f"{code} text {i}", labels[i % len(labels)]) for i in range(n)]
    return LanguageData("toy", code, {"train": rows, "validation": rows[:4], "test": rows[:4]})


def _profile(data: LanguageData, subwords: str) -> TextProfile:
    return TextProfile(frozenset(subwords), *word_profile(data))


def _pair(source: LanguageData, target: LanguageData, subwords_s: str = "abc", subwords_t: str = "bcd") -> dict:
    return pair_features(source, target, _profile(source, subwords_s), _profile(target, subwords_t))


def test_pair_features_and_a_language_uriel_does_not_know():
    feats = _pair(_lang("xyz", ("neg", "pos", "neu")), _lang("jav"))
    assert set(feats) == set(PAIR_FEATURES) | set(LANGRANK_EXTRA)
    assert feats["subword_overlap"] == pytest.approx(2 / 6) and feats["label_overlap"] == pytest.approx(2 / 3)
    assert feats["genetic"] is None and feats["featural"] is None
    # LANGRANK's text features: words "xyz", "text", "0".."19" on one side, "jav", ... on the other
    assert feats["word_overlap"] == pytest.approx(21 / 44) and feats["ttr_source"] == pytest.approx(22 / 60)
    assert feats["ttr_distance"] == 0 and feats["size_ratio"] == 0
    assert _pair(_lang("xyz", n=40), _lang("jav"), "", "")["size_ratio"] > 0
    known = _pair(_lang("sun"), _lang("jav"))
    scores = heuristic_scores([feats, known])  # the unknown language is ranked on the other features
    assert scores[1] > scores[0]


def test_feature_table_warns_once_for_an_unknown_language(monkeypatch):
    from xlt.ranking import results

    monkeypatch.setattr(results, "load_named", lambda key, data_dir, source=None: _lang(key.split("/")[1]))
    warnings = []
    table = results.FeatureTable("embedded:multilingual-e5-small", None, warn=warnings.append)
    table.pair("toy/xyz", "toy/jav")
    table.pair("toy/xyz", "toy/sun")
    assert len(warnings) == 1 and "'xyz'" in warnings[0] and "other features" in warnings[0]


def test_feature_table_describes_a_source_by_the_data_it_was_trained_on(monkeypatch):
    """A matrix trained on 3,500 sentences of each source: its size feature is that budget, not the split's."""
    import math

    from xlt.config import DataSource
    from xlt.ranking import results

    def load(key, data_dir, source=None):
        return _lang(key.split("/")[1], n=source.train_limit if source is not None else 40)

    monkeypatch.setattr(results, "load_named", load)
    used = {"toy/sun": DataSource(dataset="nusax-senti", language="sun", train_limit=10)}
    table = results.FeatureTable("embedded:multilingual-e5-small", None, warn=lambda m: None, settings=used)
    assert table.pair("toy/sun", "toy/jav")["source_size"] == pytest.approx(math.log(10))
    assert table.pair("toy/ace", "toy/jav")["source_size"] == pytest.approx(math.log(40))


def test_ranking_metrics():
    measured = [0.50, 0.70, 0.60, 0.40]
    assert relevance(measured) == [1, 3, 2, 0]
    assert ndcg_at_k(measured, measured) == pytest.approx(1.0)
    assert ndcg_at_k([0, 0, 0, 1], measured) < 1  # the worst source first
    assert regret([1, 0, 0, 0], measured) == pytest.approx(0.20) and regret(measured, measured) == 0
    n, r = random_baseline(measured, draws=2000)
    assert 0 < n < 1 and r == pytest.approx((0.2 + 0 + 0.1 + 0.3) / 4, abs=0.02)


def test_the_learned_ranker_learns_a_feature_that_predicts_transfer():
    import random

    rng = random.Random(0)
    groups = []
    for _ in range(12):  # per target, transfer tracks subword overlap; the other features are noise
        feats = [{k: rng.random() for k in PAIR_FEATURES} for _ in range(6)]
        groups.append((feats, [f["subword_overlap"] for f in feats]))
    ranker = train_ranker(groups[:10])
    held_out = [ndcg_at_k(ranker.scores(f), s) for f, s in groups[10:]]
    assert min(held_out) > 0.8


def test_evaluation_counts_a_random_top1_within_2_points_by_its_chance():
    """A random order's top-1 is one candidate drawn uniformly: its chance of landing within 2 points of the
    best is the share of candidates that are, not whether its expected regret is under 2 points."""
    import random

    from xlt.ranking.results import evaluate

    class Table:  # features without data: noise, so only the measured scores matter here
        rng = random.Random(0)

        def pair(self, source, target):
            return {k: self.rng.random() for k in PAIR_FEATURES}

    scores = {"x/eng": 0.70, "x/aaa": 0.69, "x/bbb": 0.60, "x/ccc": 0.50}  # two of four within 2 points
    measured = {f"x/t{i}": dict(scores) for i in range(4)}
    summary = evaluate(measured, Table())["summary"]
    assert summary["random"]["within_2_points"] == pytest.approx(0.5)
    assert summary["english"]["within_2_points"] == 1.0 and summary["english"]["regret"] == 0


@needs_shared_data()
def test_rank_sources_describes_sources_by_the_data_the_runs_trained_on(tmp_path):
    """What `xlt rank-sources --train-from` reads: each source's data settings from the output folder's
    resolved config, so a source trained on a sample is described by it; without runs, the whole split."""
    import math

    import yaml

    from xlt.config import parse_config
    from xlt.ranking.results import config_languages, run_configs

    exp = parse_config({"name": "m", "task": "classification", "targets": {"dataset": "nusax-senti",
                        "languages": ["jav"]}, "sources": {"dataset": "nusax-senti", "languages": ["sun", "ind"],
                        "train_limit": 100, "combine": "each"}})
    (tmp_path / "config.resolved.yaml").write_text(yaml.safe_dump(exp.resolved(), sort_keys=False))
    settings = config_languages(run_configs([tmp_path]))[0]
    assert sorted(settings) == ["nusax-senti/ind", "nusax-senti/jav", "nusax-senti/sun"]  # the target too
    assert {settings[k].train_limit for k in ("nusax-senti/ind", "nusax-senti/sun")} == {100}
    as_source = parse_config({"name": "j", "task": "classification", "targets": {"dataset": "nusax-senti",
                              "languages": ["sun"]}, "source": {"dataset": "nusax-senti", "language": "jav",
                                                               "train_limit": 50}})
    assert config_languages([exp, as_source])[0]["nusax-senti/jav"].train_limit == 50  # a source wins
    res = cli_in_process("rank-sources", "nusax-senti/jav", "--candidates", "nusax-senti/sun,nusax-senti/bug",
                         "--data-dir", SHARED_DATA)
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if line.split()[:1] in (["1"], ["2"])]
    assert sorted(r[1] for r in rows) == ["bug", "sun"]
    assert round(math.exp(float(rows[0][-2]))) == 500  # without runs: the whole train split (500 rows)


def test_a_sources_record_never_reads_the_target_being_ranked():
    """The learned ranker's `source_record`: each source's standing on the other measured targets. The
    excluded target's own results cannot move it, and a source measured nowhere else has none."""
    from xlt.ranking.rankers import source_record

    measured = {"x/t1": {"x/a": 0.8, "x/b": 0.6}, "x/t2": {"x/a": 0.7, "x/b": 0.5, "x/c": 0.6},
                "x/t3": {"x/c": 0.9, "x/d": 0.1}}
    record = source_record(measured, {"x/t3"})
    assert record["x/a"] > 0 > record["x/b"] and "x/d" not in record
    flipped = {**measured, "x/t3": {"x/c": 0.1, "x/d": 0.9}}
    assert source_record(flipped, {"x/t3"}) == record
    assert source_record(measured, set())["x/d"] < 0


def test_the_learned_ranker_with_records_finds_a_source_good_for_most_targets():
    """Where one source transfers best to every target and the pair features are noise, only the record
    can tell: leave-one-target-out, the ranker reading it picks that source for every held-out target."""
    import random

    from xlt.ranking.results import evaluate

    class Table:
        rng = random.Random(0)

        def pair(self, source, target):
            return {k: self.rng.random() for k in PAIR_FEATURES}

    rng = random.Random(1)
    sources = [f"x/s{i}" for i in range(6)]
    measured = {f"x/t{j}": {s: (0.9 if s == "x/s3" else 0.5 + 0.2 * rng.random()) for s in sources}
                for j in range(10)}
    summary = evaluate(measured, Table())["summary"]
    assert summary["learned_record"]["within_2_points"] == 1.0
    assert summary["learned_record"]["regret"] == 0


def test_record_without_measured_transfer_is_one_clear_error():
    res = cli_in_process("rank-sources", "nusax-senti/jav", "--record")
    assert res.returncode == 2
    assert res.stderr.strip() == ("xlt: error: --record changes the learned ranker, which learns from measured "
                                  "transfer: give --train-from RUN_DIR (an output folder, or a CSV of measured "
                                  "transfer)")
    res = cli_in_process("rank-sources", "nusax-senti/jav", "--langrank")
    assert res.returncode == 2 and res.stderr.startswith("xlt: error: --langrank") and "--train-from" in res.stderr


def test_measured_transfer_from_a_csv_and_its_errors(tmp_path):
    """`--train-from` also reads measured transfer from a CSV (a published matrix): fractions, one row per pair;
    a percent score, a repeated pair, a wrong header or a bare language code is one error naming the line."""
    from xlt.errors import XltError
    from xlt.ranking.results import measured_transfer

    good = tmp_path / "m.csv"
    good.write_text("# a comment line\nsource,target,score\nx/a,x/t,0.7\nx/b,x/t,0.5\nx/a,x/u,0.6\n")
    assert measured_transfer([good]) == {"x/t": {"x/a": 0.7, "x/b": 0.5}, "x/u": {"x/a": 0.6}}
    bad = {"source,target,score\nx/a,x/t,72.5\n": "line 2: score 72.5 is not a fraction",
           "# note\nsource,target,score\nx/a,x/t,0.7\nx/a,x/t,0.6\n": "line 4: x/a -> x/t is listed twice",
           "src,tgt,f1\nx/a,x/t,0.7\n": "the header must be source,target,score",
           "source,target,score\na,x/t,0.7\n": "line 2: give languages as dataset/language",
           "source,target,score\nx/a,x/t,n/a\n": "line 2: score 'n/a' is not a number"}
    for text, message in bad.items():
        good.write_text(text)
        with pytest.raises(XltError, match=message):
            measured_transfer([good])
    good.write_bytes("\ufeffsource,target,score\nx/a,x/t,0.7\n".encode())  # a spreadsheet's byte-order mark
    assert measured_transfer([good]) == {"x/t": {"x/a": 0.7}}
    good.write_bytes(b"source,target,score\nx/a,x/t,0.5\xff\n")
    res = cli_in_process("rank-sources", "x/t", "--train-from", good)
    assert res.returncode == 2 and "is not valid UTF-8 (byte 31); re-save it as UTF-8" in res.stderr, res.stderr
    res = cli_in_process("rank-sources", "x/t", "--train-from", tmp_path / "missing.csv")
    assert res.returncode == 2 and "missing.csv: no such file" in res.stderr


@needs_shared_data()
def test_rank_sources_shows_the_targets_measured_scores_without_reading_them(tmp_path):
    """Where --train-from measured the target itself, its scores are printed beside the ranks; the ranker
    (records included) is trained and scored without them, so changing them changes no rank or score."""
    langs = ["ace", "ban", "bjn", "jav", "sun"]

    def score(i: int, j: int, flip: bool) -> float:  # source i -> target j; flipped: jav's column reversed
        return 0.9 - 0.05 * i if flip and langs[j] == "jav" else 0.5 + 0.05 * i + 0.01 * j

    ranks = []
    for flip in (False, True):
        rows = [f"nusax-senti/{s},nusax-senti/{t},{score(i, j, flip):.3f}"
                for j, t in enumerate(langs) for i, s in enumerate(langs) if s != t]
        csv = tmp_path / f"m{flip}.csv"
        csv.write_text("source,target,score\n" + "\n".join(rows) + "\n")
        res = cli_in_process("rank-sources", "nusax-senti/jav", "--train-from", csv, "--record", "--candidates",
                             "nusax-senti/ace,nusax-senti/ban,nusax-senti/sun", "--data-dir", SHARED_DATA)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[1].split()[-1] == "measured"
        ranks.append([line.split()[:3] for line in lines[2:]])
        measured = {line.split()[1]: float(line.split()[-1]) for line in lines[2:]}
        assert measured["sun"] == pytest.approx(score(4, 3, flip))
    assert ranks[0] == ranks[1]


@needs_shared_data()
def test_rank_sources_ranks_your_own_files_named_by_a_config(tmp_path):
    """Own files have no registry entry: `--config` names them, by the key runs give them (name/language),
    for both rankers; without it the key is one error that says to give it."""
    import csv
    import math

    import yaml

    langs = {"sun": "sundanese", "bug": "buginese", "jav": "javanese"}
    for code, folder in langs.items():
        with open(SHARED_DATA / "nusax-senti" / folder / "train.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))[:90]
        for split, part in (("train", rows[:60]), ("validation", rows[60:75]), ("test", rows[75:])):
            with open(tmp_path / f"{code}-{split}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=["id", "text", "label"])
                w.writeheader()
                w.writerows(part)

    def own(code: str) -> str:
        files = ", ".join(f"{split}: {code}-{split}.csv" for split in ("train", "validation", "test"))
        return f"{{files: {{{files}}}, language: {code}, name: my{code}, text: text, label: label}}"

    (tmp_path / "study.yaml").write_text(
        "name: own\ntask: classification\nmethod: {name: frozen}\n"
        f"sources: {{combine: each, data: [{own('sun')}, {own('bug')}]}}\ntargets: [{own('jav')}]\n")
    res = cli_in_process("rank-sources", "myjav/jav", "--config", "study.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines()[2:]]
    assert sorted(r[1] for r in rows) == ["mybug/bug", "mysun/sun"]  # the config's sources, by key
    assert round(math.exp(float(rows[0][-2]))) == 60  # each described by its own training file
    top = cli_in_process("rank-sources", "myjav/jav", "--config", "study.yaml", "--top", "1", cwd=tmp_path)
    block = yaml.safe_load(top.stdout.split("\n# the top 1")[1].split("\n", 1)[1])  # pasteable as it is
    first = rows[0][1].split("/")[1]
    assert block["sources"]["data"][0]["files"]["train"] == f"{first}-train.csv"
    bare = cli_in_process("rank-sources", "myjav/jav", cwd=tmp_path)
    assert bare.returncode == 2 and "--config" in bare.stderr and "Traceback" not in bare.stderr

    keys = {c: f"my{c}/{c}" for c in langs}
    pairs = [(s, t) for s in langs for t in langs if s != t]
    (tmp_path / "m.csv").write_text("source,target,score\n" + "".join(
        f"{keys[s]},{keys[t]},{0.5 + 0.1 * (s == 'sun'):.2f}\n" for s, t in pairs))
    learned = cli_in_process("rank-sources", "myjav/jav", "--config", "study.yaml", "--train-from", "m.csv",
                             cwd=tmp_path)
    assert learned.returncode == 0, learned.stderr
    assert "learned ranker" in learned.stdout.splitlines()[0]
    full = cli_in_process("rank-sources", "myjav/jav", "--config", "study.yaml", "--train-from", "m.csv",
                          "--langrank", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    header = full.stdout.splitlines()[1]
    assert "words" in header and "featural" in header and "words" not in learned.stdout.splitlines()[1]
    evaluated = cli_in_process("rank-sources", "myjav/jav", "--config", "study.yaml", "--train-from", "m.csv",
                               "--evaluate", cwd=tmp_path)
    assert evaluated.returncode == 0 and "over 3 targets" in evaluated.stdout, evaluated.stderr


@needs_shared_data()
def test_the_python_api_returns_what_rank_sources_prints(tmp_path):
    """`xlt.rank_sources` and `xlt.evaluate_rankers`: the CLI's rankings as DataFrames, best first."""
    import xlt

    ranks = xlt.rank_sources("nusax-senti/jav", ["nusax-senti/sun", "nusax-senti/bug", "nusax-senti/ind"],
                             data_dir=SHARED_DATA)
    assert list(ranks.index) == [1, 2, 3] and ranks.attrs["ranker"] == "zero-data heuristic"
    assert ranks["score"].is_monotonic_decreasing and set(PAIR_FEATURES) <= set(ranks.columns)
    cli = cli_in_process("rank-sources", "nusax-senti/jav", "--candidates",
                         "nusax-senti/sun,nusax-senti/bug,nusax-senti/ind", "--data-dir", SHARED_DATA)
    printed = [line.split()[1] for line in cli.stdout.splitlines()[2:]]
    assert printed == [k.split("/")[1] for k in ranks["source"]]
    from xlt.ranking.api import sources_block

    best = [k.split("/")[1] for k in ranks["source"][:2]]
    assert sources_block(ranks, 2) == {"sources": {"dataset": "nusax-senti", "languages": best}}

    langs = ["ace", "ban", "bjn", "jav", "sun"]
    csv = tmp_path / "m.csv"
    csv.write_text("source,target,score\n" + "".join(f"nusax-senti/{s},nusax-senti/{t},{0.5 + 0.05 * i:.2f}\n"
                                                     for t in langs for i, s in enumerate(langs) if s != t))
    summary = xlt.evaluate_rankers([csv], data_dir=SHARED_DATA)
    assert set(summary.index) == {"heuristic", "learned", "learned_record", "learned_langrank", "english", "random"}
    assert len(summary.attrs["targets"]) == 5 and summary.loc["random", "ndcg3"] < 1
