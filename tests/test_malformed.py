"""A corpus of malformed files and configs, as a new user's would arrive, through the CLI's entry point:
every reject ends in one `xlt: error:` line (exit code 2, no traceback, no output folder written), every
accept loads the rows it should. Most cases call `xlt.cli.main` in this process (one model load for all);
a few go through a real subprocess, so the console script's own exit path is covered too."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CliResult, cli_in_process, synthetic_rows

FIXTURE = Path(__file__).parent / "fixtures" / "schema1-store"
HEADER = "text,label\n"


def _csv(path: Path, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("text", "label"), *rows])
    return str(path)


def _conll(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


class Corpus:
    """Builds each case's files and config in its own folder."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(FIXTURE / "model", root / "model")
        shutil.copytree(FIXTURE / "data", root / "data")

    def source(self) -> dict:
        return {"files": {s: str(self.root / "data" / f"src_{s}.csv") for s in ("train", "validation", "test")},
                "text": "text", "label": "label", "language": "src", "name": "toy"}

    def target(self, **files) -> dict:
        base = {s: str(self.root / "data" / f"tgt_{s}.csv") for s in ("train", "validation", "test")}
        return {"files": {**base, **files}, "text": "text", "label": "label", "language": "tgt", "name": "toy"}

    def config(self, name: str, **over) -> dict:
        cfg = {"name": name, "model": str(self.root / "model"), "method": {"name": "frozen"}, "baselines": [],
               "source": self.source(), "targets": [self.target()],
               "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [10], "seeds": [0]},
               "output": {"dir": str(self.root / "out" / name)}}
        cfg.update(over)
        return cfg

    def file(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return str(path)

    def write(self, name: str, cfg: dict | str) -> str:
        path = self.root / f"{name}.yaml"
        path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        return str(path)


def rejects(c: Corpus) -> dict[str, tuple[dict | str, str]]:
    """name -> (config, what the one error line must say)."""
    good = synthetic_rows(40, 9)
    rows = HEADER + "".join(f"{t},{lab}\n" for t, lab in good)
    ner_ok = "Juma B-PER\nsaid O\n\n"
    cases: dict[str, tuple[dict | str, str]] = {}

    def target_file(name, content, message, split="train", **extra):
        path = c.file(name, content)
        cases[name] = (c.config(name, targets=[{**c.target(**{split: path}), **extra}]), message)

    target_file("extra-field.csv", rows + "too,many,fields\n", "3 fields where the header has 2")
    target_file("missing-field.csv", rows + "lonely\n", "1 fields where the header has 2")
    target_file("unclosed-quote.csv", HEADER + 'good day,positive\n"never closed,negative\n' + rows[len(HEADER):],
                "a quoted field that starts on this line is never closed")
    target_file("repeated-column.csv", "text,text,label\na,b,positive\n", "appear more than once")
    target_file("nul-byte.csv", rows[:30] + "\x00" + rows[30:], "NUL byte")
    target_file("label-typo.csv", rows + "a fine day,postive\n", "'postive' (1 rows) are not among the source's labels")
    target_file("extra-field.tsv", "text\tlabel\nok\tpositive\tx\n", "3 fields where the header has 2")
    target_file("not-an-object.jsonl", '{"text": "a", "label": "positive"}\n[1, 2]\n', "not an object")
    target_file("bad-json.jsonl", '{"text": "a", "label": "positive"}\n{"text": \n', "invalid JSON")
    target_file("empty.csv", "", "is empty")
    target_file("header-only.csv", HEADER, "has no rows")
    target_file("no-text-column.csv", "body,label\nhi,positive\n", "no column 'text'")
    target_file("latin-1.csv", "text,label\ncaf\xe9,positive\n".encode("latin-1"), "not valid UTF-8")
    target_file("corrupt.xlsx", b"PK\x03\x04 not really a workbook", "cannot open")
    target_file("no-suffix.data", rows, "cannot tell the format")
    target_file("unmapped-label.csv", rows, "are not in label_map", label_map={"positive": "positive"})
    target_file("all-dropped.csv", rows, "maps every row to null", label_map={"positive": None, "negative": None})
    cases["directory-as-file"] = (c.config("directory-as-file", targets=[c.target(train=str(c.root / "data"))]),
                                  "is a directory")
    cases["missing-file"] = (c.config("missing-file", targets=[c.target(train=str(c.root / "nope.csv"))]),
                             "data file not found")
    one_class = c.file("one-class.csv", HEADER + "".join(f"{t},positive\n" for t, _ in good))
    cases["one-class source"] = (c.config("one-class source", source={**c.source(), "files": {
        "train": one_class, "test": str(c.root / "data" / "src_test.csv")}}), "has one class in its training data")

    def ner(name, content, message, fmt="conll", task="ner", **extra):
        path = _conll(c.root / name, content)
        src = {"files": {"train": path, "test": path}, "format": fmt, "language": "src", "name": "toy"}
        cases[name] = (c.config(name, task=task, method={"name": "full"}, source=src,
                                targets=[{**src, "language": "tgt"}], **extra), message)

    ner("columns.conll", "Juma NNP B-PER\nsaid VBD O\nNairobi B-LOC\n\n", "columns where the file's first token line")
    ner("not-iob.conll", ner_ok + "Nairobi LOCATION\n\n", "is not an IOB entity tag")
    ner("one-column.conll", ner_ok + "alone\n\n", "one column")
    ud = "1\tJuma\tJuma\tPROPN\t_\t_\t0\troot\t_\t_\n{}\n"
    ner("id.conllu", ud.format("x\tsaid\tsay\tVERB\t_\t_\t1\tdep\t_\t_"), "is not a word ID", fmt="conllu", task="pos")
    ner("range.conllu", ud.format("3-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_"), "is not a word ID", fmt="conllu", task="pos")
    ner("nine.conllu", ud.format("2\tsaid\tsay\tVERB\t_\t_\t1\tdep\t_"), "CoNLL-U lines have 10", fmt="conllu",
        task="pos")
    ner("gap.conllu", ud.format("3\tsaid\tsay\tVERB\t_\t_\t1\tdep\t_\t_"), "word ID 3 follows 1", fmt="conllu",
        task="pos")
    ner("upos.conllu", ud.format("2\tsaid\tsay\tVERBS\t_\t_\t1\tdep\t_\t_"), "is not one of the 17", fmt="conllu",
        task="pos")
    ner("tokens-as-text.conll", ner_ok, "token-tagged (CoNLL) data but the config's task reads labelled texts",
        task="classification")
    cases["text-as-tokens"] = (c.config("text-as-tokens", task="ner", method={"name": "full"}),
                               "text-classification data but the config's task reads tagged words")
    base = yaml.safe_dump(c.config("duplicate-key"))
    cases["duplicate-key"] = (base + f"model: {c.root / 'model'}\n", "is written twice in one mapping")
    for name, protocol, message in [("negative-shots", {"shots": [-5]}, "few-shot sizes N are positive"),
                                    ("zero-shots", {"shots": [0]}, "few-shot sizes N are positive"),
                                    ("negative-seed", {"seeds": [-1]}, "seeds are whole numbers from 0"),
                                    ("unknown-strategy", {"strategies": ["zero-shot"]}, "did you mean 'zero_shot'"),
                                    ("shots-above-train", {"strategies": ["few_shot"], "shots": [500]},
                                     "few-shot N=500 is larger than")]:
        cases[name] = (c.config(name, protocol={"seeds": [0], **protocol}), message)
    cases["unknown-key"] = (c.config("unknown-key", trainig={}), "did you mean 'training'")
    cases["method-key-of-another"] = (c.config("method-key-of-another", method={"name": "full", "r": 8}),
                                      "'r' is a key of method lora")
    cases["unknown-task"] = (c.config("unknown-task", task="sentiment"), "unknown task 'sentiment'")
    cases["max-length-beyond-the-model"] = (c.config("max-length-beyond-the-model", training={"max_length": 512}),
                                            "training.max_length 512 is longer than")
    cases["positive-label"] = (c.config("positive-label", positive_label="depression"),
                               "positive_label 'depression' is not one of the labels")
    cases["lora-layer"] = (c.config("lora-layer", method={"name": "lora", "target_modules": ["q_lin"]}),
                           "method.target_modules ['q_lin'] match no linear layer")
    cases["infinite-lr"] = (c.config("infinite-lr", training={"lr": float("inf")}), "finite number")
    cases["split-ratios"] = (c.config("split-ratios", split_ratios={"train": 0.8, "dev": 0.2}), "positive shares")
    cases["list-config"] = ("- a\n- b\n", "must be a YAML mapping")
    cases["invalid-yaml"] = ("name: [unclosed\n", "invalid YAML")
    blocker = c.file("a-file", "x")
    cases["output-under-a-file"] = (c.config("output-under-a-file", output={"dir": f"{blocker}/out"}),
                                    "cannot be created or written")
    cases["unlabelled-directory"] = (c.config("unlabelled-directory", protocol={"strategies": ["self_training"]},
                                              targets=[{**c.target(), "unlabelled": str(c.root / "data")}]),
                                     "unlabelled text file is a directory")
    cases["missing-dictionary"] = (c.config("missing-dictionary", augment={"code_switch": {"dictionaries": [
        {"path": str(c.root / "nope.txt"), "order": "source-target"}]}}), "does not exist")
    cases["test-only-target-few-shot"] = (c.config("test-only-target-few-shot", targets=[{
        **c.target(), "files": {"test": str(c.root / "data" / "tgt_test.csv")}}]), "has no training data, so few_shot")
    return cases


def accepts(c: Corpus) -> dict[str, tuple[dict, list[str]]]:
    """name -> (config, lines `xlt data inspect` must print: the rows it should have loaded)."""
    good = synthetic_rows(30, 7)
    cases: dict[str, tuple[dict, list[str]]] = {}

    def target(name, content, expect, **extra):
        cases[name] = (c.config(name, targets=[{**c.target(train=c.file(name, content)), **extra}]), expect)

    quoted = HEADER + '"a day, with a comma",positive\n"two\nlines",negative\n' + \
        "".join(f"{t},{lab}\n" for t, lab in good)
    target("quoted.csv", quoted, ["splits: train 32, validation 30, test 30"])
    target("bom-crlf.csv", ("\ufeff" + HEADER + "".join(f"{t},{lab}\n" for t, lab in good)).replace("\n", "\r\n"),
           ["splits: train 30, validation 30, test 30"])
    target("blank-lines.csv", HEADER + "\n" + "".join(f"{t},{lab}\n\n" for t, lab in good),
           ["splits: train 30, validation 30, test 30"])
    target("extra-keys.jsonl", "".join(f'{{"text": "{t}", "label": "{lab}", "id": {i}}}\n'
                                       for i, (t, lab) in enumerate(good)), ["splits: train 30, validation 30"])
    target("mapped.csv", HEADER + "".join(f"{t},{'pos' if lab == 'positive' else 'neg'}\n" for t, lab in good),
           ["splits: train 30"], label_map={"pos": "positive", "neg": "negative", "positive": "positive",
                                            "negative": "negative"})
    one_class_test = c.file("one-class-test.csv", HEADER + "".join(f"{t},positive\n" for t, _ in good))
    cases["one-class-test"] = (c.config("one-class-test", targets=[c.target(test=one_class_test)]),
                               ["warning: toy/tgt: its test split has a single class ('positive', 30 rows)"])
    cases["target-is-source"] = (c.config("target-is-source", targets=[c.target(test=c.source()["files"]["train"])]),
                                 ["warning: toy/tgt: 100 of its 100 test examples are in the source's training data"])
    ud = ("# sent_id = 1\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_\n"
          "2\tn't\tnot\tPART\t_\t_\t1\tadvmod\t_\t_\n2.1\tgo\tgo\tVERB\t_\t_\t_\t_\t0:root\t_\n\n") * 3
    path = _conll(c.root / "ok.conllu", ud)
    src = {"files": {"train": path, "test": path}, "format": "conllu", "language": "src", "name": "toy"}
    cases["conllu-ranges"] = (c.config("conllu-ranges", task="pos", method={"name": "full"}, source=src,
                                       targets=[{**src, "language": "tgt"}]),
                              ["3 multiword-token ranges and 3 empty nodes: skipped", "splits: train 2, validation 1"])
    return cases


def xlt(*args, cwd: Path) -> CliResult:
    """The real CLI in a subprocess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    res = subprocess.run([sys.executable, "-m", "xlt.cli", *args], capture_output=True, text=True, timeout=600,
                         env=env, cwd=cwd)
    return CliResult(res.returncode, res.stdout, res.stderr)


def xlt_here(*args, cwd: Path) -> CliResult:
    return cli_in_process(*args, cwd=cwd)


def check_reject(c: Corpus, name: str, cfg, message: str, cli=xlt_here) -> str | None:
    res = cli("run", c.write(name.replace("/", "-"), cfg), cwd=c.root)
    errors = [line for line in res.stderr.splitlines() if line.startswith("xlt: error:")]
    if res.returncode != 2 or len(errors) != 1 or message not in errors[0] or "Traceback" in res.stderr:
        return f"{name}: exit {res.returncode}, stderr {res.stderr[-600:]!r}"
    if isinstance(cfg, dict) and Path(cfg["output"]["dir"]).exists():
        return f"{name}: left {cfg['output']['dir']} behind"
    return None


def check_accept(c: Corpus, name: str, cfg: dict, expect: list[str], cli=xlt_here) -> str | None:
    path = c.write(name, cfg)
    res = cli("data", "inspect", path, cwd=c.root)
    missing = [e for e in expect if e not in res.stdout]
    if res.returncode != 0 or missing:
        return f"{name}: exit {res.returncode}, missing {missing}, stdout {res.stdout[-800:]!r} {res.stderr[-400:]!r}"
    return None


THROUGH_SUBPROCESS = {"extra-field.csv", "duplicate-key", "unknown-task", "text-as-tokens", "quoted.csv"}


def test_malformed_input_corpus(tmp_path):
    c = Corpus(tmp_path)
    bad, good = rejects(c), accepts(c)
    assert len(bad) + len(good) >= 50
    assert THROUGH_SUBPROCESS <= set(bad) | set(good)
    failures = []
    for name, (cfg, message) in bad.items():
        failures.append(check_reject(c, name, cfg, message, xlt if name in THROUGH_SUBPROCESS else xlt_here))
    for name, (cfg, expect) in good.items():
        failures.append(check_accept(c, name, cfg, expect, xlt if name in THROUGH_SUBPROCESS else xlt_here))
    failures = [f for f in failures if f]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("shots_given", [False, True])
def test_default_shots_adapt_to_the_data_and_written_ones_do_not(tmp_path, shots_given):
    c = Corpus(tmp_path)
    protocol = {"strategies": ["zero_shot", "few_shot"], "seeds": [0], **({"shots": [10, 500]} if shots_given else {})}
    res = xlt("run", c.write("c", c.config("c", protocol=protocol)), "--dry-run", cwd=c.root)
    if shots_given:
        assert res.returncode == 2 and "few-shot N=500 is larger than the 100 training examples" in res.stderr
    else:
        assert res.returncode == 0, res.stderr[-2000:]
        assert "few-shot N=250 skipped for toy/tgt, which has 100 training examples" in res.stdout
        assert "few_shot N=100" in res.stdout and "few_shot N=250" not in res.stdout


def test_an_unknown_option_is_a_usage_error_not_a_traceback(tmp_path):
    from conftest import cli_in_process

    res = cli_in_process("run", tmp_path / "missing.yaml", "--no-such-option")
    assert res.returncode == 2 and "No such option: --no-such-option" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "runs").exists()
