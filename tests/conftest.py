"""Shared fixtures: a tiny BERT model and tokenizer built inside the tests, small data files, and
paths to the real shared data when it is beside the checkout."""
from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

POS = ["good", "great", "happy", "love", "nice", "excellent", "wonderful", "best"]
NEG = ["bad", "awful", "sad", "hate", "terrible", "worst", "poor", "ugly"]
FILL = ["the", "movie", "food", "day", "was", "really", "very", "this", "it", "and", "a", "service", "place"]


def synthetic_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """Sentences whose label is set by a keyword: a tiny model can learn them in seconds."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.sample(FILL, 5) + [rng.choice(POS if label == "positive" else NEG)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def build_tiny_bert(out: Path, corpus: list[str], vocab_size: int, mask: bool = False, **config_extra) -> Path:
    """A 2-layer, 32-dim BERT (no pooler, no MLM head) with a unigram tokenizer trained on `corpus`;
    `mask` adds a <mask> token (masked-LM training needs one)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"] + (["<mask>"] if mask else [])
    tok.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                            unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                            cls_token="<s>", sep_token="</s>", **({"mask_token": "<mask>"} if mask else {}),
                            model_input_names=["input_ids", "attention_mask"]).save_pretrained(out)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=1, **config_extra)
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny BERT whose tokenizer is trained on the synthetic sentiment vocabulary."""
    corpus = [t for t, _ in synthetic_rows(400, 0)] + [" ".join(POS + NEG + FILL)] * 5
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-model"), corpus, 120, xlt_pooling="mean")


@pytest.fixture()
def tiny_data(tmp_path) -> dict[str, Path]:
    """Source (train/validation/test) and target (train/validation/test) CSV files."""
    files = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        rows = synthetic_rows(160, seed)
        for split, part in (("train", rows[:100]), ("validation", rows[100:130]), ("test", rows[130:])):
            files[f"{lang}_{split}"] = write_csv(tmp_path / f"{lang}_{split}.csv", part)
    return files


def tiny_config(model_dir: Path, files: dict[str, Path], out: Path, **overrides) -> dict:
    cfg = {
        "name": "tiny",
        "model": str(model_dir),
        "method": {"name": "full", "freeze_embeddings": False},
        "source": {"files": {s: str(files[f"src_{s}"]) for s in ("train", "validation", "test")},
                   "text": "text", "label": "label", "language": "src", "name": "tiny"},
        "targets": [{"files": {s: str(files[f"tgt_{s}"]) for s in ("train", "validation", "test")},
                     "text": "text", "label": "label", "language": "tgt", "name": "tiny"}],
        "protocol": {"strategies": ["target_only", "zero_shot", "few_shot", "full_shot"], "shots": [10, 40], "seeds": [0]},
        "training": {"epochs": 10, "min_steps": 60, "batch_size": 8, "lr": 3e-3, "lr_continue": 3e-3, "threads": 1},
        "output": {"dir": str(out), "save_models": ["full_shot"]},
    }
    cfg.update(overrides)
    return cfg


def needs_shared_data():
    return pytest.mark.skipif(not SHARED_DATA.exists(), reason=f"real data not found at {SHARED_DATA}")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli_in_process(*args, cwd: Path | None = None) -> CliResult:
    """`xlt ARGS` through the CLI's entry point in this process: its exit code and both streams. Saves the
    interpreter start and model load a subprocess pays; keep a real subprocess where the process itself
    matters (kill -9, the console script's exit path)."""
    from xlt.cli import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["xlt", *map(str, args)]
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # noqa: BLE001 - the traceback is what a failing check shows
                err.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
    return CliResult(code, out.getvalue(), err.getvalue())
