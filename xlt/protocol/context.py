"""Everything a run needs, loaded once per experiment: the config, the model reference and tokenizer,
the task, the label set, the loaded languages, one instance of each method, and the results store."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xlt.config import DataSource, Experiment
from xlt.data.code_switch import code_switch
from xlt.data.examples import LanguageData
from xlt.identity import run_hash
from xlt.store import RunKey, Store


@dataclass
class Context:
    exp: Experiment
    out: Path
    spec: object  # the resolved model (xlt.models.ModelSpec)
    tokenizer: object
    task: object  # the xlt.tasks Task
    labels: list[str]
    source: LanguageData
    targets: list[LanguageData]
    methods: dict[str, object]  # method name -> AdaptationMethod, one instance per experiment
    switch_words: dict[str, list[str]] | None = None  # merged code-switching dictionaries (augment.code_switch)
    store: Store | None = None  # opened once every check has passed
    stages: object = None  # the SourceStages of this output folder
    _switched: dict = field(default_factory=dict)  # seed -> (code-switched source rows, what to record)
    _encoder: object = None  # the untouched encoder (frozen-embedding baseline), loaded on first use
    translator: object = None  # the configured translator (translation:), with its cache
    translations: object = None  # the TranslationCache
    _translated: dict = field(default_factory=dict)  # (split, from, to) -> (rows, cache statistics)
    data_dir: str | None = None  # the data mirror (named corpora a method reads: alignment's parallel sentences)
    align_pairs: object = None  # training.align_loss's encoded parallel pairs (xlt.align.loss.PairBatches)
    auxiliary: dict | None = None  # few_shot_meta's auxiliary languages (language -> LanguageData)
    text_profiles: dict = field(default_factory=dict)  # language key -> its TextProfile (source ranking)

    @property
    def label2id(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    def encode(self, rows: list):
        return self.task.encode(self.tokenizer, rows, self.spec.text_prefix, self.exp.training.max_length,
                                self.label2id)

    def data_for(self, key: RunKey) -> LanguageData:
        """The language a run is scored on: the source for the source reference, else its target."""
        from xlt.protocol.strategies import STRATEGIES

        if STRATEGIES.get(key.strategy).scores_source:
            return self.source
        return next(t for t in self.targets if (t.dataset, t.language) == (key.dataset, key.language))

    def target_config(self, language: LanguageData) -> DataSource:
        return next(cfg for cfg, ld in zip(self.exp.targets, self.targets) if ld is language)

    def run_hash(self, key: RunKey, scored_on: LanguageData | None = None) -> str:
        """The hash in a run's id (xlt/identity.py): the source reference is identified like its stage; a
        strategy that reads translations is identified by the translation settings too."""
        target = scored_on if scored_on is not None else self.data_for(key)
        cfg = None if target is self.source else self.target_config(target)
        return run_hash(self.exp, key.method, cfg, self.labels, self.identity_roles(key))

    def identity_roles(self, key: RunKey) -> tuple[str, ...]:
        """The setting roles beyond stage and run that identify this run: its strategy's, less the few-shot
        guard's for the simple baselines, which never read it."""
        from xlt.protocol.strategies import STRATEGIES

        roles = STRATEGIES.get(key.strategy).identity_roles
        if key.method not in {m.name for m in self.exp.method_list()}:
            roles = tuple(r for r in roles if r != "few_shot")
        return roles

    def translated(self, data: LanguageData, split: str, to: str) -> tuple[list, dict]:
        """One split of `data` translated into language `to` (through the cache, once per experiment), and the
        cache statistics of the first translation (a second run of the same config translates nothing)."""
        key = (data.key(), split, to)
        if key not in self._translated:
            from xlt.translate.cache import TranslationCache, default_path
            from xlt.translate.rows import translate_rows

            if self.translations is None:
                self.translations = TranslationCache(self.exp.translation.cache or default_path())

            rows, stats = translate_rows(self.translator, self.translations, data.splits[split], data.language, to)
            self._translated[key] = rows, {"translator": self.translator.label(),
                                           "version": self.translator.version(data.language, to),
                                           f"{split}_{data.language}_to_{to}": stats.as_dict()}
        return self._translated[key]

    def source_train(self, seed: int) -> tuple[list, dict]:
        """The source training rows every source-trained run learns from: the originals plus, with
        augment.code_switch, their code-switched copies (seeded); and what to record of the copies."""
        cfg = self.exp.augment.code_switch
        if cfg is None:
            return self.source.splits["train"], ({"sources": self.source.shares} if self.source.shares else {})
        if seed not in self._switched:
            rows, stats = code_switch(self.source.splits["train"], self.switch_words, cfg.ratio, cfg.copies, seed)
            self._switched[seed] = (rows, {"code_switch": stats.as_dict()})
        rows, info = self._switched[seed]
        return self.source.splits["train"] + rows, info

    def fresh_model(self, seed: int, method_name: str, encoder: dict | None = None):
        """A new model for this seed: the head and adapter initialisation depend on the seed. `encoder` replaces
        the pretrained encoder's weights (names relative to the encoder module; the word embeddings may be left
        out)."""
        from xlt.train import seed_everything

        seed_everything(seed)
        method = self.methods[method_name]
        model = self.task.load_model(self.spec, self.labels)
        if encoder is not None:
            missing = set(encoder) - set(model.base_model.state_dict())
            if missing:
                raise RuntimeError(f"adapted encoder weights the model lacks: {sorted(missing)[:3]}")
            model.base_model.load_state_dict(encoder, strict=False)
        return method, method.prepare(model)

    def frozen_encoder(self):
        """The untouched encoder under a pooled head: the frozen-embedding baseline's features."""
        if self._encoder is None:
            from xlt.models import load_classifier
            from xlt.train import device

            self._encoder = load_classifier(self.spec, len(self.labels), dict(enumerate(self.labels))).to(device())
        return self._encoder
