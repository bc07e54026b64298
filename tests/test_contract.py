"""The contract matrix: every registered method x task x strategy end to end, on a tiny random BERT
(2 layers, hidden size 32) that reads with the embedded model's tokenizer. A new method, task or
strategy joins the matrix by registering itself; what is checked comes from the units' declarations."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from xlt.methods import METHODS
from xlt.protocol.strategies import STRATEGIES
from xlt.tasks import TASKS

WORDS = {"src": ["the", "day", "was", "very", "and", "it", "this", "place"],
         "tgt": ["iki", "dina", "banget", "lan", "iku", "panggonan", "wis", "tenan"]}
CUES = {"positive": ["good", "apik"], "negative": ["bad", "ala"]}
NAMES = ["Amina", "Juma", "Wanjiru", "Kofi"]
POS_TAGS = {"the": "DET", "day": "NOUN", "was": "AUX", "very": "ADV", "and": "CCONJ", "it": "PRON", "this": "DET",
            "place": "NOUN"}


@pytest.fixture(scope="module")
def tiny_random_bert(tmp_path_factory) -> Path:
    """2 layers, hidden size 32, random weights, with the embedded e5 tokenizer (it has a mask token)."""
    import torch
    from transformers import BertConfig, BertModel

    from xlt.models import resolve

    tok = resolve("embedded:multilingual-e5-small").tokenizer()
    out = tmp_path_factory.mktemp("tiny-random-bert")
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                        xlt_pooling="mean")
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _texts(lang: str, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        rows.append((" ".join(rng.sample(WORDS[lang], 4) + [CUES[label][lang == "tgt"]]), label))
    return rows


def _sentences(task: str, lang: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.sample(WORDS[lang], 4) + [rng.choice(NAMES)]
        rng.shuffle(words)
        tags = [("B-PER" if w in NAMES else "O") if task == "ner" else
                ("PROPN" if w in NAMES else POS_TAGS.get(w, "X")) for w in words]
        out.append("\n".join(f"{w} {t}" for w, t in zip(words, tags)))
    return "\n\n".join(out) + "\n"


def _data(task, tmp_path: Path) -> dict:
    """Source and target data sections, 24/12/12 examples a language."""
    import csv

    sections = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        files = {}
        for split, n in (("train", 24), ("validation", 12), ("test", 12)):
            if task.data_kind == "text":
                path = tmp_path / f"{lang}_{split}.csv"
                with open(path, "w", newline="", encoding="utf-8") as fh:
                    csv.writer(fh).writerows([("text", "label"), *_texts(lang, n, seed * 10 + n)])
            else:
                path = tmp_path / f"{lang}_{split}.conll"
                path.write_text(_sentences(task.name, lang, n, seed * 10 + n), encoding="utf-8")
            files[split] = str(path)
        sections[lang] = {"files": files, "language": lang, "name": "toy",
                          **({"text": "text", "label": "label"} if task.data_kind == "text" else {"format": "conll"})}
    return sections


def _lexicon(tmp_path: Path) -> dict:
    """A word list src -> tgt for the translation strategies (the dictionary translator)."""
    pairs = list(zip(WORDS["src"], WORDS["tgt"])) + [tuple(CUES[lab]) for lab in CUES]
    path = tmp_path / "src-tgt.txt"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    return {"translator": {"name": "dictionary", "pivot": "src", "lexicons": [
        {"path": str(path), "language": "tgt", "order": "source-target"}]}, "cache": str(tmp_path / "cache.sqlite")}


METHOD_SETTINGS = {"madx": {"lang_steps": 4, "head_steps": 2, "task_reduction": 4, "lang_reduction": 4}}


SUPPORTED = [(m, t) for m in METHODS.names() for t in TASKS.names() if METHODS.get(m).supports(TASKS.get(t))]


@pytest.mark.parametrize("method_name,task_name", SUPPORTED)
def test_every_strategy_runs_end_to_end(tiny_random_bert, tmp_path, method_name, task_name):
    import xlt

    from xlt.methods import get_method

    task = TASKS.get(task_name)
    method = get_method(METHODS.get(method_name).config(name=method_name), task)
    strategies = [s.name for s in STRATEGIES if s.selectable and task.data_kind in s.data_kinds and s.supports(method)]
    data = _data(task, tmp_path)
    cfg = {"name": f"contract-{method_name}-{task_name}", "task": task_name, "model": str(tiny_random_bert),
           "method": {"name": method_name, **METHOD_SETTINGS.get(method_name, {})},
           "source": data["src"], "targets": [data["tgt"]],
           "protocol": {"strategies": strategies, "shots": [8], "seeds": [0], "self_training": {"rounds": 1},
                        "meta": {"languages": [data["src"]], "steps": 2, "inner_steps": 1, "task_size": 4},
                        "lapt": {"steps": 2, "head_steps": 2, "batch_size": 4}},
           "training": {"epochs": 1, "epochs_continue": 1, "min_steps": 2, "batch_size": 8, "max_length": 32,
                        "threads": 1, "patience": 1, "max_validations": 1},
           "translation": _lexicon(tmp_path),
           "baselines": list(task.baselines), "output": {"dir": str(tmp_path / "out"), "save_models": ["few_shot"]}}
    results = xlt.run(cfg, progress=False)
    runs = results.runs[results.runs["method"] == method_name]
    reference = next(s for s in STRATEGIES if s.scores_source)
    assert sorted(runs["strategy"]) == sorted(strategies + [reference.name])
    assert runs["score"].between(0, 1).all() and not runs["score"].isna().any()
    for _, run in runs.iterrows():
        s = STRATEGIES.get(run["strategy"])
        assert (run["n"] == 8) == s.uses_shots, run["strategy"]
        assert run["language"] == ("src" if s.scores_source else "tgt")
    # the baselines get the rows their strategies declare, and only those strategies
    for b in task.baselines:
        got = sorted(results.runs[results.runs["method"] == b]["strategy"])
        assert got == sorted([s for s in strategies if STRATEGIES.get(s).baselines] + [reference.name]), b
    assert results.report is not None and results.report.exists()
    # the saved model predicts through the Python API
    model = xlt.load(results.output_dir / "models" / "few_shot-8-tgt-seed0")
    texts = ["iki dina apik banget", "Juma lan Kofi"]
    predictions = model.predict(texts)
    assert len(predictions) == 2
    if task.data_kind == "text":
        assert set(predictions) <= set(model.labels) and model.predict_proba(texts).shape == (2, len(model.labels))
    else:
        assert [len(p) for p in predictions] == [len(t.split()) for t in texts]


@pytest.mark.parametrize("method_name,task_name", [(m, t) for m in METHODS.names() for t in TASKS.names()
                                                   if (m, t) not in SUPPORTED])
def test_a_method_refuses_a_task_it_does_not_support(tiny_random_bert, tmp_path, method_name, task_name):
    """One clear error before anything is written, naming the method and the task."""
    import xlt
    from xlt.errors import XltError

    task = TASKS.get(task_name)
    data = _data(task, tmp_path)
    cfg = {"task": task_name, "model": str(tiny_random_bert), "method": {"name": method_name},
           "source": data["src"], "targets": [data["tgt"]], "output": {"dir": str(tmp_path / "out")}}
    with pytest.raises(XltError, match=f"method {method_name}.*task {task_name}"):
        xlt.run(cfg, progress=False)
    assert not (tmp_path / "out").exists()
