"""Token classification (NER, POS) on words.

Only the first subword of each word carries the word's label; the other subwords are ignored in
the loss (-100) and in scoring, so scores count words and entities, not subwords. A word with no
subword inside max_length (truncated, or a character the tokenizer drops) gets the fallback tag
("O" for NER) and is counted in the metrics as `words_unpredicted`.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from xlt.data.examples import TokenExample
from xlt.tasks import TASKS
from xlt.tasks.base import LoraDefaults, Task


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


def predict_words_with_confidence(model, tokenizer, enc: WordEncoded, labels: list[str], fallback: str,
                                  batch_size: int = 64, bf16: bool = False) -> tuple[list[list[str]], list[list[float]]]:
    """Word-level tags and each tag's probability (softmax at the word's first subword; 0 for a word
    given the fallback tag), in input order; batches sorted by length."""
    import torch

    with torch.inference_mode():
        return _predict_words(model, tokenizer, enc, labels, fallback, batch_size, bf16)


def _predict_words(model, tokenizer, enc, labels, fallback, batch_size, bf16):
    import torch

    from xlt.train import autocast, collate, length_grouped_batches, to_device

    model.eval()
    dev = next(model.parameters()).device
    tags: list[list[str]] = [[] for _ in enc.ids]
    confidence: list[list[float]] = [[] for _ in enc.ids]
    for batch_idx in length_grouped_batches([len(x) for x in enc.ids], batch_size, None):
        batch = to_device(collate([enc.ids[i] for i in batch_idx], tokenizer.pad_token_id), dev)
        with autocast(dev, bf16):
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
    import numpy as np
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


def confident_sentences(tags: list[list[str]], confidence: list[list[float]], fraction: float,
                        entity_free_share: float | None) -> list[int]:
    """Indices of the sentences to keep, ranked by their least confident word: the top `fraction` of
    all sentences, or with `entity_free_share` (NER) the top `fraction` of those with a predicted
    entity plus at most as many entity-free ones as make up that share of the kept set."""
    order = sorted(range(len(tags)), key=lambda i: -min(confidence[i], default=0.0))
    if entity_free_share is None:
        return sorted(order[:math.floor(fraction * len(tags))])
    with_entity = [i for i in order if any(t != "O" for t in tags[i])]
    without = [i for i in order if all(t == "O" for t in tags[i])]
    keep = with_entity[:math.floor(fraction * len(with_entity))]
    share = min(entity_free_share, 0.99)
    return sorted(keep + without[:math.floor(len(keep) * share / (1 - share))])


def repair_iob2(tags: list[str]) -> list[str]:
    """An I-X that does not continue an X entity starts one (B-X), as strict IOB2 scoring reads it."""
    out: list[str] = []
    for t in tags:
        if t.startswith("I-") and (not out or out[-1] == "O" or out[-1][2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
    return out


def words_of(texts: list[str]) -> list[TokenExample]:
    """Raw texts as sentences of whitespace-separated words (tags unset: O)."""
    return [TokenExample(tuple(t.split()), ("O",) * len(t.split())) for t in texts]


class TaggingTask(Task):
    """One tag per word, predicted at the word's first subword."""

    data_kind = "tokens"
    unit = "sentences"
    peft_task_type = "TOKEN_CLS"
    pipeline_tag = "token-classification"
    # r 16 on every linear layer at lr 5e-4: on MasakhaNER 2.0 zero-shot, r 8 on query/value was 7.4 entity F1
    # below full fine-tuning and still underfitted English; this came within 2 (BENCHMARKS.md). 1e-3 diverged.
    lora = LoraDefaults(r=16, alpha=32, target_modules=("query", "key", "value", "dense"), lr=5e-4)
    report_sections = ("methods_by_setting", "per_type")
    fallback = "O"  # the tag of a word with no subword inside max_length
    card_loading = "AutoModelForTokenClassification.from_pretrained(path)"
    card_input = "words are tagged on their first subword (is_split_into_words=True)."

    def load_model(self, spec, labels: list[str]):
        from transformers import AutoModelForTokenClassification

        from xlt.models.resolve import from_pretrained

        return from_pretrained(AutoModelForTokenClassification, spec, num_labels=len(labels),
                               id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)})

    def encode(self, tokenizer, rows, prefix: str, max_length: int, label2id: dict[str, int]) -> WordEncoded:
        return encode_words(tokenizer, rows, max_length, label2id)  # no text prefix: it would shift words

    def labels_of(self, rows) -> set[str]:
        return {t for r in rows for t in r.tags}

    def predict(self, model, tokenizer, enc, labels, batch_size: int, bf16: bool, frozen: bool):
        return predict_words(model, tokenizer, enc, labels, self.fallback, batch_size, bf16), None

    def gold(self, rows: list[TokenExample]) -> list[list[str]]:
        return [list(r.tags) for r in rows]

    def validation_score(self, model, tokenizer, enc, labels, tcfg) -> float:
        from xlt.train import prediction_batch_size, use_bf16

        pred = predict_words(model, tokenizer, enc, labels, self.fallback, prediction_batch_size(tcfg), use_bf16(tcfg.bf16))
        gold = [[labels[y] for y in lab if y != -100] for lab in enc.labels]
        pred = [[t for t, p in zip(ps, first) if p >= 0] for ps, first in zip(pred, enc.first_subword)]
        return self.word_score(gold, pred)

    def word_score(self, gold: list[list[str]], pred: list[list[str]]) -> float:
        raise NotImplementedError

    def metrics(self, rows, pred, labels, collapse_recall, source_labels, enc=None) -> dict:
        m = self.tag_metrics([list(r.tags) for r in rows], pred, collapse_recall, source_labels)
        m["labels"] = labels
        m["words_unpredicted"] = sum(p < 0 for first in enc.first_subword for p in first) if enc else None
        m["n"] = len(rows)
        m["words"] = sum(len(r.tokens) for r in rows)
        return m

    def tag_metrics(self, gold, pred, collapse_recall: float, source_labels: list[str]) -> dict:
        raise NotImplementedError

    def unlabelled_rows(self, texts: list[str]) -> list:
        return words_of(texts)

    def pseudo_label(self, model, tokenizer, rows, enc, labels, fraction, prior, tcfg, frozen):
        from xlt.train import prediction_batch_size, use_bf16

        tags, conf = predict_words_with_confidence(model, tokenizer, enc, labels, self.fallback,
                                                   prediction_batch_size(tcfg), use_bf16(tcfg.bf16))
        keep = confident_sentences(tags, conf, fraction, prior)
        pseudo = [TokenExample(rows[i].tokens, tuple(repair_iob2(tags[i]))) for i in keep]
        return pseudo, {"pseudo_labelled": {"sentences": len(pseudo),
                                            "entity_free": sum(all(t == "O" for t in r.tags) for r in pseudo),
                                            **self._entity_counts(pseudo)},
                        "min_confidence": min((min(conf[i], default=0.0) for i in keep), default=None),
                        **({"source_entity_free_share": round(prior, 3)} if prior is not None else {})}

    def _entity_counts(self, rows: list[TokenExample]) -> dict:
        return {}

    def load_saved(self, model_dir, config):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(model_dir)

    def predict_texts(self, model, tokenizer, texts, labels, prefix, batch_size, max_length, bf16):
        rows = words_of(texts)
        enc = encode_words(tokenizer, rows, max_length, {})
        return predict_words(model, tokenizer, enc, labels, self.fallback, batch_size, bf16), None

    def record(self, text: str, prediction, probabilities, labels: list[str]) -> dict:
        return {"tokens": text.split(), "tags": prediction}


@TASKS.register
class NerTask(TaggingTask):
    """Named entities as IOB2 tags, scored by entity (seqeval, strict), over all gold tags."""

    name = "ner"
    metric_name = "Entity F1 (strict IOB2, all gold tags)"
    primary = "f1"
    entity_types = True

    def unseen_labels(self, source_labels: list[str], target) -> list[str]:
        """Target entity types the source never saw, with their test counts."""
        seen = {t[2:] for t in source_labels if t != "O"}
        counts: dict[str, int] = {}
        for r in target.splits["test"]:
            for t in r.tags:
                if t.startswith("B-") and t[2:] not in seen:
                    counts[t[2:]] = counts.get(t[2:], 0) + 1
        total = sum(t.startswith("B-") for r in target.splits["test"] for t in r.tags)
        return [f"{typ} ({n} of {total} test entities)" for typ, n in sorted(counts.items())]

    def word_score(self, gold, pred) -> float:
        return entity_metrics(gold, pred)["f1"]

    def tag_metrics(self, gold, pred, collapse_recall, source_labels) -> dict:
        import numpy as np

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
        m["collapsed"] = n_gold > 0 and (n_pred == 0 or m["recall"] < collapse_recall
                                          or m["precision"] < collapse_recall)
        m["collapse_reason"] = (f"{n_pred} entities predicted for {n_gold} gold, recall {m['recall']:.2f}, "
                                f"precision {m['precision']:.2f}" if m["collapsed"] else "")
        m["score"] = m["f1"]
        return m

    def pseudo_label_prior(self, source_rows: list) -> float | None:
        """The source's share of entity-free sentences: all-O sentences are the most confident, and a model
        fed more of them than that unlearns entities."""
        return sum(all(t == "O" for t in r.tags) for r in source_rows) / max(1, len(source_rows))

    def _entity_counts(self, rows: list[TokenExample]) -> dict:
        entities = Counter(t[2:] for r in rows for t in r.tags if t.startswith("B-"))
        return {"entities": dict(sorted(entities.items()))}

    def card_summary(self, metrics: dict) -> str:
        return (f"Entity F1 (strict IOB2) {metrics['f1']:.3f}, precision {metrics['precision']:.3f}, "
                f"recall {metrics['recall']:.3f}.")


@TASKS.register
class PosTask(TaggingTask):
    """Part-of-speech tags (UPOS), scored by word accuracy."""

    name = "pos"
    metric_name = "Accuracy"
    primary = "accuracy"
    fallback = "X"

    def word_score(self, gold, pred) -> float:
        return tag_accuracy(gold, pred)["accuracy"]

    def tag_metrics(self, gold, pred, collapse_recall, source_labels) -> dict:
        m = tag_accuracy(gold, pred)
        majority = Counter(t for s in gold for t in s).most_common(1)[0]
        share = majority[1] / sum(len(s) for s in gold)
        m["majority_tag_accuracy"] = share
        m["collapsed"] = m["accuracy"] <= share
        m["collapse_reason"] = (f"accuracy {m['accuracy']:.2f} no better than always {majority[0]} ({share:.2f})"
                                if m["collapsed"] else "")
        m["score"] = m["accuracy"]
        return m

    def card_summary(self, metrics: dict) -> str:
        return f"Word accuracy {metrics['accuracy']:.3f}."
