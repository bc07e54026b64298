"""Token tasks: CoNLL/CoNLL-U reader edge cases, first-subword alignment, seqeval scores on a
hand-made example, tag mapping, and a MAD-X zero-shot round trip on a tiny model built here."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import yaml

from xlt.data.conll import read_conll, read_conllu, to_iob2
from xlt.data.pipeline import check_label_map, map_tags
from xlt.errors import XltError
from xlt.tasks.tagging import encode_words, entity_metrics, restrict_types, tag_accuracy

from conftest import SHARED_DATA, build_tiny_bert, cli_in_process, needs_shared_data


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_conll_bom_docstart_blank_tokens_and_columns(tmp_path):
    p = write(tmp_path / "a.txt", "-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nlives VBZ B-VP O\n"
              "in IN B-PP O\nParis NNP B-NP B-LOC\n\n O\nHi UH B-INTJ O\n", bom=True)
    rows, rep = read_conll(p)
    assert rep.bom and rep.docstart == 1 and rep.empty_tokens == 1
    assert [r.tokens for r in rows] == [("John", "lives", "in", "Paris"), ("Hi",)]
    assert rows[0].tags == ("B-PER", "O", "O", "B-LOC")
    rows, _ = read_conll(p, tag_column=1)  # another column as the tag
    assert rows[0].tags == ("NNP", "VBZ", "IN", "NNP")


def test_iob1_file_is_converted_and_stray_i_tags_repaired(tmp_path):
    # IOB1: entities start with I-, B- only between two adjacent entities of one type
    iob1 = write(tmp_path / "iob1.txt", "EU I-ORG\nrejects O\nGerman I-MISC\ncall O\n\n"
                 "Peter I-PER\nBlackburn I-PER\nJohn B-PER\n\n")
    rows, rep = read_conll(iob1)
    assert rep.scheme.startswith("IOB1")
    assert rows[0].tags == ("B-ORG", "O", "B-MISC", "O")
    assert rows[1].tags == ("B-PER", "I-PER", "B-PER")
    # IOB2 with one slip: I-ORG after O becomes B-ORG and is reported with its line
    iob2 = write(tmp_path / "iob2.txt", "a B-PER\nb I-PER\nc O\n\nd B-LOC\ne O\nRwanda I-ORG\n\nf B-ORG\ng I-LOC\n\n")
    rows, rep = read_conll(iob2)
    assert rep.scheme == "IOB2" and rep.repaired == 2
    assert rows[1].tags == ("B-LOC", "O", "B-ORG") and rows[2].tags == ("B-ORG", "B-LOC")
    assert "line 7: Rwanda I-ORG" in rep.repaired_examples[0]
    assert to_iob2(["I-X", "I-X", "I-Y"])[0] == ["B-X", "I-X", "B-Y"]


def test_conllu_skips_multiword_ranges_and_empty_nodes(tmp_path):
    lines = ["# sent_id = 1", "# text = I don't go.",
             "1\tI\tI\tPRON\t_\t_\t3\tnsubj\t_\t_",
             "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
             "2\tdo\tdo\tAUX\t_\t_\t4\taux\t_\t_",
             "3\tn't\tnot\tPART\t_\t_\t4\tadvmod\t_\t_",
             "3.1\tgo\tgo\tVERB\t_\t_\t_\t_\t0:root\t_",
             "4\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_", ""]
    p = write(tmp_path / "x.conllu", "\n".join(lines) + "\n")
    rows, rep = read_conllu(p)
    assert rows[0].tokens == ("I", "do", "n't", "go") and rows[0].tags == ("PRON", "AUX", "PART", "VERB")
    assert rep.multiword_ranges == 1 and rep.empty_nodes == 1
    with pytest.raises(Exception, match="10"):
        read_conllu(write(tmp_path / "bad.conllu", "1\tI\tPRON\n"))


def test_tag_mapping_is_counted():
    from collections import Counter

    counts = Counter()
    assert map_tags(("B-MISC", "I-MISC", "B-PER", "O"), {"MISC": None}, counts) == ("O", "O", "B-PER", "O")
    assert map_tags(("B-PERSON",), {"PERSON": "PER"}, counts) == ("B-PER",)
    assert counts == Counter({"B-MISC -> O": 1, "I-MISC -> O": 1, "B-PERSON -> B-PER": 1})
    check_label_map({"MISC": None, "B-PER": "B-PER"}, {"B-MISC", "I-MISC", "B-PER", "O"}, "x/eng")  # types and whole tags
    with pytest.raises(XltError, match=r"x/eng: label_map key\(s\) \['MISCX'\] match no tag"):
        check_label_map({"MISCX": None}, {"B-MISC", "I-MISC", "B-PER", "O"}, "x/eng")  # a typo maps nothing


def test_seqeval_scores_on_a_hand_made_example():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O", "B-PER"]]
    m = entity_metrics(gold, pred)
    # gold entities: PER, LOC, ORG, PER (4). Predicted: PER (right), ORG (wrong type), and I-ORG, which
    # strict IOB2 does not accept as an entity start, and PER (right): 3 predicted, 2 right.
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    assert m["per_type"]["PER"]["f1"] == 1.0 and m["per_type"]["LOC"]["recall"] == 0.0
    assert m["per_type"]["ORG"]["support"] == 1 and m["per_type"]["ORG"]["precision"] == 0.0
    seen = entity_metrics(restrict_types(gold, {"PER"}), restrict_types(pred, {"PER"}))
    assert seen["f1"] == 1.0
    acc = tag_accuracy([["NOUN", "VERB", "NOUN"]], [["NOUN", "NOUN", "NOUN"]])
    assert acc["accuracy"] == pytest.approx(2 / 3) and acc["per_type"]["VERB"]["recall"] == 0.0


NAMES = ["amina", "kofi", "juma", "wanjiru", "tunde", "ngozi"]
PLACES = ["nairobi", "lagos", "accra", "kigali", "dakar"]
FILLER = {"src": ["the", "man", "went", "to", "today", "and", "saw", "city", "from"],
          "tgt": ["le", "mtu", "alikwenda", "kwa", "leo", "na", "aliona", "mji", "kutoka"]}


def ner_sentences(lang: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [(w, "O") for w in rng.sample(FILLER[lang], 4)]
        words.insert(rng.randrange(len(words) + 1), (rng.choice(NAMES), "B-PER"))
        words.insert(rng.randrange(len(words) + 1), (rng.choice(PLACES), "B-LOC"))
        out.append("\n".join(f"{w} {t}" for w, t in words))
    return "\n\n".join(out) + "\n"


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory) -> Path:
    """A 2-layer BERT without a masked-LM head, with a tokenizer that has a <mask> token."""
    corpus = [" ".join(NAMES + PLACES + FILLER["src"] + FILLER["tgt"])] * 5
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-mlm"), corpus, 90, mask=True)


def test_first_subword_alignment(tiny_mlm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_mlm_dir)
    word = "wanjirukigalilagos"  # not in the vocabulary: several pieces
    pieces = tok.tokenize(word)
    assert len(pieces) > 1
    from xlt.data.examples import TokenExample

    row = TokenExample(("juma", word, "today"), ("B-PER", "B-LOC", "O"))
    enc = encode_words(tok, [row], 32, {"O": 0, "B-PER": 1, "B-LOC": 2})
    first = enc.first_subword[0]
    labels = enc.labels[0]
    assert [labels[p] for p in first] == [1, 2, 0]  # each word's label sits on its first piece
    assert sum(lab != -100 for lab in labels) == 3  # the other pieces and the specials are ignored
    assert first[2] - first[1] == len(pieces) + (tok.tokenize("today")[0] == "▁")  # the long word spans its pieces
    # truncation: words past max_length get no position (predicted as O, counted as unpredicted)
    short = encode_words(tok, [row], 4, {"O": 0, "B-PER": 1, "B-LOC": 2})
    assert short.first_subword[0][2] == -1


def test_madx_zero_shot_round_trip(tiny_mlm_dir, tmp_path):
    """MAD-X end to end on a tiny model: language adapters by MLM (with an MLM head initialised, as
    the model has none), task adapter on the source stacked on its language adapter, zero-shot by
    swapping the target's adapter in; then the saved stage reproduces the stored predictions."""
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.protocol import check_experiment
    from xlt.store import Store

    files = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        for split, n in (("train", 120), ("validation", 30), ("test", 30)):
            files[(lang, split)] = str(write(tmp_path / f"{lang}_{split}.txt", ner_sentences(lang, n, seed + len(split))))
    cfg = {"name": "madx-tiny", "task": "ner", "model": str(tiny_mlm_dir),
           "methods": [{"name": "madx", "lang_steps": 30, "head_steps": 10, "task_reduction": 4, "lang_reduction": 4}],
           "source": {"files": {s: files[("src", s)] for s in ("train", "validation", "test")}, "format": "conll",
                      "language": "src", "name": "toy"},
           "targets": [{"files": {s: files[("tgt", s)] for s in ("train", "validation", "test")}, "format": "conll",
                        "language": "tgt", "name": "toy"}],
           "protocol": {"strategies": ["zero_shot"], "seeds": [0]},
           # fp32: on a CPU with native bf16, `bf16: auto` autocasts, and bf16 rounding differs with the batch's
           # shape, so the re-prediction by hand below could flip a near-tie word
           "training": {"epochs": 15, "batch_size": 8, "lr": 1e-2, "threads": 1, "patience": 0, "bf16": "off"},
           "output": {"dir": str(tmp_path / "out"), "save_models": ["zero_shot"]}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    exp = parse_config(cfg)
    out = run_experiment(exp)
    store = Store(out / "results.sqlite")
    runs = {r["strategy"]: r for r in store.runs()}
    assert set(runs) == {"source", "zero_shot"}
    info = runs["zero_shot"]["train_info"]["language_adapters"]
    assert set(info) == {"src", "tgt"} and info["tgt"]["mlm_head"].startswith("none in the model")
    assert runs["source"]["metrics"]["f1"] > 0.5  # the task adapter learned the source task (untrained: ~0)
    stages = sorted(p.name.split("-")[0] for p in (out / "stages").glob("*.safetensors"))
    assert stages.count("lang") == 2 and "mlm" in stages

    # rebuild the zero-shot model from the saved stages and swap adapters by hand
    ctx = check_experiment(exp).ctx
    tok, labels, targets = ctx.tokenizer, ctx.labels, ctx.targets
    assert labels == runs["source"]["metrics"]["labels"]
    method, model, _ = ctx.stages.model("madx", 0, ctx.source)
    enc = ctx.encode(targets[0].splits["test"])
    batch = {"input_ids": torch.tensor([enc.ids[0]]), "attention_mask": torch.ones(1, len(enc.ids[0]), dtype=torch.long)}
    model.eval()
    with torch.no_grad():
        src_logits = model(**batch).logits
    method.use_language(model, "tgt")
    assert str(model.active_adapters) == "Stack[lang_tgt, task]"
    with torch.no_grad():
        tgt_logits = model(**batch).logits
    assert not torch.allclose(src_logits, tgt_logits)  # the language adapter is in the forward pass
    pred, _ = ctx.task.predict(model, tok, enc, labels, 16, False, False)
    stored = [row[0] for row in store.db.execute(
        "SELECT pred FROM predictions WHERE run_id LIKE '%zero_shot%' ORDER BY idx")]
    import json

    assert [json.loads(p) for p in stored] == pred
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".task." in k or k.startswith("classifier") for k in trainable)
    store.close()

    # the saved zero-shot model (base + head, adapters/lang_tgt + adapters/task) tags like the run did
    from xlt.serve.predict import Predictor

    saved = out / "models" / "zero_shot-tgt-seed0"
    assert sorted(p.name for p in (saved / "adapters").iterdir()) == ["lang_tgt", "task"]
    assert json.loads((saved / "config.json").read_text())["xlt_adapters"] == ["lang_tgt", "task"]  # in stack order
    served_model = Predictor(saved, bf16="off")
    assert str(served_model.model.active_adapters) == "Stack[lang_tgt, task]"  # the language adapter under the task's
    served = served_model.predict([" ".join(r.tokens) for r in targets[0].splits["test"]])
    assert [len(t) for t in served] == [len(p) for p in pred]
    # batching differs (length-sorted, other padding), so a near-tie word may flip: allow one in fifty
    words = [(a, b) for s_tags, p_tags in zip(served, pred) for a, b in zip(s_tags, p_tags)]
    assert sum(a == b for a, b in words) >= 0.98 * len(words)
    import shutil

    from xlt.errors import XltError

    shutil.rmtree(saved / "adapters" / "task")
    with pytest.raises(XltError, match="adapters/task is missing"):
        Predictor(saved)


@needs_shared_data()
def test_real_files_read_as_documented():
    """TOKENS.md's counts: CoNLL-2003 train 14,041 sentences; kin train has 14 stray I- tags; xho two empty tokens."""
    rows, rep = read_conll(SHARED_DATA / "conll2003_en" / "train.txt")
    assert len(rows) == 14041 and rep.docstart == 946
    _, rep = read_conll(SHARED_DATA / "masakhaner2" / "kin" / "train.txt")
    assert rep.repaired == 14
    _, rep = read_conll(SHARED_DATA / "masakhaner2" / "xho" / "train.txt")
    assert rep.empty_tokens == 2
    rows, rep = read_conllu(SHARED_DATA / "ud" / "UD_Amharic-ATT" / "am_att-ud-test.conllu")
    assert sum(len(r.tokens) for r in rows) == 10010 and rep.multiword_ranges == 2672


def test_full_fine_tuning_ner_saves_a_model_that_predicts(tiny_mlm_dir, tmp_path):
    """Full fine-tuning on token data: the saved directory loads with AutoModelForTokenClassification,
    has a model card, and `xlt predict` tags words."""
    import json

    from xlt import run_experiment
    from xlt.config import parse_config

    files = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        for split, n in (("train", 80), ("validation", 20), ("test", 20)):
            files[(lang, split)] = str(write(tmp_path / f"{lang}_{split}.txt", ner_sentences(lang, n, seed + n)))
    cfg = {"name": "full-tiny", "task": "ner", "model": str(tiny_mlm_dir), "method": {"name": "full"},
           "source": {"files": {s: files[("src", s)] for s in ("train", "validation", "test")}, "format": "conll",
                      "language": "src", "name": "toy"},
           "targets": [{"files": {s: files[("tgt", s)] for s in ("train", "validation", "test")}, "format": "conll",
                        "language": "tgt", "name": "toy"}],
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]},
           "training": {"epochs": 8, "batch_size": 8, "lr": 5e-3, "lr_continue": 1e-3, "threads": 1},
           "output": {"dir": str(tmp_path / "out"), "save_models": ["few_shot"]}}
    out = run_experiment(parse_config(cfg))
    saved = out / "models" / "few_shot-10-tgt-seed0"
    assert (saved / "README.md").read_text().count("Entity F1") == 1
    res = cli_in_process("predict", saved, "amina went to lagos", "--json")
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout.strip().splitlines()[-1])
    assert row["tokens"] == ["amina", "went", "to", "lagos"] and len(row["tags"]) == 4
    assert set(row["tags"]) <= {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}


def _ner_self_training(tiny_mlm_dir, files: dict, out: Path) -> dict:
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.store import Store

    cfg = {"name": "st-tiny", "task": "ner", "model": str(tiny_mlm_dir), "method": {"name": "full"},
           "source": {"files": {s: files[("src", s)] for s in ("train", "validation", "test")}, "format": "conll",
                      "language": "src", "name": "toy"},
           "targets": [{"files": {s: files[("tgt", s)] for s in ("train", "validation", "test")}, "format": "conll",
                        "language": "tgt", "name": "toy"}],
           "protocol": {"strategies": ["zero_shot", "self_training"], "seeds": [0],
                        "self_training": {"rounds": 1, "fraction": 0.5}},
           "training": {"epochs": 8, "batch_size": 8, "lr": 5e-3, "lr_continue": 1e-3, "threads": 1, "bf16": "off"},
           "output": {"dir": str(out)}}
    run_experiment(parse_config(cfg))
    return {r["strategy"]: r for r in Store(out / "results.sqlite").runs()}


def test_ner_self_training_pseudo_tags_target_text_without_reading_its_tags(tiny_mlm_dir, tmp_path):
    """Self-training on token data: the source model tags the target's train and validation sentences,
    keeps the surest half of those with an entity (the toy source has no entity-free sentence, so none
    of those), retrains from the source stage; replacing every target train/validation tag changes nothing."""
    files = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        for split, n in (("train", 80), ("validation", 20), ("test", 20)):
            files[(lang, split)] = str(write(tmp_path / f"{lang}_{split}.txt", ner_sentences(lang, n, seed + n)))
    runs = _ner_self_training(tiny_mlm_dir, files, tmp_path / "a")
    assert set(runs) == {"source", "zero_shot", "self_training"}
    (rnd,) = runs["self_training"]["train_info"]["self_training"]
    assert rnd["unlabelled"] == 100 and rnd["source_entity_free_share"] == 0.0
    kept = rnd["pseudo_labelled"]
    assert 0 < kept["sentences"] <= 50 and kept["entity_free"] == 0 and sum(kept["entities"].values()) >= kept["sentences"]
    assert runs["self_training"]["selection"] == "source-validation"
    for split in ("train", "validation"):  # every target tag outside test becomes O
        rows = Path(files[("tgt", split)]).read_text().splitlines()
        files[("tgt", split)] = str(write(tmp_path / f"o_{split}.txt", "\n".join(
            f"{line.split()[0]} O" if line.strip() else "" for line in rows) + "\n"))
    other = _ner_self_training(tiny_mlm_dir, files, tmp_path / "b")
    assert other["self_training"]["train_info"]["self_training"][0]["pseudo_labelled"] == kept
    assert other["self_training"]["metrics"]["f1"] == runs["self_training"]["metrics"]["f1"]


def test_ner_few_shot_self_training_reads_only_the_shots_tags(tiny_mlm_dir, tmp_path):
    """Few-shot + self-training on token data: the N shot sentences keep their gold tags, every other target
    training sentence is pseudo-tagged, so replacing those other tags with O changes nothing; each round
    retrains on source + pseudo-tagged sentences for self_training.epochs, then continues on the shots."""
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.data.conll import read_conll
    from xlt.data.splits import k_shot
    from xlt.store import Store

    files = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        for split, n in (("train", 80), ("validation", 20), ("test", 20)):
            files[(lang, split)] = str(write(tmp_path / f"{lang}_{split}.txt", ner_sentences(lang, n, seed + n)))

    def run(out: Path) -> dict:
        cfg = {"name": "fst-tiny", "task": "ner", "model": str(tiny_mlm_dir), "method": {"name": "full"},
               "source": {"files": {s: files[("src", s)] for s in ("train", "validation", "test")},
                          "format": "conll", "language": "src", "name": "toy"},
               "targets": [{"files": {s: files[("tgt", s)] for s in ("train", "validation", "test")},
                            "format": "conll", "language": "tgt", "name": "toy"}],
               "protocol": {"strategies": ["few_shot_self_training"], "shots": [10], "seeds": [0],
                            "self_training": {"rounds": 1, "fraction": 0.5, "epochs": 2, "lr": 2e-3}},
               "training": {"epochs": 8, "epochs_continue": 4, "batch_size": 8, "lr": 5e-3, "lr_continue": 1e-3,
                            "min_steps": 0, "threads": 1, "bf16": "off"},
               "baselines": [], "output": {"dir": str(out)}}
        run_experiment(parse_config(cfg))
        return {r["strategy"]: r for r in Store(out / "results.sqlite").runs()}

    runs = run(tmp_path / "a")
    fst = runs["few_shot_self_training"]
    first, rnd = fst["train_info"]["self_training"]
    assert first["few_shot"]["rows"] == 10 and rnd["unlabelled"] == 100 - 10 and rnd["rows"] == 10
    assert rnd["steps_source"] == 2 * -(-(80 + rnd["pseudo_labelled"]["sentences"]) // 8)  # 2 epochs of batch 8
    assert rnd["lr_source"] == 2e-3 and fst["train_info"]["lr"] == 1e-3  # the shots: training.lr_continue
    assert fst["selection"] == "target-validation" and fst["n"] == 10
    train_rows, _ = read_conll(Path(files[("tgt", "train")]))
    shots = {r.tokens for r in k_shot(train_rows, 10, 0)}
    blocks = Path(files[("tgt", "train")]).read_text().strip().split("\n\n")
    files[("tgt", "train")] = str(write(tmp_path / "o_train.txt", "\n\n".join(
        b if tuple(line.split()[0] for line in b.splitlines()) in shots
        else "\n".join(f"{line.split()[0]} O" for line in b.splitlines()) for b in blocks) + "\n"))
    other = run(tmp_path / "b")["few_shot_self_training"]
    assert other["train_info"]["self_training"][1]["pseudo_labelled"] == rnd["pseudo_labelled"]
    assert other["metrics"]["f1"] == fst["metrics"]["f1"]


def test_paired_comparison_statistics_with_known_answers():
    from scipy import stats

    from xlt.evaluate.compare import compare_methods, paired_test

    # all five differences positive: the exact two-sided sign-flip p is 2 / 2^5
    a, b = [0.6, 0.7, 0.8, 0.9, 1.0], [0.5, 0.5, 0.5, 0.5, 0.5]
    r = paired_test(a, b)
    assert r["mean_diff"] == pytest.approx(0.3) and r["p_permutation"] == pytest.approx(2 / 32)
    assert r["cohens_d"] == pytest.approx(0.3 / stats.tstd([0.1, 0.2, 0.3, 0.4, 0.5]))
    assert r["p_ttest"] == pytest.approx(stats.ttest_1samp([0.1, 0.2, 0.3, 0.4, 0.5], 0).pvalue)
    # mixed signs: no evidence
    assert paired_test([0.5, 0.6, 0.5, 0.6], [0.6, 0.5, 0.6, 0.5])["p_permutation"] == pytest.approx(1.0)

    def run(method, lang, seed, f1, strategy="zero_shot"):
        return {"method": method, "dataset": "d", "language": lang, "seed": seed, "strategy": strategy, "n": None,
                "metrics": {"score": f1}}
    runs = [run("madx", lang, s, 0.5 + 0.1 * i) for i, lang in enumerate("abc") for s in (0, 1)]
    runs += [run("full", lang, s, 0.45 + 0.1 * i) for i, lang in enumerate("abc") for s in (0, 1)]
    runs += [run("full", "a", 2, 0.9)]  # no madx partner: left out of the pairs
    (row,) = compare_methods(runs, "madx", "full")
    assert row["pairs"]["n"] == 6 and row["language_means"]["n"] == 3
    assert row["pairs"]["mean_diff"] == pytest.approx(0.05)
