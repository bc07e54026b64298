"""Translators, the translation cache, translate-test and translate-train, `xlt translate` and `xlt mt-eval`."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import cli_in_process, needs_shared_data, tiny_config
from xlt.errors import XltError
from xlt.translate import TRANSLATORS, make_translator
from xlt.translate.cache import TranslationCache
from xlt.translate.rows import project_tags

HAS_APERTIUM = shutil.which("apertium") is not None and Path("/usr/share/apertium/modes/eng-spa.mode").exists()
needs_apertium = pytest.mark.skipif(not HAS_APERTIUM, reason="apertium and apertium-eng-spa are not installed "
                                    "(Debian: apt-get install apertium apertium-eng-spa; `make` does it as root)")


def _lexicon(tmp_path: Path, pairs: list[tuple[str, str]], name: str = "lex.txt") -> str:
    path = tmp_path / name
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    return str(path)


def _dictionary(tmp_path: Path, **kw):
    path = _lexicon(tmp_path, [("good", "apik"), ("day", "dina"), ("bad", "ala"), ("New York", "x"),
                               ("to eat", "mangan"), ("day", "rina")])
    return make_translator("dictionary", lexicons=[{"path": path, "language": "jav", "order": "source-target"}], **kw)


def test_every_translator_declares_what_the_registry_needs():
    assert set(TRANSLATORS.names()) >= {"apertium", "dictionary", "parallel", "hf"}
    for t in TRANSLATORS:
        assert t.config.model_fields["name"].default == t.name and isinstance(t.offline, bool)


def test_dictionary_translates_known_words_keeps_the_rest_and_keeps_case(tmp_path):
    t = _dictionary(tmp_path)
    assert t.pairs() == [("eng", "jav"), ("jav", "eng")]
    assert t.translate(["Good day, Tom! We eat."], "eng", "jav") == ["Apik dina, Tom! We mangan."]
    assert t.translate(["apik dina"], "jav", "eng") == ["good day"]  # the list read the other way
    words, alignment = t.translate_words(["Dina", "apik", "Jakarta"], "jav", "eng")
    assert (words, alignment) == (["Day", "good", "Jakarta"], [[0], [1], [2]])


def test_tags_follow_the_alignment_onto_several_words(tmp_path):
    path = _lexicon(tmp_path, [("Juma", "Juma Ali"), ("said", "alisema")])
    t = make_translator("dictionary", lexicons=[{"path": path, "language": "swa", "order": "source-target"}])
    words, alignment = t.translate_words(["Juma", "said"], "eng", "swa")
    assert words == ["Juma", "Ali", "alisema"] and alignment == [[0, 1], [2]]
    assert project_tags(("B-PER", "O"), alignment, 3) == ("B-PER", "I-PER", "O")
    assert project_tags(("NOUN", "VERB"), alignment, 3) == ("NOUN", "NOUN", "VERB")


def test_a_pair_the_translator_lacks_names_the_pairs_it_has(tmp_path):
    with pytest.raises(XltError, match=r"cannot translate eng->swa; .*it has: eng->jav, jav->eng"):
        _dictionary(tmp_path).check_pair("eng", "swa")


class Counting:
    """A translator that upper-cases and counts what reaches it."""

    name, oracle, aligns_words = "counting", False, False

    def __init__(self, version="1"):
        self.seen, self._version = [], version

    def check_pair(self, src, tgt):
        pass

    def version(self, src, tgt):
        return self._version

    def translate(self, texts, src, tgt):
        self.seen += texts
        return [t.upper() for t in texts]


def test_the_cache_translates_each_text_once_per_version(tmp_path):
    t = Counting()
    cache = TranslationCache(tmp_path / "c.sqlite")
    assert cache.translate(t, ["a", "b", "a"], "x", "y") == ["A", "B", "A"]
    assert t.seen == ["a", "b"]
    again = TranslationCache(tmp_path / "c.sqlite")  # a second process reads what the first stored
    assert again.translate(t, ["b", "a", "c"], "x", "y") == ["B", "A", "C"] and t.seen == ["a", "b", "c"]
    assert again.stats.as_dict()["cache_hits"] == 2 and again.stats.translated == 1
    assert again.translate(t, ["a"], "y", "x") == ["A"] and t.seen[-1] == "a"  # another direction
    newer = Counting(version="2")
    again.translate(newer, ["a"], "x", "y")
    assert newer.seen == ["a"]  # another version is translated again


def test_a_damaged_cache_is_one_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(XltError, match="cannot be opened.*delete it"):
        TranslationCache(path).translate(Counting(), ["a"], "x", "y")


@needs_apertium
def test_apertium_translates_an_installed_pair_and_names_the_package_of_a_missing_one(tmp_path, monkeypatch):
    t = make_translator("apertium")
    assert ("eng", "spa") in t.pairs()
    assert t.translate(["The house is red.", "", "Tom needs water."], "eng", "spa")[:2] == ["La casa es roja.", ""]
    assert "apertium-eng-spa=" in t.version("eng", "spa")
    from xlt.translate.translators import apertium

    monkeypatch.setattr(apertium, "MODES_DIR", tmp_path)  # as if the pair's package were not installed
    with pytest.raises(XltError, match="install its Debian package apertium-eng-spa"):
        t.check_pair("eng", "spa")


def test_serbian_latin_is_written_in_cyrillic():
    from xlt.translate.translators.apertium import latin_to_serbian_cyrillic

    assert latin_to_serbian_cyrillic("Ljubav i njegov džep, Đorđe") == "Љубав и његов џеп, Ђорђе"


@needs_shared_data()
def test_parallel_gives_the_gold_translation_and_refuses_a_foreign_text():
    t = make_translator("parallel", dataset="nusax-senti")
    assert t.oracle and t.label() == "parallel (oracle)"
    import csv

    from conftest import SHARED_DATA

    rows = {r["id"]: r["text"] for r in csv.DictReader(open(SHARED_DATA / "nusax-senti/javanese/test.csv"))}
    eng = {r["id"]: r["text"] for r in csv.DictReader(open(SHARED_DATA / "nusax-senti/english/test.csv"))}
    some = list(rows)[:3]
    assert t.translate([rows[i] for i in some], "jav", "eng") == [" ".join(eng[i].split()) for i in some]
    with pytest.raises(XltError, match="1 of 1 jav texts are not in nusax-senti"):
        t.translate(["not a NusaX sentence"], "jav", "eng")
    with pytest.raises(XltError, match="has no row ids shared across languages"):
        make_translator("parallel", dataset="masakhaner2")


def test_hf_translates_with_a_tiny_random_marian_model(tmp_path):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "the", "house", "is", "red", "das", "haus", "ist", "rot"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(tmp_path / "marian")
    config = MarianConfig(vocab_size=len(words), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=32, pad_token_id=0, eos_token_id=1,
                          decoder_start_token_id=0, forced_eos_token_id=1)
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(tmp_path / "marian")
    t = make_translator("hf", model=str(tmp_path / "marian"), pairs=[["eng", "deu"]], max_new_tokens=6, num_beams=2)
    cache = TranslationCache(tmp_path / "c.sqlite")
    out = cache.translate(t, ["the house is red", "the house"], "eng", "deu")
    assert len(out) == 2 and all(isinstance(o, str) for o in out)
    assert set(" ".join(out).split()) <= set(words[3:])  # random weights, but words of its vocabulary
    assert cache.translate(t, ["the house is red"], "eng", "deu") == out[:1] and cache.stats.hits == 1
    with pytest.raises(XltError, match="cannot translate deu->eng"):
        t.check_pair("deu", "eng")


def _translating_config(tiny_model_dir, tiny_data, tmp_path, out="out", **translation):
    lexicon = _lexicon(tmp_path, [("good", "good"), ("happy", "happy")], "src-tgt.txt")
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / out, method={"name": "frozen"}, baselines=["tfidf-lr"])
    cfg["protocol"]["strategies"] = ["zero_shot", "translate_test", "translate_train"]
    cfg["translation"] = {"translator": {"name": "dictionary", "pivot": "src", "lexicons": [
        {"path": lexicon, "language": "tgt", "order": "source-target"}]}, "cache": str(tmp_path / "cache.sqlite"),
        **translation}
    return cfg


def test_translate_rows_beside_zero_shot_name_the_translator_and_a_second_run_translates_nothing(
        tiny_model_dir, tiny_data, tmp_path):
    import xlt

    cfg = _translating_config(tiny_model_dir, tiny_data, tmp_path)
    res = xlt.run(cfg, progress=False)
    frozen = res.runs[res.runs["method"] == "frozen"]
    assert sorted(frozen["strategy"]) == ["source", "translate_test", "translate_train", "zero_shot"]
    report = res.report.with_suffix(".md").read_text()
    assert "Translate-test (dictionary)" in report and "Translate-train (dictionary)" in report
    assert "TF-IDF + LR: Translate-test (dictionary)" in report and "### Translation" in report
    from xlt.store import Store

    info = {r["strategy"]: r["train_info"] for r in Store(res.output_dir / "results.sqlite").runs()
            if r["method"] == "frozen"}
    first = info["translate_train"]["translation"]["train_src_to_tgt"]
    assert first["texts"] == 100 and first["translated"] > 0
    # the same experiment elsewhere: every text comes from the cache
    again = xlt.run(_translating_config(tiny_model_dir, tiny_data, tmp_path, out="again"), progress=False)
    info = {r["strategy"]: r["train_info"] for r in Store(again.output_dir / "results.sqlite").runs()
            if r["method"] == "frozen"}
    for strategy, part in (("translate_train", "train_src_to_tgt"), ("translate_test", "test_tgt_to_src")):
        st = info[strategy]["translation"][part]
        assert st["translated"] == 0 and st["cache_hits"] == st["texts"] > 0, (strategy, st)
    scores = lambda r: dict(zip(r.runs["strategy"] + r.runs["method"], r.runs["score"]))  # noqa: E731
    assert scores(again) == scores(res)


def test_translation_settings_identify_only_the_runs_that_translate(tiny_model_dir, tiny_data, tmp_path):
    from xlt.config import parse_config
    from xlt.protocol.plan import check_experiment

    cfg = _translating_config(tiny_model_dir, tiny_data, tmp_path)
    a = check_experiment(parse_config(cfg))
    cfg["translation"]["with_source"] = True
    b = check_experiment(parse_config(cfg))
    changed = {k.strategy for k in a.keys if a.run_ids[k] != b.run_ids[k]}
    assert changed == {"translate_test", "translate_train"}


def test_bad_translation_configs_are_one_clear_error(tiny_model_dir, tiny_data, tmp_path):
    import yaml

    cfg = _translating_config(tiny_model_dir, tiny_data, tmp_path)
    cases = {
        "unknown translator": ({**cfg, "translation": {"translator": {"name": "apertum"}}},
                               "unknown translator 'apertum'; did you mean 'apertium'"),
        "no translator": ({**cfg, "translation": None}, "translate_test translates, so the config needs a translator"),
        "a pair it lacks": ({**cfg, "translation": {**cfg["translation"], "translator": {
            **cfg["translation"]["translator"], "pivot": "eng"}}}, "cannot translate tgt->src"),
    }
    conll = tmp_path / "tokens.conll"
    conll.write_text("Juma B-PER\nsaid O\n\n" * 12, encoding="utf-8")
    tokens = {"files": {"train": str(conll), "test": str(conll)}, "format": "conll", "name": "toy"}
    cases["token task translate-test"] = ({**cfg, "task": "ner", "method": {"name": "full"}, "baselines": [],
                                          "source": {**tokens, "language": "src"},
                                          "targets": [{**tokens, "language": "tgt"}]}, "translate_test scores")
    for name, (c, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump({k: v for k, v in c.items() if v is not None}))
        res = cli_in_process("run", path, "--dry-run")
        assert res.returncode == 2 and message in res.stderr and res.stderr.count("xlt: error:") == 1, \
            (name, res.stderr[-800:])


def test_xlt_translate_and_its_bad_input(tmp_path):
    lex = _lexicon(tmp_path, [("good", "apik"), ("day", "dina")])
    src = tmp_path / "in.txt"
    src.write_text("good day\nbad day\n", encoding="utf-8")
    args = ["--from", "eng", "--to", "jav", "--translator", "dictionary", "--lexicon", f"{lex}:jav",
            "--cache", str(tmp_path / "c.sqlite")]
    res = cli_in_process("translate", src, *args)
    assert res.returncode == 0 and res.stdout.splitlines() == ["apik dina", "bad dina"], res.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for extra, message in ((["--translator", "googl"], "unknown translator 'googl'"),
                           (["--to", "swa"], "cannot translate eng->swa")):
        res = cli_in_process("translate", src, *args, *extra)
        assert res.returncode == 2 and message in res.stderr, res.stderr
    res = cli_in_process("translate", empty, *args)
    assert res.returncode == 2 and "empty.txt is empty: nothing to translate" in res.stderr


def test_mt_eval_scores_with_sacrebleu_and_refuses_files_of_different_lengths(tmp_path):
    lex = _lexicon(tmp_path, [("good", "apik"), ("day", "dina"), ("very", "banget"), ("this", "iki")])
    (tmp_path / "src.txt").write_text("this good day very good\nthis day very good day\n")
    (tmp_path / "ref.txt").write_text("iki apik dina banget apik\niki dina banget apik dina\n")
    (tmp_path / "short.txt").write_text("iki apik dina\n")
    res = cli_in_process("mt-eval", "--from", "eng", "--to", "jav", "--translator", "dictionary", "--lexicon",
                         f"{lex}:jav", "--source", tmp_path / "src.txt", "--reference", tmp_path / "ref.txt",
                         "--cache", tmp_path / "c.sqlite", "--json")
    assert res.returncode == 0, res.stderr
    import json

    rows = {r["system"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["dictionary"]["bleu"] == 100.0 and rows["copy input (baseline)"]["chrf"] < 100
    assert rows["dictionary"]["signatures"]["chrf++"].startswith("nrefs:1|") and "nw:2" in \
        rows["dictionary"]["signatures"]["chrf++"]
    res = cli_in_process("mt-eval", "--from", "eng", "--to", "jav", "--hypothesis", tmp_path / "ref.txt",
                         "--reference", tmp_path / "short.txt")
    assert res.returncode == 2 and "2 hypothesis lines but 1 reference lines" in res.stderr, res.stderr


def test_a_word_list_induced_from_parallel_sentences_pairs_words_that_co_occur():
    from xlt.translate.induce import induce_lexicon

    pairs = [("the food is good", "panganan iku apik"), ("good service", "layanan apik"),
             ("the food is bad", "panganan iku ala"), ("bad service", "layanan ala"), ("good day", "dina apik"),
             ("food and service", "panganan lan layanan")]
    words = {a: b for a, b, _ in induce_lexicon(pairs)}
    assert words["good"] == "apik" and words["bad"] == "ala" and words["food"] == "panganan"
    assert "day" not in words  # one sentence only: below min_count


@needs_shared_data()
def test_xlt_lexicon_induce_writes_a_list_the_dictionary_translator_reads(tmp_path):
    out = tmp_path / "eng-sun.txt"
    res = cli_in_process("lexicon", "induce", "--dataset", "nusax-senti", "--from", "eng", "--to", "sun",
                         "--output", out)
    assert res.returncode == 0 and "from 500 sentence pairs" in res.stdout, res.stderr
    t = make_translator("dictionary", lexicons=[{"path": str(out), "language": "sun", "order": "source-target"}])
    assert t.translate(["not very bad"], "eng", "sun") == ["henteu pisan awon"]
    res = cli_in_process("lexicon", "induce", "--dataset", "masakhaner2", "--from", "eng", "--to", "swa",
                         "--output", out)
    assert res.returncode == 2 and "has no row ids shared across languages" in res.stderr
    res = cli_in_process("lexicon", "induce", "--dataset", "nusax-senti", "--from", "eng", "--to", "sun",
                         "--output", tmp_path)
    assert res.returncode == 2 and "must be a file in an existing folder" in res.stderr
