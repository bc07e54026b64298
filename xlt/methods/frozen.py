"""Frozen encoder + linear head: the encoder never changes, so pooled features are computed once,
cached, and only the head trains (seconds instead of minutes).

For classification the head is L2-regularised logistic regression (scikit-learn, L-BFGS) with its
strength C chosen on validation macro-F1, copied into the model's linear `classifier`, so the saved
model is an ordinary sequence classifier. Why not gradient descent on the head: with code-switched
source data the regularisation decides transfer (C 0.1 against unregularised: 70.1 against 63.8
zero-shot on NusaX, bench/frozen_head_probe.py), and a convex fit has one optimum, the same on every seed.
For the same reason "continuing" the head on target data is refitting it on source and target
together, the target rows weighted so that both languages weigh the same in the loss (xlt/protocol/stages.py):
starting a convex fit from the source optimum would forget it, and at their natural weight 100 target
rows beside 2,000 source rows barely count (few-shot 100 on NusaX, validation / test: natural weight
68.8 / 70.4, equal weight 72.6 / 71.7, seed 0; bench/frozen_head_probe.py --parts weight).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import field_validator, model_validator

from xlt.align.parallel import ParallelData
from xlt.errors import XltError
from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig, head_parameters
from xlt.settings import Strict, setting

if TYPE_CHECKING:
    import torch

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)


class Alignment(Strict):
    """A map from each target language's sentence vectors into the source language's, applied before the head
    (xlt/align/maps.py)."""

    map: Literal["procrustes", "mean_center"] = "procrustes"
    """procrustes: centre, then rotate onto the source space, fitted on parallel sentence pairs; mean_center:
    subtract the target language's mean vector and add the source's, from unlabelled text alone."""
    parallel: ParallelData | None = None
    """procrustes only: tatoeba, {dataset: nusax-senti} (its train rows) or {files: {LANG: [SOURCE, TARGET]}}."""
    max_pairs: int = setting(1000, ge=10)
    """At most this many sentence pairs (the first ones) fit the rotation."""
    with_target_labels: bool = setting(True, omit_when=True)
    """Also map the target rows of runs that train on target labels (few-shot, target-only, joint, full-shot).
    The default alignment sets it false: there the head learns from the target's own rows, and in the
    generalisation suite mean-centring added collapsed few-shot runs (docs/defaults.md)."""
    required: bool = setting(True, identity="none")
    """false: a target with no unlabelled text (no `unlabelled:` file, no training or validation split) is read
    unmapped, with a note in its run record, instead of stopping the run (the default alignment's choice)."""

    @model_validator(mode="after")
    def _parallel_matches_map(self):
        if self.map == "procrustes" and self.parallel is None:
            raise ValueError("map procrustes is fitted on parallel sentences: give parallel: tatoeba, "
                             "{dataset: nusax-senti} or {files: {LANG: [SOURCE_FILE, TARGET_FILE]}}, or use "
                             "map: mean_center, which needs only unlabelled text")
        if self.map == "mean_center" and self.parallel is not None:
            raise ValueError("map mean_center reads no parallel sentences; drop parallel: or use map: procrustes")
        return self


class FrozenConfig(MethodConfig):
    """lr and lr_continue are read by token tasks only: their per-word head trains by gradient descent."""

    name: Literal["frozen"] = "frozen"
    align: Alignment | Literal["none"] | None = setting(None, omit_when="none")
    """Sentence tasks: map target-language vectors into the source language's space before the head
    (docs/alignment.md); `none`: no map. Unset: `{map: mean_center, with_target_labels: false, required: false}`
    for text classification, chosen in the generalisation suite (docs/defaults.md); token tasks take none."""

    @field_validator("align", mode="before")
    @classmethod
    def _align_word(cls, value):
        if isinstance(value, str) and value != "none":
            raise ValueError(f"{value!r} is not a setting; give none (no map), {{map: mean_center}} or "
                             "{map: procrustes, parallel: ...}")
        return value

    def apply_task_defaults(self, task) -> None:
        if self.align is None:
            self.align = (Alignment(map="mean_center", with_target_labels=False, required=False)
                          if task.sentence_head else "none")


@METHODS.register
class FrozenEncoder(AdaptationMethod):
    name = "frozen"
    config = FrozenConfig
    default_lr = 1e-2  # token tasks only: their head trains by gradient descent in the training loop
    default_lr_continue = 5e-3

    def __init__(self, cfg, task):
        super().__init__(cfg, task)
        # per-token features are not cached: token tasks run the frozen encoder in every step
        self.frozen_features = task.sentence_head
        self.aligner = None  # align: set up per experiment (setup)

    def check(self, spec) -> None:
        from transformers import AutoConfig

        if isinstance(self.cfg.align, Alignment) and not self.frozen_features:
            raise XltError(f"method frozen's align: maps sentence vectors, and task {self.task.name} tags words; "
                           "use align: with a sentence classification task")

        from xlt.models.modeling_meanpool import POOLED_CLASSIFIERS

        kind = AutoConfig.from_pretrained(spec.path).model_type
        if self.frozen_features and kind not in POOLED_CLASSIFIERS:
            raise XltError(f"method frozen fits a linear head on pooled sentence vectors, built for the "
                           f"{', '.join(POOLED_CLASSIFIERS)} families, not {kind}; use method lora or full")

    def setup(self, ctx) -> None:
        if isinstance(self.cfg.align, Alignment):
            from xlt.align.aligner import Aligner

            self.aligner = Aligner(ctx, self.cfg.align)

    def prepare(self, model):
        heads = set(head_parameters(model))
        for k, p in model.named_parameters():
            p.requires_grad_(k in heads)
        if self.aligner is not None:
            self.aligner.attach(model)
        return model

    def use_language(self, model, language: str, labelled: bool = False) -> None:
        if self.aligner is not None:
            self.aligner.use(language, labelled)

    def head_features(self, x, languages: list[str] | None):
        if self.aligner is None:
            return x
        return self.aligner.map_rows(x, languages)

    def record(self, languages: list[str]) -> dict:
        if self.aligner is None or not self.aligner.mapping:  # a run on target labels reads them unmapped
            return {}
        info = {k: v for k, v in {**self.aligner.info, **self.aligner.skipped}.items() if k in languages}
        return {"alignment": info} if info else {}

    def save(self, model, tokenizer, out, extra_config: dict) -> None:
        if self.aligner is None:
            return super().save(model, tokenizer, out, extra_config)
        with self.aligner.folded(model):  # a plain classifier for this language: the map is in its head
            super().save(model, tokenizer, out, extra_config)


def fit_logistic_head(head: torch.nn.Linear, x: torch.Tensor, labels: list[int], xv: torch.Tensor | None,
                      val_labels: list[int] | None, balanced: bool, seed: int,
                      weights: list[float] | None = None, grid: tuple[float, ...] = C_GRID) -> dict:
    """Fit `head` as logistic regression on fixed features (`weights`: per-example sample weights),
    C chosen from `grid` on validation macro-F1 (C = 1 without validation data); returns the choice and
    each C's validation score."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:  # nothing to separate: always the one class seen
        with torch.no_grad():
            head.weight.zero_()
            head.bias.fill_(-1e4)
            head.bias[labels[0]] = 0.0
        return {"C": None, "val_macro_f1": None, "history": []}
    kwargs = {"class_weight": "balanced" if balanced else None, "random_state": seed}
    if xv is None:  # nothing to choose C on
        with one_blas_thread():
            clf = LogisticRegression(C=1.0, max_iter=3000, **kwargs).fit(x.numpy(), labels, sample_weight=weights)
        c, f1, history = 1.0, None, [{"C": 1.0, "val_macro_f1": None}]
    else:
        clf, c, f1, history = logistic_regression_by_validation(x.numpy(), labels, xv.numpy(), val_labels, grid,
                                                                weights, **kwargs)
    weight = np.zeros((head.out_features, x.shape[1]), dtype=np.float32)
    bias = np.full(head.out_features, -1e4, dtype=np.float32)  # a class absent from training is never predicted
    classes = clf.classes_.astype(int)
    if len(classes) == 2:  # sklearn keeps one row for two classes: logit difference = its decision function
        weight[classes[1]], bias[classes[0]], bias[classes[1]] = clf.coef_[0], 0.0, clf.intercept_[0]
    else:
        weight[classes], bias[classes] = clf.coef_, clf.intercept_
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    return {"C": c, "val_macro_f1": f1, "history": history}


def one_blas_thread():
    """A logistic-regression fit on a few thousand rows runs 10-15 times faster on one BLAS thread than on
    several, which spend their time synchronising (and stall outright when another process shares the
    cores): measured 0.1 s against 1-2 s per fit on 1,100 x 384 features, 2 cores."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def logistic_regression_by_validation(x, y, xv, yv, grid, sample_weight=None, **kwargs):
    """Logistic regression fitted at each C of `grid`, the one with the best validation macro-F1 kept
    (the first on ties): (model, C, its validation macro-F1, each C's score). Shared with the
    embedding and TF-IDF baselines."""
    from sklearn.linear_model import LogisticRegression

    from xlt.evaluate.metrics import macro_f1

    history, best = [], None
    for c in grid:
        with one_blas_thread():
            clf = LogisticRegression(C=c, max_iter=3000, **kwargs).fit(x, y, sample_weight=sample_weight)
        f1 = macro_f1(list(yv), list(clf.predict(xv)))
        history.append({"C": c, "val_macro_f1": f1})
        if best is None or f1 > best[2]:
            best = (clf, c, f1)
    return (*best, history)
