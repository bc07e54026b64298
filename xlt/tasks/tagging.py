"""Token classification (NER, POS) on words.

Only the first subword of each word carries the word's label; the other subwords are ignored in
the loss (-100) and in scoring, so scores count words and entities, not subwords. A word with no
subword inside max_length (truncated, or a character the tokenizer drops) gets the fallback tag
("O" for NER) and is counted in the metrics as `words_unpredicted`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from xlt.data.examples import TokenExample


@dataclass
class WordEncoded:
    """Token ids, per-subword labels (-100 except first subwords) and where each word starts."""

    ids: list[list[int]]
    labels: list[list[int]]
    first_subword: list[list[int]]  # per sentence, per word: subword position, or -1 when none


def encode_words(tokenizer, rows: list[TokenExample], max_length: int, label2id: dict[str, int]) -> WordEncoded:
    enc = tokenizer([list(r.tokens) for r in rows], is_split_into_words=True, truncation=True, max_length=max_length)
    ids, labels, firsts = [], [], []
    for i, r in enumerate(rows):
        word_ids = enc.word_ids(i)
        first = [-1] * len(r.tokens)
        lab = [-100] * len(word_ids)
        prev = None
        for pos, w in enumerate(word_ids):
            if w is not None and w != prev:
                first[w] = pos
                lab[pos] = label2id.get(r.tags[w], -100)
            prev = w
        ids.append(enc["input_ids"][i])
        labels.append(lab)
        firsts.append(first)
    return WordEncoded(ids, labels, firsts)


def predict_words(model, tokenizer, enc: WordEncoded, labels: list[str], fallback: str, batch_size: int = 64,
                  bf16: bool = False) -> list[list[str]]:
    """Word-level tags, in input order; batches sorted by length."""
    return predict_words_with_confidence(model, tokenizer, enc, labels, fallback, batch_size, bf16)[0]


@torch.inference_mode()
def predict_words_with_confidence(model, tokenizer, enc: WordEncoded, labels: list[str], fallback: str,
                                  batch_size: int = 64, bf16: bool = False) -> tuple[list[list[str]], list[list[float]]]:
    """Word-level tags and each tag's probability (softmax at the word's first subword; 0 for a word
    given the fallback tag), in input order; batches sorted by length."""
    from xlt.train import collate, length_grouped_batches

    model.eval()
    dev = next(model.parameters()).device
    tags: list[list[str]] = [[] for _ in enc.ids]
    confidence: list[list[float]] = [[] for _ in enc.ids]
    for batch_idx in length_grouped_batches([len(x) for x in enc.ids], batch_size, None):
        batch = {k: v.to(dev) for k, v in collate([enc.ids[i] for i in batch_idx], tokenizer.pad_token_id).items()}
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(**batch).logits
        prob, best = torch.softmax(logits.float(), -1).max(-1)
        prob, best = prob.cpu().numpy(), best.cpu().numpy()
        for row, i in enumerate(batch_idx):
            tags[i] = [labels[best[row, p]] if p >= 0 else fallback for p in enc.first_subword[i]]
            confidence[i] = [float(prob[row, p]) if p >= 0 else 0.0 for p in enc.first_subword[i]]
    return tags, confidence


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Strict IOB2 entity scores (seqeval): micro P/R/F1, macro F1 over types, per type."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    rep = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    types = sorted(k for k in rep if not k.endswith(" avg"))
    micro, macro = rep.get("micro avg", {}), rep.get("macro avg", {})
    return {
        "precision": float(micro.get("precision", 0.0)), "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)), "macro_f1": float(macro.get("f1-score", 0.0)),
        "per_type": {t: {"precision": float(rep[t]["precision"]), "recall": float(rep[t]["recall"]),
                         "f1": float(rep[t]["f1-score"]), "support": int(rep[t]["support"])} for t in types},
    }


def restrict_types(seqs: list[list[str]], keep: set[str]) -> list[list[str]]:
    """Entities of types outside `keep` become O (for scores over the source's tag set only)."""
    return [[t if t == "O" or t[2:] in keep else "O" for t in s] for s in seqs]


def tag_accuracy(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Word accuracy, per-tag precision/recall/F1 and macro-F1 over tags (scikit-learn)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    g = [t for s in gold for t in s]
    p = [t for s in pred for t in s]
    tags = sorted(set(g) | set(p))
    pr, rc, f1, sup = precision_recall_fscore_support(g, p, labels=tags, zero_division=0)
    return {
        "accuracy": float(accuracy_score(g, p)), "macro_f1": float(np.mean([f for f, s in zip(f1, sup) if s > 0])),
        "per_type": {t: {"precision": float(pr[i]), "recall": float(rc[i]), "f1": float(f1[i]), "support": int(sup[i])}
                     for i, t in enumerate(tags)},
    }


class TaggingTask:
    """NER (entity F1, strict IOB2) or POS (word accuracy)."""

    peft_task_type = "TOKEN_CLS"

    def __init__(self, name: str):
        self.name = name
        self.primary = "f1" if name == "ner" else "accuracy"
        self.primary_name = "Entity F1 (strict)" if name == "ner" else "Accuracy"
        self.fallback = "O" if name == "ner" else "X"

    def load_model(self, spec, labels: list[str]):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(
            spec.path, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)})

    def encode(self, tokenizer, rows, prefix: str, max_length: int, label2id: dict[str, int]) -> WordEncoded:
        return encode_words(tokenizer, rows, max_length, label2id)  # no text prefix: it would shift words

    def predict(self, model, tokenizer, enc, labels, batch_size: int, bf16: bool, frozen: bool):
        return predict_words(model, tokenizer, enc, labels, self.fallback, batch_size, bf16), None

    def gold(self, rows: list[TokenExample]) -> list[list[str]]:
        return [list(r.tags) for r in rows]

    def validation_score(self, model, tokenizer, enc, labels, tcfg) -> float:
        from xlt.train import use_bf16

        pred = predict_words(model, tokenizer, enc, labels, self.fallback, tcfg.eval_batch_size, use_bf16(tcfg.bf16))
        gold = [[labels[y] for y in lab if y != -100] for lab in enc.labels]
        pred = [[t for t, p in zip(ps, first) if p >= 0] for ps, first in zip(pred, enc.first_subword)]
        if self.name == "ner":
            return entity_metrics(gold, pred)["f1"]
        return tag_accuracy(gold, pred)["accuracy"]

    def metrics(self, rows: list[TokenExample], pred: list[list[str]], labels: list[str], exp,
                source_labels: list[str], enc: WordEncoded | None = None) -> dict:
        gold = [list(r.tags) for r in rows]
        if self.name == "ner":
            m = entity_metrics(gold, pred)
            seen = {t[2:] for t in source_labels if t != "O"}
            unseen = sorted({t[2:] for s in gold for t in s if t != "O"} - seen)
            m["unseen_types"] = unseen
            if unseen:
                m["seen_types_f1"] = entity_metrics(restrict_types(gold, seen), restrict_types(pred, seen))["f1"]
            m["token_accuracy"] = float(np.mean([g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]))
            n_pred = sum(t.startswith("B-") for s in pred for t in s)
            n_gold = sum(t.startswith("B-") for s in gold for t in s)
            m["entities_gold"], m["entities_pred"] = n_gold, n_pred
            # both ways of failing: (almost) no entities found, or entities everywhere
            m["collapsed"] = n_gold > 0 and (n_pred == 0 or m["recall"] < exp.collapse_recall
                                              or m["precision"] < exp.collapse_recall)
            m["collapse_reason"] = (f"{n_pred} entities predicted for {n_gold} gold, recall {m['recall']:.2f}, "
                                    f"precision {m['precision']:.2f}"
                                    if m["collapsed"] else "")
            m["score"] = m["f1"]
        else:
            m = tag_accuracy(gold, pred)
            majority = Counter(t for s in gold for t in s).most_common(1)[0]
            share = majority[1] / sum(len(s) for s in gold)
            m["majority_tag_accuracy"] = share
            m["collapsed"] = m["accuracy"] <= share
            m["collapse_reason"] = (f"accuracy {m['accuracy']:.2f} no better than always {majority[0]} ({share:.2f})"
                                    if m["collapsed"] else "")
            m["score"] = m["accuracy"]
        m["labels"] = labels
        m["words_unpredicted"] = sum(p < 0 for first in enc.first_subword for p in first) if enc else None
        m["n"] = len(rows)
        m["words"] = sum(len(r.tokens) for r in rows)
        return m
