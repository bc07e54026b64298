"""The experiment config: one YAML file, validated once, fully resolved, hashed.

Errors name the key, the file and line, and suggest the nearest valid key.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xlt.errors import XltError

STRATEGIES = ("target_only", "zero_shot", "self_training", "few_shot", "few_shot_self_training", "full_shot", "joint")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # an lr of 1e999 (inf) or .nan is a typo, not a setting


class DataSource(Strict):
    """A dataset/language: a named benchmark (dataset + language) or your own files (path or files)."""

    dataset: str | None = None
    language: str | None = None
    name: str | None = None  # a name for your own files in tables (default: the file's folder name)
    path: str | None = None  # one file, split by split_ratios
    files: dict[str, str] | None = None  # split name (train/validation/test) -> file
    hf: str | None = None  # a Hugging Face datasets hub id (online; needs `pip install datasets`)
    hf_config: str | None = None
    format: Literal["csv", "tsv", "jsonl", "xlsx", "conll", "conllu"] | None = None
    text: str | list[str] | None = None
    text_pair: str | None = None
    label: str | None = None
    label_map: dict[str, str | None] | None = None
    split_ratios: dict[str, float] | None = None
    tag_column: int | str | None = None  # token files: CoNLL column of the tag (default last) or CoNLL-U upos/xpos
    train_limit: int | None = Field(None, gt=0)  # use a seeded sample of this many training examples (e.g. a cheaper source stage)
    unlabelled: str | None = None  # plain-text file (one text per line) for language adapters; default: training texts

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("dataset", "path", "files", "hf") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of dataset (a named benchmark), path (one file), files (one per split) "
                             "or hf (a Hugging Face datasets hub id)")
        if self.dataset is None and (self.text is None or self.label is None) and self.format not in ("conll", "conllu") \
                and not str(self.path or "").endswith(".conllu"):
            raise ValueError("your own files need text: and label: (the column names)")
        if self.dataset is None and self.language is None:
            raise ValueError("your own files need language: (an ISO 639-3 code such as ara)")
        return self

    def display_name(self) -> str:
        if self.dataset or self.name or self.hf:
            return self.dataset or self.name or self.hf.split("/")[-1]
        return Path(self.path or next(iter((self.files or {}).values()))).parent.name


REWRITING_STEPS = ("lowercase", "remove_urls", "remove_emails", "remove_handles", "remove_html",
                   "remove_platform_artifacts", "remove_non_alnum", "remove_stopwords")


class Preprocess(Strict):
    preset: str | None = None
    lowercase: bool = False
    remove_urls: bool = False
    remove_emails: bool = False
    remove_handles: bool = False
    remove_html: bool = False
    remove_platform_artifacts: bool = False
    remove_non_alnum: bool = False
    remove_stopwords: bool = False
    scrub_pii: bool = False
    min_words: int = 0
    dedupe: bool = False
    # False: the steps decide which rows are kept, but each kept row keeps its original text (identifiers
    # still scrubbed). The second arm of the preprocessing ablation: same posts, uncleaned text.
    rewrite_text: bool = True

    def without_rewriting(self) -> "Preprocess":
        return self.model_copy(update={"rewrite_text": False})


class SelfTraining(Strict):
    """Zero- or few-shot plus unlabelled target text: the zero- (few-) shot model labels the target texts,
    the most confident of them join the source data, and the model is retrained from the source stage
    (then continued on the N shots); repeated `rounds` times. Kept so a model that leans one way is not
    fed more of it (the collapse trap): an even share per predicted class, or for NER entity-free
    sentences only in the source's share."""

    rounds: int = Field(3, ge=1)
    # share of the unlabelled texts kept per round: split evenly over classes; for NER, of the sentences
    # with a predicted entity; for POS, of all sentences
    fraction: float = Field(0.6, gt=0, le=1)
    # epochs and learning rate of each round's retraining on source + pseudo-labelled rows (fine-tuned
    # methods); default training.epochs_continue (else epochs) and the stage's lr_continue (method, training, default).
    # Set them when the continuation settings are sized for N few-shot rows, not for the source data.
    epochs: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)


class Dictionary(Strict):
    """A bilingual word list for code-switching: a named one (dictionary + language) or your own file."""

    dictionary: Literal["wiktionary-bli", "muse"] | None = None
    language: str | None = None  # ISO 639-3 code of the other language (ind, swa, rus, ...)
    path: str | None = None
    order: Literal["source-target", "target-source"] | None = None  # own files: which word comes first

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.dictionary is None) == (self.path is None):
            raise ValueError("give dictionary: (wiktionary-bli or muse) with language:, or path: with order:")
        if self.dictionary is not None and (self.language is None or self.order is not None):
            raise ValueError(f"dictionary: {self.dictionary} needs language: (an ISO 639-3 code) and no order:")
        if self.path is not None and self.order is None:
            raise ValueError(f"{self.path}: say which word comes first on each line: order: source-target "
                             "(as MUSE en-xx files) or order: target-source (as Wiktionary BLI xx-en files)")
        return self


class CodeSwitch(Strict):
    """Code-switched copies of the source training data (CoSDA-ML); see xlt/data/code_switch.py."""

    dictionaries: list[Dictionary] = Field(min_length=1)
    ratio: float = Field(0.9, gt=0, le=1)  # chance that a word the dictionaries know is replaced
    copies: int = Field(3, ge=1)  # code-switched copies of each source example, added to the originals


class Augment(Strict):
    """What is added to the source data: code-switched copies, and entity types its annotation lacks."""

    code_switch: CodeSwitch | None = None
    # NER: tag English date expressions DATE by rules (xlt/data/silver_dates.py) in a source, such as
    # CoNLL-2003, whose annotation has no DATE type but whose targets do (MasakhaNER)
    silver_tags: list[Literal["DATE"]] = []


class Protocol(Strict):
    strategies: list[Literal[STRATEGIES]] = \
        ["target_only", "zero_shot", "few_shot", "full_shot"]
    shots: list[int] = [100, 250, 500, 1000]
    seeds: list[int] = [0]
    zero_shot_selection: Literal["source", "target"] = "source"
    skip_shots_above_train: bool = False  # True: silently skip N larger than a language's training set
    self_training: SelfTraining = SelfTraining()


class Training(Strict):
    epochs: int = 5
    epochs_continue: int | None = None  # epochs for a target stage that continues the source stage (default: epochs)
    batch_size: int = 16
    lr: float | None = None  # method default when unset
    lr_continue: float | None = None  # for the target stage after the source stage
    min_steps: int = 100  # small samples get more epochs, up to this many optimiser steps
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2  # early stopping on validation macro-F1, counted in validations (0 = keep the last epoch)
    max_validations: int = 5  # validate every ceil(epochs / this) epochs, so many short epochs stay cheap
    class_weighted_loss: bool = False
    # probe: fit the classification head on the untouched encoder's features before fine-tuning (LP-FT)
    head_init: Literal["random", "probe"] = "random"
    bf16: Literal["auto", "on", "off"] = "auto"
    # dropout masks from 16 random bits per element (xlt/fast_dropout.py); auto: on a CPU only
    fast_dropout: Literal["auto", "on", "off"] = "auto"
    # batches of similar length (less padding), each with the data's class mix ("stratified"); "length": by
    # length alone (xlt before 2026-11-23; batches of one class where length predicts the label); "random"
    batching: Literal["stratified", "length", "random"] = "stratified"
    # auto: a training batch is run as length-sorted pieces where that saves padding (xlt/train.py
    # micro_batches; the optimiser step is still over the whole batch); off: one pass per batch (before 2026-11-24)
    micro_batching: Literal["auto", "off"] = "auto"
    threads: int | None = None
    eval_batch_size: int = 64


# LoRA for word tagging (NER, POS): each of r, alpha, target_modules the config leaves unset takes this value
# (the Method defaults below are classification's). On MasakhaNER 2.0 zero-shot, r 8 on query/value was 7.4
# entity F1 below full fine-tuning and still underfitted English; r 16 on every linear layer (at lr 5e-4,
# methods/lora.py) came within 2 (BENCHMARKS.md, "LoRA against full fine-tuning").
TOKEN_LORA = {"r": 16, "alpha": 32, "target_modules": ["query", "key", "value", "dense"]}


class Method(Strict):
    name: str = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: list[str] = ["query", "value"]
    freeze_embeddings: bool = True
    # MAD-X: bottleneck reduction factors (hidden / bottleneck) and language-adapter MLM training
    task_reduction: int = Field(16, gt=0)
    lang_reduction: int = Field(2, gt=0)
    lang_steps: int = Field(1000, gt=0)
    lang_lr: float = Field(5e-4, gt=0)
    head_steps: int = Field(300, gt=0)  # MLM head training, only for models without one (the embedded model)
    # this method's learning rates, over training.lr and training.lr_continue: methods compared in one config rarely
    # share one (LoRA trains at about ten times full fine-tuning's). Unset: training's, else the method's default.
    lr: float | None = Field(None, gt=0)
    lr_continue: float | None = Field(None, gt=0)

    def hashed(self, source_stage: bool = False) -> dict:
        """The settings a run's hash covers: unset learning rates left out (hashes made before they existed stay
        valid), and lr_continue for the source stage, which never reads it."""
        drop = {k for k in ("lr", "lr_continue") if getattr(self, k) is None} | ({"lr_continue"} if source_stage else set())
        return self.model_dump(mode="json", exclude=drop)


class Output(Strict):
    dir: str = "runs/experiment"
    save_models: list[str] = []  # strategies whose trained models are saved for transformers / xlt predict
    save_predictions: bool = True


class Experiment(Strict):
    name: str = "experiment"
    task: Literal["classification", "ner", "pos"] = "classification"
    model: str = "embedded:multilingual-e5-small"
    method: Method = Field(default_factory=Method)
    methods: list[Method] = []  # several methods compared on the same data (instead of method:)
    source: DataSource
    targets: list[DataSource]
    preprocess: Preprocess = Field(default_factory=Preprocess)
    protocol: Protocol = Field(default_factory=Protocol)
    training: Training = Field(default_factory=Training)
    augment: Augment = Field(default_factory=Augment)
    output: Output = Field(default_factory=Output)
    data_dir: str | None = None
    split_seed: int = 0
    collapse_recall: float = 0.1
    shortcut_keywords: dict[str, str] = {}  # language code -> keyword to check (e.g. ara: اكتئاب); default: top token
    baselines: list[Literal["tfidf-lr", "embedding-lr"]] | None = None  # simple recipes beside the method (default: both for classification)
    notice: str | None = None  # shown with every prediction (set by the depression preset)
    positive_label: str | None = None  # binary tasks: the class of the Table 5 layout (default: last label in sorted order)
    ablate_preprocessing: bool = False  # also run everything without text rewriting; the report compares the two

    @model_validator(mode="after")
    def _methods(self):
        if self.methods and "method" in self.model_fields_set:
            raise ValueError("give method: (one) or methods: (a list to compare), not both")
        names = [m.name for m in self.method_list()]
        if len(set(names)) != len(names):
            raise ValueError(f"methods: each method name once (got {names})")
        for m in self.method_list():
            if m.name == "lora" and self.task != "classification":
                for key, value in TOKEN_LORA.items():
                    if key not in m.model_fields_set:
                        setattr(m, key, copy.deepcopy(value))
        if self.baselines is None:
            self.baselines = ["tfidf-lr", "embedding-lr"] if self.task == "classification" else []
        elif self.baselines and self.task != "classification":
            raise ValueError(f"baselines {self.baselines} are text-classification baselines; use baselines: [] for {self.task}")
        if self.augment.silver_tags and self.task != "ner":
            raise ValueError(f"augment.silver_tags adds entity tags to NER data; this is a {self.task} task: remove it")
        if self.training.head_init == "probe" and self.task != "classification":
            raise ValueError(f"training.head_init: probe fits a sentence classifier's head first; {self.task} trains "
                             "its per-token head with the encoder: remove head_init")
        if self.ablate_preprocessing and (self.task != "classification" or not self.preprocess.rewrite_text
                                          or not any(getattr(self.preprocess, s) for s in REWRITING_STEPS)):
            raise ValueError("ablate_preprocessing compares text cleaning on and off: it needs a classification task "
                             f"and at least one of preprocess.{', '.join(REWRITING_STEPS)} switched on")
        return self

    def method_list(self) -> list[Method]:
        return self.methods or [self.method]

    def resolved(self) -> dict:
        return self.model_dump(mode="json")

    def without_text_cleaning(self) -> "Experiment":
        """The ablation arm: the same experiment with the same rows, their text not rewritten."""
        return self.model_copy(update={"preprocess": self.preprocess.without_rewriting(), "ablate_preprocessing": False})

    def _settings(self, *drop: str) -> dict:
        """resolved() without the output directory, the report-only keys and `drop`: what a hash covers."""
        d = self.resolved()
        for key in ("output", "positive_label", "ablate_preprocessing", *drop):
            d.pop(key, None)
        if "method" in d:
            d["method"], d["methods"] = self.method.hashed(), [m.hashed() for m in self.methods]
        if d["preprocess"].get("rewrite_text", True):
            d["preprocess"].pop("rewrite_text", None)  # hashes of configs written before the key existed stay valid
        if d["training"].get("head_init") == "random":
            d["training"].pop("head_init")  # likewise
        if d["training"].get("fast_dropout") == "off":
            d["training"].pop("fast_dropout")  # torch's dropout, as before the key existed: those runs stay valid
        if d["training"].get("micro_batching") == "off":
            d["training"].pop("micro_batching")  # one pass per batch, as before the key existed
        if d["training"].get("batching") == "length" or (d["training"].get("batching") == "stratified"
                                                          and d["task"] != "classification"):
            d["training"].pop("batching")  # the batches before the key existed (token tasks: stratified is length)
        for key in ("epochs", "lr"):
            if d["protocol"].get("self_training", {}).get(key, 0) is None:
                d["protocol"]["self_training"].pop(key)  # likewise
        if d["protocol"].get("self_training") == SelfTraining().model_dump(exclude={"epochs", "lr"}):
            d["protocol"].pop("self_training")  # likewise
        if not d["augment"].get("silver_tags"):
            d["augment"].pop("silver_tags", None)  # likewise
        if d.get("augment") == {"code_switch": None}:
            d.pop("augment")  # likewise
        return d

    def hash(self) -> str:
        """Hash of everything that changes results (not the output directory or report-only keys)."""
        return _digest(self._settings())

    def run_hash(self, method: str, target: DataSource | None, labels: list[str]) -> str:
        """Hash of what one run's result depends on: the shared settings, its method, its target, the labels.

        Seeds, strategies, shots and the other targets and methods are left out (k-shot samples are
        nested and depend only on N and the seed), so adding a seed, an N, a language or a method to a
        finished experiment runs only what is new and reuses the saved source stages; so does changing
        the target stage's own settings (lr_continue, epochs_continue, protocol.self_training), which
        the source stage never reads. `target` is None for the source stage and its evaluation; `method`
        may name a baseline (tfidf-lr, embedding-lr).
        """
        d = self._settings("targets", "method", "methods", "baselines", "notice", "shortcut_keywords")
        for key in ("seeds", "strategies", "shots", "skip_shots_above_train"):
            d["protocol"].pop(key, None)
        if target is None:  # the source stage never reads the target stage's settings: changing them reuses it
            d["training"]["lr_continue"] = d["training"]["epochs_continue"] = None
            d["protocol"].pop("self_training", None)
        cfg = next((m for m in self.method_list() if m.name == method), None)
        d["run"] = {"method": cfg.hashed(source_stage=target is None) if cfg is not None else method, "labels": labels,
                    "target": target.model_dump(mode="json") if target is not None else None}
        return _digest(d)


def _digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


PRESETS_DIR = Path(__file__).with_name("presets")
PREPROCESS_ABLATION_DIR = "without-preprocessing"  # inside the run directory


def _line_map(text: str) -> dict[tuple, int]:
    """YAML key path -> line number, for error messages."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                p = path + (k.value,)
                lines[p] = k.start_mark.line + 1
                walk(v, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return lines


def _model_for(path: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Experiment
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        cand = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        for a in args:
            cand += [b for b in getattr(a, "__args__", ()) if isinstance(b, type) and issubclass(b, BaseModel)]
        model = cand[0] if cand else None
    return model


def parse_config(data: dict, source: str = "<config>", text: str = "") -> Experiment:
    if not isinstance(data, dict):
        raise XltError(f"{source}: the config must be a YAML mapping of keys (name:, source:, targets:, ...)")
    data = _apply_presets(data, source)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        lines = _line_map(text)
        key_path = tuple(p for p in loc if not (isinstance(p, str) and p.endswith(("]", ")"))))
        line = next((lines[key_path[:i]] for i in range(len(key_path), 0, -1) if key_path[:i] in lines), None)
        where = f"{source}:{line}" if line else source
        dotted = ".".join(str(p) for p in key_path) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent = _model_for(key_path[:-1])
            hint = ""
            if parent is not None:
                close = difflib.get_close_matches(str(key_path[-1]), parent.model_fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(parent.model_fields)}"
            raise XltError(f"{where}: unknown key {dotted!r}{hint}") from None
        if err["type"] == "missing":
            raise XltError(f"{where}: missing required key {dotted!r}") from None
        raise XltError(f"{where}: {dotted}: {msg}") from None


def _apply_presets(data: dict, source: str) -> dict:
    """A preprocess preset fills in steps; keys written in the config win."""
    pre = data.get("preprocess") or {}
    name = pre.get("preset") if isinstance(pre, dict) else None
    if not name:
        return data
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise XltError(f"{source}: unknown preprocess preset {name!r}; known presets: {', '.join(known)}")
    preset = yaml.safe_load(path.read_text())
    data = dict(data)
    data["preprocess"] = {**preset.get("preprocess", {}), **pre}
    for k, v in preset.items():
        if k != "preprocess" and k not in data:
            data[k] = v
    return data


def load_config(path: str | Path) -> Experiment:
    path = Path(path)
    if not path.exists():
        raise XltError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise XltError(f"{path} is not valid UTF-8; re-save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise XltError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_config(data, str(path), text)
