"""The simple recipes every classification report shows beside xlt's method, on the same splits:

- tfidf-lr:     TF-IDF word uni+bigrams + logistic regression (also the bag-of-words shortcut check:
                when it comes close to the model within one language, keywords may be doing the work);
                character 1-3-grams for scripts written without spaces (Japanese, Chinese, Thai), where
                whitespace "words" are whole clauses
- embedding-lr: the encoder's frozen embeddings, pooled as the model says (mean or first token) and
                L2-normalised, + logistic regression (never collapsed in the calibration runs; the stronger
                simple recipe on distant languages)

Each strategy declares the rows its baselines fit on (`Strategy.rows`): zero-shot fits on the source
language only; few-shot on source plus the N-example target sample; full-shot and joint on source plus
target. The regularisation C is chosen on the same validation data the method selects on.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from xlt.data.preprocess import NO_SPACE_RE
from xlt.evaluate.metrics import classification_metrics
from xlt.methods.frozen import logistic_regression_by_validation
from xlt.protocol.strategies import STRATEGIES
from xlt.store import versions

C_GRID = (0.1, 1.0, 10.0, 100.0)
BASELINES = ("tfidf-lr", "embedding-lr")


def _embed(ctx, rows) -> np.ndarray:
    from xlt.train import pooled_features

    feats = pooled_features(ctx.frozen_encoder(), ctx.tokenizer, ctx.encode(rows).ids).numpy()
    return feats / np.linalg.norm(feats, axis=1, keepdims=True).clip(1e-12)


def tfidf_vectorizer(texts: list[str]) -> TfidfVectorizer:
    """Word uni+bigrams, or character 1-3-grams when most letters belong to scripts without spaces."""
    letters = sum(len(t) - t.count(" ") for t in texts)
    dense = sum(len(NO_SPACE_RE.findall(t)) for t in texts)
    if letters and dense / letters > 0.3:
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, max_features=200_000)
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=200_000)


def _features(ctx, method: str, train, val, test):
    if method == "tfidf-lr":
        vec = tfidf_vectorizer([r.text for r in test])  # the language being scored decides
        x_train = vec.fit_transform([r.text for r in train])
        return x_train, vec.transform([r.text for r in val]), vec.transform([r.text for r in test]), vec.analyzer
    return _embed(ctx, train), _embed(ctx, val), _embed(ctx, test), "embeddings"


def strategy_rows(ctx, key) -> tuple[list, list, str]:
    """What a run's simple counterpart fits on: the strategy's own rows; a strategy that declares none (the
    self-training ones) is compared with the rows of the strategy it extends (few-shot, or zero-shot)."""
    strategy = STRATEGIES.get(key.strategy)
    try:
        return strategy.rows(ctx, key)
    except NotImplementedError:
        return STRATEGIES.get("few_shot" if strategy.uses_shots else "zero_shot").rows(ctx, key)


def embedding_head_probabilities(ctx, key, test) -> tuple[np.ndarray, dict]:
    """The embedding-lr baseline of run `key`, fitted as it fits, applied to `test`: class probabilities in
    ctx.labels order and what to record of the fit (the ensemble and the collapse guard use it)."""
    train, val, _ = strategy_rows(ctx, key)
    clf, c, val_f1, _ = logistic_regression_by_validation(_embed(ctx, train), [r.label for r in train],
                                                          _embed(ctx, val), [r.label for r in val], C_GRID)
    return _in_label_order(ctx, clf, clf.predict_proba(_embed(ctx, test))), {"C": c, "val_macro_f1": val_f1}


def _in_label_order(ctx, clf, probs: np.ndarray) -> np.ndarray:
    full = np.zeros((len(probs), len(ctx.labels)))
    for j, lab in enumerate(clf.classes_):
        full[:, ctx.labels.index(lab)] = probs[:, j]
    return full


def run_baseline(ctx, key) -> dict:
    """Fit, select C on validation, evaluate on test, record in the store like any run."""
    run_hash = ctx.run_hash(key)
    run_id = key.run_id(run_hash)
    ctx.store.mark_started(run_id, key, run_hash, {"experiment": ctx.exp.name, "model": ctx.exp.model_path()})
    t0 = time.perf_counter()
    train, val, selection = STRATEGIES.get(key.strategy).rows(ctx, key)
    test = STRATEGIES.get(key.strategy).test_rows(ctx, key)
    x_train, x_val, x_test, features = _features(ctx, key.method, train, val, test)
    y_train = [r.label for r in train]
    clf, c, val_f1, _ = logistic_regression_by_validation(x_train, y_train, x_val, [r.label for r in val], C_GRID)
    train_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = list(clf.predict(x_test))
    probs = clf.predict_proba(x_test)
    gold = [r.label for r in test]
    present = sorted(set(gold) | set(pred), key=ctx.labels.index)
    metrics = classification_metrics(gold, pred, present, ctx.exp.collapse_recall)
    metrics["score"] = metrics["macro_f1"]
    preds = None
    if ctx.exp.output.save_predictions:
        preds = list(zip(gold, pred, _in_label_order(ctx, clf, probs).tolist()))
    ctx.store.finish(run_id, metrics, selection, train_seconds, time.perf_counter() - t1, versions(),
                     {"C": c, "best_val_f1": val_f1, "train_rows": len(train), "features": features}, preds)
    return metrics
