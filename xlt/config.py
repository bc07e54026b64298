"""The experiment config: one YAML file, validated once, fully resolved.

Errors name the key, the file and line, and suggest the nearest valid key. Every setting declares
what it identifies (xlt/settings.py); xlt/identity.py turns those declarations into run hashes.
Tasks, methods and strategies come from their registries, so their names are checked against what
is installed.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from xlt.align.settings import AlignLoss
from xlt.errors import XltError
from xlt.data.lexicons import Dictionary
from xlt.methods import METHODS, method_configs
from xlt.translate import TRANSLATORS, translator_configs
from xlt.methods.base import MethodConfig
from xlt.registry import unknown_name
from xlt.settings import Strict, setting
from xlt.tasks import DEFAULT_TASK

DEFAULT_SPLIT_RATIOS = {"train": 0.7, "validation": 0.15, "test": 0.15}


class DataSource(Strict):
    """A dataset/language: a named benchmark (dataset + language) or your own files (path or files)."""

    dataset: str | None = None
    """A named benchmark (`xlt data list`): nusax-senti, masakhaner2, conll2003, ud-pos, ..."""
    language: str | None = None
    """ISO 639-3 code (or the dataset's own name for the language); required for your own files."""
    name: str | None = None
    """A name for your own files in tables (default: the file's folder name)."""
    path: str | None = None
    """One file, split by split_ratios."""
    files: dict[str, str] | None = None
    """Split name (train/validation/test) -> file; test alone makes a zero-shot target."""
    hf: str | None = None
    """A Hugging Face datasets hub id (online; needs `pip install datasets`)."""
    hf_config: str | None = None
    """The hub dataset's configuration (subset) name."""
    format: Literal["csv", "tsv", "jsonl", "xlsx", "conll", "conllu"] | None = None
    """The files' format when their suffix does not tell."""
    text: str | list[str] | None = None
    """Your files: the column(s) holding the text (several are joined with a space)."""
    text_pair: str | None = None
    """Your files: the column of a second text (sentence pairs such as NLI)."""
    label: str | None = None
    """Your files: the column holding the label."""
    label_map: dict[str, str | None] | None = None
    """Renames labels (for tags: whole tags or entity types); null drops rows (tags: becomes O). A label not
    listed is an error."""
    split_ratios: dict[str, float] | None = None
    """This source's own ratios for splits it lacks (default: split_ratios)."""
    tag_column: int | str | None = None
    """Token files: CoNLL column of the tag (default last) or CoNLL-U upos/xpos."""
    train_limit: int | None = Field(None, gt=0)
    """Use a seeded, stratified sample of this many training examples."""
    unlabelled: str | None = None
    """Plain-text file (one text per line): MAD-X, self-training; default: train texts."""

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


class Sources(Strict):
    """Several source languages (or datasets): trained together into one model (`combine: pooled`, with a
    sampling scheme), or each on its own (`combine: each`: the single-source transfer matrix).

    Languages of one named benchmark are `dataset` + `languages`; any other source (your own files, a
    second dataset) goes in `data`. A plain list under `sources:` is `data`."""

    dataset: str | None = None
    """A named benchmark whose languages are sources (`xlt data list`)."""
    languages: list[str] | Literal["all", "all-but-target"] | None = None
    """The benchmark's languages to train on: a list of codes, all, or all-but-target (every language of
    the benchmark except the target itself: leave-one-out, one source set per target)."""
    data: list[DataSource] = []
    """Further sources, each a data source as under `source:`."""
    train_limit: int | None = setting(None, gt=0, omit_when=None)
    """Each language of `dataset` uses a seeded, stratified sample of this many training examples."""
    combine: Literal["pooled", "each", "merge"] = "pooled"
    """pooled: one model trained on the sources' data pooled; each: one model per source language, every source -> target pair
    run (the transfer matrix; a target is never its own source); merge: each source's own model, merged
    into one for each target (see docs/multi-source.md)."""
    sampling: Literal["proportional", "temperature", "uniform"] = "proportional"
    """How the joint training set draws from the sources: proportional (every row once), temperature
    (source i drawn with probability proportional to n_i^(1/tau): small sources up-sampled, as in XLM-R),
    uniform (an equal share each). The set has as many rows as the sources together."""
    tau: float | None = None
    """The temperature of `sampling: temperature` (default 5; 1 is proportional, larger tends to uniform)."""
    merge: Literal["linear", "ties", "dare_linear", "dare_ties"] = setting("ties", omit_when="ties")
    """combine: merge: how the per-source task vectors are combined (peft's merge functions)."""
    density: float = setting(0.5, gt=0, le=1, omit_when=0.5)
    """combine: merge with ties or dare: the share of each task vector's entries kept."""
    merge_weights: Literal["uniform", "heuristic"] = setting("uniform", omit_when="uniform")
    """combine: merge: each source's weight, equal or from the zero-data source ranker (softmax of its scores)."""
    eval_limit: int | None = Field(200, gt=0)
    """Validation and test rows kept per source (a seeded sample) for the joint model's selection and its
    source-language reference; null keeps every row."""
    name: str | None = setting(None, identity="none")
    """The source set's name in tables (default: its languages joined with +; leave-one-out sets are named
    all-but-<target>)."""

    @field_validator("tau")
    @classmethod
    def _tau(cls, tau: float | None) -> float | None:
        if tau is not None and tau <= 0:
            raise ValueError(f"tau must be above 0 (got {tau}): 1 samples in proportion to size, larger values "
                             "move toward uniform, e.g. tau: 5")
        return tau

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, value):
        return {"data": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _some(self):
        if (self.dataset is None) != (self.languages is None):
            raise ValueError("give dataset: and languages: together (e.g. dataset: masakhaner2, languages: "
                             "all-but-target), or list your sources under data:")
        if self.languages is None and not self.data:
            raise ValueError("no sources: give dataset: with languages:, or a list of data sources")
        if self.tau is not None and self.sampling != "temperature":
            raise ValueError(f"tau is the temperature of sampling: temperature; this config samples "
                             f"{self.sampling}: remove tau or set sampling: temperature")
        return self


def _expand_languages(value):
    """`targets: {dataset: X, languages: [...] | all}` -> one data source per language."""
    if not isinstance(value, dict) or "languages" not in value:
        return value
    rest = {k: v for k, v in value.items() if k != "languages"}
    langs = value["languages"]
    if langs == "all":
        from xlt.data.registry import get_spec

        langs = list(get_spec(rest.get("dataset", "")).languages) if rest.get("dataset") else langs
    if not isinstance(langs, list):
        raise ValueError("targets: languages: is a list of language codes, or all (with dataset:)")
    return [{**rest, "language": code} for code in langs]


REWRITING_STEPS = ("lowercase", "remove_urls", "remove_emails", "remove_handles", "remove_html",
                   "remove_platform_artifacts", "remove_non_alnum", "remove_stopwords")


class Preprocess(Strict):
    preset: str | None = setting(None, identity="none")
    """A named set of steps (xlt/presets); the steps identify runs."""
    lowercase: bool = False
    """Lower-case every text."""
    remove_urls: bool = False
    """Remove URLs."""
    remove_emails: bool = False
    """Remove e-mail addresses."""
    remove_handles: bool = False
    """Remove @handles."""
    remove_html: bool = False
    """Remove HTML tags and unescape entities."""
    remove_platform_artifacts: bool = False
    """Remove retweet marks, [removed]/[deleted] and similar platform leftovers."""
    remove_non_alnum: bool = False
    """Remove characters that are not letters, marks or digits of any script."""
    remove_stopwords: bool = False
    """Remove the language's stopwords (stopwordsiso)."""
    scrub_pii: bool = False
    """Replace e-mail addresses, phone numbers, URLs and @handles with placeholders before anything is stored."""
    min_words: int = 0
    """Drop texts shorter than this many words (counted on the text as written; about two characters a word in
    scripts without spaces)."""
    dedupe: bool = False
    """Drop repeated texts (after cleaning), keeping the first."""
    rewrite_text: bool = True
    """False: the steps decide which rows are kept, but each kept row keeps its original text (identifiers
    still scrubbed). The second arm of the preprocessing ablation: same posts, uncleaned text."""

    def without_rewriting(self) -> "Preprocess":
        return self.model_copy(update={"rewrite_text": False})


class SelfTraining(Strict):
    """Zero- or few-shot plus unlabelled target text: the zero- (few-) shot model labels the target texts,
    the most confident of them join the source data, and the model is retrained from the source stage
    (then continued on the N shots); repeated `rounds` times. Kept so a model that leans one way is not
    fed more of it (the collapse trap): a quota per predicted class (`quota`), or for NER entity-free
    sentences only in the source's share."""

    rounds: int = Field(3, ge=1)
    """Pseudo-labelling rounds; each starts again from the source stage."""
    quota: Literal["even", "source", "predicted"] | None = setting(None, identity="self_training",
                                                                    omit_when="even")
    """Text classification: the pseudo-labels kept per predicted class, one in proportion to the class's
    share of the source data ("source", the default), an even share of the fraction ("even"), or the fraction
    of each predicted class's own texts ("predicted": class-balanced self-training, Zou et al. 2018). Token
    tasks keep their own rule (NER: entity-free sentences in the source's share) and take no quota."""
    fraction: float = Field(0.6, gt=0, le=1)
    """Share of the unlabelled texts kept per round: split over classes by `quota`; for NER, of the sentences
    with a predicted entity; for POS, of all sentences."""
    epochs: int | None = Field(None, ge=1)
    """Epochs and learning rate of each round's retraining on source + pseudo-labelled rows (fine-tuned
    methods); default training.epochs_continue (else epochs) and the stage's lr_continue (method, training,
    default). Set them when the continuation settings are sized for N few-shot rows, not for the source
    data."""
    lr: float | None = Field(None, gt=0)
    """Learning rate of each round's retraining (see epochs)."""


class CodeSwitch(Strict):
    """Code-switched copies of the source training data (CoSDA-ML); see xlt/data/code_switch.py."""

    dictionaries: list[Dictionary] = Field(min_length=1)
    """The word lists, merged."""
    ratio: float = Field(0.9, gt=0, le=1)
    """Chance that a word the dictionaries know is replaced."""
    copies: int = Field(3, ge=1)
    """Code-switched copies of each source example, added to the originals."""


class Augment(Strict):
    """What is added to the source data: code-switched copies, and entity types its annotation lacks."""

    code_switch: CodeSwitch | None = None
    """Code-switched copies of the source training data."""
    silver_tags: list[Literal["DATE"]] = []
    """NER: tag English date expressions DATE by rules (xlt/data/silver_dates.py) in a source, such as
    CoNLL-2003, whose annotation has no DATE type but whose targets do (MasakhaNER)."""



def _strategy_names(selectable_only: bool = True, defaults_only: bool = False) -> list[str]:
    from xlt.protocol.strategies import ordered

    return [s.name for s in ordered() if (s.selectable or not selectable_only) and (s.default or not defaults_only)]


def _check_strategies(names: list[str]) -> list[str]:
    valid = _strategy_names()
    for n in names:
        if n not in valid:
            raise ValueError(unknown_name("strategy", n, valid))
    return names


class MetaLearning(Strict):
    """X-MAML (Nooralahzadeh et al. 2020) for the few_shot_meta strategy: before the target's N shots, the model
    trained on the source is meta-trained on small tasks drawn from auxiliary languages' labelled training data."""

    languages: list[DataSource] = Field(default_factory=list)
    """The auxiliary languages (dataset + language, or your files), labelled like the source; a target's own
    language is left out of that target's runs (its labelled rows beyond the N shots would leak)."""
    algorithm: Literal["reptile", "fomaml"] = "reptile"
    """reptile (Nichol et al. 2018): move toward the weights a task's inner steps reached; fomaml: first-order MAML,
    step along the query loss's gradient at the adapted weights."""
    steps: int = setting(30, ge=1)
    """Meta-iterations, each one task (one auxiliary language, drawn at random)."""
    inner_steps: int = setting(4, ge=1)
    """Optimiser steps on a task's support set."""
    task_size: int = setting(16, ge=2)
    """Labelled examples in a task's support set (fomaml: as many again, disjoint, in its query set)."""
    meta_lr: float = setting(0.5, gt=0)
    """reptile: the share of the way toward the adapted weights (0-1]; fomaml: the outer learning rate, relative to
    the inner one."""
    inner_lr: float | None = setting(None, gt=0)
    """The inner optimiser's learning rate (default: the method's continuation rate)."""
    top_k: int | None = setting(None, ge=1, omit_when=None)
    """Meta-train each target on only the k listed languages the zero-data source ranker scores highest for it
    (`xlt rank-sources`' heuristic: URIEL distances, subword overlap, size, labels); the ranking goes into the run
    record. Default: every listed language."""

    @field_validator("languages")
    @classmethod
    def _some(cls, languages: list) -> list:
        if not languages:
            raise ValueError("meta-learning needs auxiliary languages with labelled training data: list them under "
                             "protocol.meta.languages, e.g. [{dataset: nusax-senti, language: ind}]")
        return languages

    @model_validator(mode="after")
    def _top_k_within(self) -> "MetaLearning":
        if self.top_k is not None and self.top_k > len(self.languages):
            raise ValueError(f"top_k {self.top_k} asks for more auxiliary languages than the {len(self.languages)} "
                             f"listed; list more under languages, or lower top_k")
        return self


class LanguageAdaptation(Strict):
    """Language-adaptive pretraining for the zero_shot_lapt strategy: masked-LM training of the encoder on a target's
    unlabelled text (or every target's, pooled), then the task's source stage from the adapted encoder (one per
    target language, or target set, and seed)."""

    mode: Literal["full", "lora"] = "full"
    """full: every encoder weight but the word embeddings trains; lora: LoRA (r 8, the architecture's query and value
    layers), merged into the weights afterwards."""
    steps: int = setting(500, ge=1)
    """Masked-LM optimiser steps."""
    batch_size: int = setting(16, ge=1)
    """Texts per masked-LM step."""
    lr: float | None = setting(None, gt=0)
    """Default: 5e-5 (full) or 5e-4 (lora)."""
    head_steps: int = setting(300, ge=1)
    """A model without a masked-LM head (the embedded e5) first gets one, trained this many steps on the target's
    text with the encoder frozen."""
    scope: Literal["target", "targets"] = setting("target", omit_when="target")
    """target: one adapted encoder (and source stage) per target language, on its own text; targets: one for all
    the config's targets, on their texts pooled, each text as likely as any other (multilingual adaptive
    fine-tuning, Alabi et al. 2022): one masked-LM run and one source stage serve every target."""


class Protocol(Strict):
    """What is trained on what: the strategies (xlt/protocol/strategies), few-shot sizes and seeds."""

    strategies: list[str] = setting(default_factory=lambda: _strategy_names(defaults_only=True), identity="key")
    """The strategies to run, for every target (see docs/strategies.md); the source-language reference is
    added."""
    shots: list[int] = setting([50, 100, 250], identity="key")
    """Few-shot sizes N: nested, stratified samples of each target's training split (the 100 are in the 250)."""
    seeds: list[int] = setting([0], identity="key")
    """Every run is repeated per seed; tables show mean ± SD over seeds."""
    zero_shot_selection: Literal["source", "target"] = setting("source", identity="run")
    """Zero-shot model selection on the source's validation split; "target" uses the target's (and says so)."""
    skip_shots_above_train: bool = setting(False, identity="none")
    """True: skip N above a language's training set."""
    self_training: SelfTraining = setting(SelfTraining(), identity="run")
    """Settings of the self-training strategies."""
    ensemble: Literal["none", "embedding-head"] = setting("none", identity="run", omit_when="none")
    """Classification: "embedding-head" averages the method's class probabilities with those of the frozen-embedding
    + logistic-regression head fitted on the same rows (the embedding-lr baseline of that run)."""
    label_shift: Literal["none", "em"] = setting("none", identity="run", omit_when="none")
    """Classification: "em" re-estimates the target's class priors on the texts being scored, labels unread (EM,
    Saerens et al. 2002), and adjusts the predictions to them; the estimate is in the run record and report."""
    label_shift_strength: float = setting(0.0, ge=0, identity="run", omit_when=0.0)
    """label_shift: em as MAP-EM: a Dirichlet prior centred on the training data's class mix, worth this many
    texts per text scored, so the estimate moves at most 1 / (1 + strength) of the way (0: plain EM). 1 held up
    on label-shifted test sets where plain EM fell apart (docs/defaults.md)."""
    collapse_guard: float | None = setting(None, gt=0.5, le=1, identity="run", omit_when=None)
    """Classification: when one class takes at least this share of a target's predictions, the run falls back to
    the frozen-embedding head's predictions (if they are not as one-sided), with a note in the record."""
    rare_class_guard: float = setting(0.0, ge=0, lt=1, identity="few_shot", omit_when=0.0)
    """Text classification, few-shot: when the fitted model predicts a class that the N shots hold for under this
    fraction of its share among the shots, on the target's other texts (labels unread), the run is refitted
    with class-weighted loss and says so (xlt/protocol/rare_class.py; with training.class_weighted_loss on it
    only records what it saw). 0 (the default) is off; 0.25 was measured in the generalisation suite, where it
    refitted none of 258 runs (docs/defaults.md)."""
    prior_matching: float | None = setting(None, ge=0, le=1, identity="few_shot", omit_when=0.0)
    """Text classification, few-shot: the fitted head's class biases are shifted so that the class mix it predicts on
    the target's other texts (labels unread) moves this far towards the class mix of the N shots (1: matched, 0:
    off); estimated before the test split is read, and kept in a saved model (xlt/protocol/prior_matching.py).
    Unset: 0.5 for text classification, chosen on NusaX-senti in the generalisation suite (docs/defaults.md); token
    tasks have no class per text and take none."""
    cv_folds: int = setting(5, ge=2, identity="run", omit_when=5)
    """Folds of a method's few_shot_choice: cv."""
    meta: MetaLearning | None = setting(None, identity="meta", omit_when=None)
    """The few_shot_meta strategy's auxiliary languages and meta-learning settings (X-MAML)."""
    lapt: LanguageAdaptation = setting(LanguageAdaptation(), identity="lapt")
    """The zero_shot_lapt strategy's language-adaptive pretraining."""

    @field_validator("strategies")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return _check_strategies(names)

    @field_validator("shots")
    @classmethod
    def _positive(cls, shots: list[int]) -> list[int]:
        if any(n <= 0 for n in shots) or len(set(shots)) != len(shots):
            raise ValueError(f"few-shot sizes N are positive numbers of examples, each once (got {shots})")
        return shots

    @field_validator("seeds")
    @classmethod
    def _non_negative(cls, seeds: list[int]) -> list[int]:
        if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds are whole numbers from 0, each once, at least one (got {seeds})")
        return seeds


class Training(Strict):
    """How every stage trains; a method's own lr / lr_continue win over these."""

    epochs: int = 5
    """Epochs of a stage that starts from the pretrained model (more for small samples: see min_steps)."""
    epochs_continue: int | None = setting(None, identity="run")
    """Epochs for a target stage that continues the source stage (default: epochs)."""
    batch_size: int = 16
    """Texts (or sentences) per optimiser step."""
    lr: float | None = None
    """Method default when unset."""
    lr_continue: float | None = setting(None, identity="run")
    """For the target stage after the source stage."""
    min_steps: int = 100
    """Small samples get more epochs, up to this many optimiser steps."""
    max_length: int = 128
    """Subword tokens kept per text; longer texts are truncated."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_ratio: float = 0.1
    """Share of a stage's steps with a rising learning rate (then linear decay)."""
    patience: int = 2
    """Early stopping on validation macro-F1, counted in validations (0 = keep the last epoch)."""
    max_validations: int = 5
    """Validate every ceil(epochs / this) epochs, so many short epochs stay cheap."""
    class_weighted_loss: bool = False
    """Weigh each class's loss by its inverse frequency."""
    head_init: Literal["random", "probe"] = "random"
    """Probe: fit the classification head on the untouched encoder's features before fine-tuning (LP-FT)."""
    bf16: Literal["auto", "on", "off"] = "auto"
    """bf16 autocast; auto: on a GPU, or a CPU with native bf16 (AVX512-BF16/AMX), where it is faster."""
    fast_dropout: Literal["auto", "on", "off"] = "auto"
    """Dropout masks from 16 random bits per element (xlt/fast_dropout.py); auto: on a CPU only."""
    batching: Literal["stratified", "length", "random"] = "stratified"
    """Batches of similar length (less padding), each with the data's class mix ("stratified"); "length": by
    length alone (batches of one class where length predicts the label); "random"."""
    micro_batching: Literal["auto", "off"] = "auto"
    """Auto: a training batch is run as length-sorted pieces where that saves padding (xlt/train.py
    micro_batches; the optimiser step is still over the whole batch); off: one pass per batch."""
    threads: int | None = setting(None, identity="none")
    """Torch threads (default: every core this process may run on, so `taskset` limits it)."""
    eval_batch_size: int | None = setting(None, identity="none")
    """Texts per prediction batch (default: 64 on a CPU, 512 on a GPU, where large batches keep it busy)."""
    align_loss: AlignLoss | None = setting(None, omit_when=None)
    """The source stage also pulls parallel sentences' vectors together (docs/alignment.md). Unset: no such term."""


class Output(Strict):
    """What a run writes besides its store and report."""

    dir: str = "runs/experiment"
    """The output directory: results.sqlite, report.md/.html, stages/, models/ (`xlt run --output` wins)."""
    save_models: list[str] = []
    """Strategies whose trained models are saved for transformers / xlt predict."""
    save_predictions: bool = True
    """Keep every test prediction (and its probabilities) in the store."""

    @field_validator("save_models")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return _check_strategies(names)


def _method_tag(value) -> str | None:
    """The method section's `name` (Experiment fills in the task's default method where it is left out)."""
    if isinstance(value, dict):
        return value.get("name", "lora")
    return getattr(value, "name", None)


# one config class per method (xlt/methods), told apart by `name`
MethodSection = Annotated[Union[tuple(Annotated[c, Tag(c.model_fields["name"].default)] for c in method_configs())],
                          Discriminator(_method_tag)]


def _default_method() -> MethodConfig:
    return METHODS.get("lora").config()


def _translator_tag(value) -> str | None:
    return value.get("name") if isinstance(value, dict) else getattr(value, "name", None)


# one config class per translator (xlt/translate), told apart by `name`
TranslatorSection = Annotated[Union[tuple(Annotated[c, Tag(c.model_fields["name"].default)]
                                         for c in translator_configs())], Discriminator(_translator_tag)]


class Resources(Strict):
    """What each run asks of a Ray cluster (`xlt run --ray`); a sequential run ignores it."""

    cpus_per_run: float = Field(1, gt=0)
    """CPU cores reserved per run (and its torch threads, unless training.threads says otherwise)."""
    gpus_per_run: float = Field(0, ge=0)
    """GPUs per run; a fraction shares one GPU between runs (0.5: two runs per GPU)."""
    retries: int = Field(3, ge=0)
    """How often a run whose worker died (a killed process, a lost node) is started again."""


class Translation(Strict):
    """Machine translation inside the transfer loop: the translate_test and translate_train strategies
    (see docs/translation.md)."""

    translator: TranslatorSection
    """Which translator, with its settings: `{name: apertium}`, `{name: dictionary, lexicons: [...]}`,
    `{name: parallel, dataset: nusax-senti}` (gold translations: the oracle), `{name: hf, model: ...}`."""
    with_source: bool = False
    """translate_train: train on the source-language originals as well as their translations."""
    cache: str | None = setting(None, identity="none")
    """The translation cache (SQLite); default: translations.sqlite in xlt's user cache directory."""


class ModelEntry(Strict):
    """A model written out in full (`model:` or an entry of `models:`); a plain string is its `path`."""

    path: str
    """embedded:multilingual-e5-small (built in), a local model directory, or a hub id (online)."""
    name: str | None = setting(None, identity="none")
    """Its name in tables and folders (default: the directory's or hub id's last part)."""
    pooling: Literal["mean", "cls"] | None = None
    """The sentence vector: mean over tokens, or the first token (default: the model's sentence-transformers
    config, else mean)."""
    prefix: str | None = None
    """Prepended to every input text (default: e5's "query: " for e5 models, else none)."""

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"model name {name!r} names a folder: use letters, digits, '.', '_' and '-'")
        return name

    def display_name(self) -> str:
        from xlt.models.resolve import model_name

        return self.name or model_name(self.path)


# A model reference: a plain string (its path), or the entry written out. Discriminated by its kind, so an
# error in an entry names the entry's key, not the string alternative.
ModelRef = Annotated[Union[Annotated[str, Tag("path")], Annotated[ModelEntry, Tag("entry")]],
                     Discriminator(lambda v: "path" if isinstance(v, str) else "entry")]


def model_display_name(model: "str | ModelEntry") -> str:
    from xlt.models.resolve import model_name

    return model.display_name() if isinstance(model, ModelEntry) else model_name(model)


class Experiment(Strict):
    """One experiment: a task, a model, one or more methods, a source and targets, and the protocol."""

    name: str = setting("experiment", identity="none")
    """The experiment's name in reports and model cards."""
    task: str = DEFAULT_TASK
    """A registered task (xlt/tasks): classification, ner, pos."""
    model: ModelRef = "embedded:multilingual-e5-small"
    """embedded:multilingual-e5-small (built in, offline), a local model directory, or a hub id (online); or
    `{path: ..., name: ..., pooling: mean|cls, prefix: ...}`."""
    models: list[ModelRef] = setting([], identity="none")
    """Several models compared on the same data (instead of model:): each runs the whole protocol with its own
    source stages, in its own sub-folder, and the report compares them (docs/models.md)."""
    method: MethodSection = setting(default_factory=_default_method, identity="none")
    """How parameters adapt (see docs/methods.md); each run is identified by its own method's settings. Left
    out: the task's default (classification: frozen; token tasks: lora), and so is a section without `name:`
    (`method: {lr: 1e-4}` tunes the default method)."""
    methods: list[MethodSection] = setting([], identity="none")
    """Several methods compared on the same data (instead of method:)."""
    source: DataSource | None = setting(None, omit_when=None)
    """The source language's data: what the model learns the task from."""
    sources: Sources | None = setting(None, omit_when=None)
    """Several sources instead of one (see docs/multi-source.md): trained jointly, or each on its own."""
    targets: list[DataSource] = setting(identity="none")
    """The target languages' data; each run is identified by its own target. `{dataset: X, languages: [...]}`
    (or `languages: all`) lists the languages of a named benchmark."""
    preprocess: Preprocess = Field(default_factory=Preprocess)
    """Text cleaning (text classification only), with a report of what each step changed."""
    protocol: Protocol = Field(default_factory=Protocol)
    """Strategies, few-shot sizes and seeds."""
    training: Training = Field(default_factory=Training)
    """Training settings shared by every stage."""
    augment: Augment = Field(default_factory=Augment)
    """What is added to the source data."""
    translation: Translation | None = setting(None, identity="translation", omit_when=None)
    """The translator of the translate_test and translate_train strategies."""
    output: Output = setting(default_factory=Output, identity="none")
    """Where results go, and which models are saved."""
    resources: Resources = setting(default_factory=Resources, identity="none")
    """CPUs, GPUs and retries of each run on Ray (`xlt run --ray`, docs/models.md)."""
    data_dir: str | None = setting(None, identity="none")
    """The named datasets' local mirror (default: XLT_DATA_DIR, then [tool.xlt] data_dir, then downloads)."""
    split_ratios: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SPLIT_RATIOS))
    """The one split policy: splits a dataset lacks are made with these ratios, stratified by label
    (sentences: at random), seeded by split_seed."""
    split_seed: int = 0
    """Seed of the splits xlt makes and of train_limit's samples."""
    collapse_recall: float = setting(0.1, identity="run")
    """A class recalled less than this flags a collapse."""
    shortcut_keywords: dict[str, str] = setting({}, identity="none")
    """Language code -> keyword to check (e.g. ara: اكتئاب); default: top token."""
    baselines: list[Literal["tfidf-lr", "embedding-lr"]] | None = setting(None, identity="none")
    """Simple recipes beside the method (default: the task's)."""
    notice: str | None = setting(None, identity="none")
    """Shown with every prediction (set by the depression preset)."""
    positive_label: str | None = setting(None, identity="none")
    """Binary tasks: the class of the Table 5 layout (default: last label in sorted order)."""
    ablate_preprocessing: bool = setting(False, identity="none")
    """Also run everything without text rewriting; the report compares the two."""

    @model_validator(mode="before")
    @classmethod
    def _method_names(cls, data):
        """A method section without `name` is the task's default method with those settings, as a config with
        no method: at all is: otherwise `method: {lr: 1e-4}` (or `--set method.lr=1e-4`) would quietly switch a
        classification run from the frozen default to LoRA."""
        if not isinstance(data, dict):
            return data
        from xlt.tasks import TASKS

        task = data.get("task", DEFAULT_TASK)
        if not isinstance(task, str) or task not in TASKS:
            return data  # the task's own check names the valid ones
        default = TASKS.get(task).default_method

        def named(section):
            return {"name": default, **section} if isinstance(section, dict) and "name" not in section else section

        data = dict(data)
        if "method" in data:
            data["method"] = named(data["method"])
        if isinstance(data.get("methods"), list):
            data["methods"] = [named(m) for m in data["methods"]]
        return data

    @field_validator("targets", mode="before")
    @classmethod
    def _target_languages(cls, value):
        return _expand_languages(value)

    @field_validator("task")
    @classmethod
    def _known_task(cls, name: str) -> str:
        from xlt.tasks import TASKS

        if name not in TASKS:
            raise ValueError(unknown_name("task", name, TASKS.names()))
        return name

    @field_validator("split_ratios")
    @classmethod
    def _ratios(cls, ratios: dict[str, float]) -> dict[str, float]:
        bad = set(ratios) - {"train", "validation", "test"}
        if bad or "train" not in ratios or any(v <= 0 for v in ratios.values()):
            raise ValueError("give positive shares for train (required), validation and test, e.g. "
                             "{train: 0.7, validation: 0.15, test: 0.15}")
        return ratios

    @model_validator(mode="after")
    def _methods(self):
        from xlt.tasks import get_task

        task = get_task(self.task)
        if (self.source is None) == (self.sources is None):
            raise ValueError("give source: (one data source) or sources: (several), exactly one of them")
        if self.sources is not None and (self.augment.code_switch or self.augment.silver_tags):
            raise ValueError("augment: adds to a single source's data; with sources: remove augment:")
        if self.sources is not None and self.ablate_preprocessing:
            raise ValueError("ablate_preprocessing runs with a single source; with sources: remove it")
        if self.methods and "method" in self.model_fields_set:
            raise ValueError("give method: (one) or methods: (a list to compare), not both")
        if self.models and "model" in self.model_fields_set:
            raise ValueError("give model: (one) or models: (a list to compare), not both")
        model_names = [model_display_name(m) for m in self.models]
        if len(set(model_names)) != len(model_names):
            raise ValueError(f"models: each model name once (got {model_names}); give entries distinct name: values")
        if "strategies" not in self.protocol.model_fields_set:  # the defaults of this task's kind of data
            from xlt.protocol.strategies import STRATEGIES

            self.protocol.strategies = [s for s in self.protocol.strategies
                                        if task.data_kind in STRATEGIES.get(s).default_for]
        if not self.methods and "method" not in self.model_fields_set:  # the task's default method
            self.method = METHODS.get(task.default_method).config()
        names = [m.name for m in self.method_list()]
        if len(set(names)) != len(names):
            raise ValueError(f"methods: each method name once (got {names})")
        for m in self.method_list():
            m.apply_task_defaults(task)
        if self.baselines is None:
            self.baselines = list(task.baselines)
        elif self.baselines and not task.sentence_head:
            raise ValueError(f"baselines {self.baselines} are text-classification baselines; use baselines: [] "
                             f"for {self.task}")
        if self.augment.silver_tags and not task.entity_types:
            raise ValueError(f"augment.silver_tags adds entity tags to NER data; this is a {self.task} task: remove it")
        proto = self.protocol
        unset = {"ensemble": ("none",), "label_shift": ("none",), "collapse_guard": (None,),
                 "rare_class_guard": (0.0,), "prior_matching": (0.0, None)}
        text_only = [k for k, values in unset.items() if getattr(proto, k) not in values]
        text_only += ["self_training.quota"] if proto.self_training.quota not in (None, "even") else []
        if text_only and not task.sentence_head:
            raise ValueError(f"protocol.{', '.join(text_only)} adjust(s) text classification; a {self.task} task "
                             "has no class per text: remove it")
        if proto.self_training.quota is None:  # chosen leave-one-dataset-out (docs/defaults.md)
            proto.self_training.quota = "source" if task.sentence_head else "even"
        if proto.prior_matching is None:  # chosen on NusaX-senti, held on the reporting sets (docs/defaults.md)
            proto.prior_matching = 0.5 if task.sentence_head else 0.0
        if self.training.head_init == "probe" and not task.sentence_head:
            raise ValueError(f"training.head_init: probe fits a sentence classifier's head first; {self.task} trains "
                             "its per-token head with the encoder: remove head_init")
        if self.ablate_preprocessing and (not task.cleans_text or not self.preprocess.rewrite_text
                                          or not any(getattr(self.preprocess, s) for s in REWRITING_STEPS)):
            raise ValueError("ablate_preprocessing compares text cleaning on and off: it needs a classification task "
                             f"and at least one of preprocess.{', '.join(REWRITING_STEPS)} switched on")
        return self

    def source_list(self) -> list[DataSource]:
        """The data sources written in the config (`sources:` by dataset and languages not yet resolved)."""
        return [self.source] if self.sources is None else list(self.sources.data)

    def method_list(self) -> list[MethodConfig]:
        return self.methods or [self.method]

    def model_list(self) -> list["str | ModelEntry"]:
        return self.models or [self.model]

    def model_name(self) -> str:
        """The (one) model's name in records and tables."""
        return model_display_name(self.model)

    def model_path(self) -> str:
        """The (one) model's reference: embedded:..., a directory or a hub id."""
        return self.model.path if isinstance(self.model, ModelEntry) else self.model

    def resolved(self) -> dict:
        return self.model_dump(mode="json")

    def without_text_cleaning(self) -> "Experiment":
        """The ablation arm: the same experiment with the same rows, their text not rewritten."""
        return self.model_copy(update={"preprocess": self.preprocess.without_rewriting(), "ablate_preprocessing": False})


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


def _models_in(annotation) -> list[type[BaseModel]]:
    """The config sections an annotation can hold (through Optional, list, Union and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in getattr(annotation, "__args__", ()) for m in _models_in(a)]


def _walk(loc: tuple) -> tuple[tuple, type[BaseModel] | None]:
    """An error location as the YAML key path (a method section's tag, which pydantic adds to the
    location, taken out) and the section that holds its last key."""
    model: type[BaseModel] | None = Experiment
    path: list = []
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        path.append(part)
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return tuple(path + parts), None
        cands = _models_in(field.annotation)
        while parts and isinstance(parts[0], int):
            path.append(parts.pop(0))
        if len(cands) > 1 and parts and isinstance(parts[0], str):  # a union tagged by name: the tag is no key
            tag = parts.pop(0)
            cands = [c for c in cands if c.model_fields["name"].default == tag] or cands
        model = cands[0] if cands else None
    return tuple(path), model


def _unknown_key(dotted: str, key: str, section: type[BaseModel] | None) -> str:
    if section is None:
        return f"unknown key {dotted!r}"
    valid = list(section.model_fields)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if issubclass(section, MethodConfig):
        owners = [m.name for m in METHODS if key in m.config.model_fields]
        kind = section.model_fields["name"].default
        also = f"; {key!r} is a key of method {', '.join(owners)}" if owners else ""
        return f"unknown key {dotted!r} for method {kind}{hint} (its keys: {', '.join(valid)}{also})"
    return f"unknown key {dotted!r}{hint}" + ("" if close else f" (valid keys: {', '.join(valid)})")


def parse_config(data: dict, source: str = "<config>", text: str = "",
                 overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    """An Experiment from a config's mapping; `overrides` are `key.path=value` settings over it (see
    `apply_overrides`), and an error in one of them names it instead of a line of the file."""
    if not isinstance(data, dict):
        raise XltError(f"{source}: the config must be a YAML mapping of keys (name:, source:, targets:, ...)")
    data, set_paths = apply_overrides(data, overrides)
    data = _apply_presets(data, source)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise XltError(_explain(exc.errors()[0], source, text, set_paths)) from None


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...]) -> tuple[dict, dict[tuple, str]]:
    """The config's mapping with each `key.path=value` set (the value read as YAML, so `[1, 2]` is a list and
    `5e-5` a number; sections a path names are created), and each set path with the text that set it. One
    config then serves another seed, target list or learning rate without a copy that drifts from it."""
    import copy

    data, set_paths = copy.deepcopy(data), {}
    for item in overrides:
        key, eq, value = item.partition("=")
        parts = tuple(key.strip().split("."))
        if not eq or not all(parts):
            raise XltError(f"--set {item!r}: write KEY=VALUE with a dotted key, e.g. --set protocol.seeds=[1,2]")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise XltError(f"--set {item!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)}); "
                           "quote the whole setting for the shell, e.g. --set 'targets.languages=[jav, sun]'") from None
        node: dict | list = data
        for i, part in enumerate(parts):
            where = ".".join(parts[:i])
            if isinstance(node, list):  # a list's item by its position: targets.0.languages
                if not part.isdigit() or int(part) >= len(node):
                    rest = ".".join(parts[i + part.isdigit():]) or "KEY"
                    raise XltError(f"--set {item!r}: {where} is a list of {len(node)}; give a position from 0 to "
                                   f"{len(node) - 1}, e.g. --set {where}.0.{rest}=VALUE")
                part = int(part)
            elif not isinstance(node, dict):
                raise XltError(f"--set {item!r}: {where} is {node!r} in the config, not a section of keys; "
                               f"set it whole, e.g. --set {where}=VALUE")
            if i == len(parts) - 1:
                node[part] = parsed
            else:
                if isinstance(node, dict) and node.get(part) is None:
                    node[part] = {}
                node = node[part]
        set_paths[tuple(int(p) if p.isdigit() else p for p in parts)] = item
    return data, set_paths


def _explain(err: dict, source: str, text: str, set_paths: dict[tuple, str] | None = None) -> str:
    """One pydantic error as `file:line: what is wrong and how to fix it`, or `--set KEY=VALUE: ...` when a
    command-line setting caused it."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.endswith(("]", ")"))))
    key_path, section = _walk(loc)
    if err["type"] == "extra_forbidden":
        key_path, section = _walk(loc[:-1])
        key_path = key_path + loc[-1:]
    lines = _line_map(text)
    line = next((lines[key_path[:i]] for i in range(len(key_path), 0, -1) if key_path[:i] in lines), None)
    where = f"{source}:{line}" if line else source
    setting = next((item for path, item in (set_paths or {}).items()
                    if key_path[:len(path)] == path or path[:len(key_path)] == key_path), None)
    if setting:
        where = f"{source} with --set {setting!r}"
    dotted = ".".join(str(p) for p in key_path) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{where}: {_unknown_key(dotted, str(key_path[-1]), section)}"
    if err["type"] == "union_tag_invalid":
        kind, names = ("translator", TRANSLATORS.names()) if "translation" in key_path else ("method", METHODS.names())
        return f"{where}: {dotted}: {unknown_name(kind, err['ctx']['tag'], names)}"
    if err["type"] == "union_tag_not_found":
        return f"{where}: {dotted}: give the translator's name: (one of {', '.join(TRANSLATORS.names())})"
    if err["type"] == "missing":
        return f"{where}: missing required key {dotted!r}"
    return f"{where}: {dotted}: {err['msg'].removeprefix('Value error, ')}"


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


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, but a key written twice in one mapping is an error (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise XltError(f"{self.name}:{key_node.start_mark.line + 1}: key {key!r} is written twice in one "
                               f"mapping (first on line {seen[key]}); keep one")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    """The Experiment a YAML config describes, with `overrides` (`key.path=value`) set over it."""
    path = Path(path)
    if not path.exists():
        raise XltError(f"config file not found: {path}")
    if path.is_dir():
        raise XltError(f"{path} is a directory; give the config file (a .yaml) inside it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise XltError(f"{path} is not valid UTF-8; re-save it as UTF-8") from None
    try:
        loader = _UniqueKeys(text)
        loader.name = str(path)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise XltError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_config(data, str(path), text, overrides)
