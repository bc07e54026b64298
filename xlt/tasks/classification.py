"""Text classification: one label per text, a pooled head over the encoder, macro-F1 as the primary score."""
from __future__ import annotations

import math

from xlt.tasks import TASKS
from xlt.tasks.base import LoraDefaults, Task


def confident_per_class(probs, fraction: float, shares=None) -> list[int]:
    """Indices of the most confident predictions, at most a fixed number from each predicted class.

    `shares` says how many: None ("even") fraction * n / classes each, so a model leaning to one class does
    not teach itself more of it; a list in label order ("source": the source data's class shares) fraction * n
    * the class's share; "predicted" the given fraction of each predicted class's own texts, which is
    class-balanced self-training (Zou et al., 2018: every class's confidence threshold is the same percentile
    of that class's confidences), keeping the target's predicted class mix."""
    import numpy as np

    pred, conf = probs.argmax(1), probs.max(1)
    k = probs.shape[1]
    if isinstance(shares, str):  # "predicted"
        quota = [fraction * n for n in np.bincount(pred, minlength=k)]
    else:
        quota = [fraction * len(probs) * (1 / k if shares is None else shares[c]) for c in range(k)]
    keep: list[int] = []
    for c in range(k):
        idx = np.flatnonzero(pred == c)
        keep += idx[np.argsort(-conf[idx], kind="stable")][:max(1, math.floor(quota[c]))].tolist()
    return sorted(keep)


@TASKS.register
class ClassificationTask(Task):
    name = "classification"
    metric_name = "Macro-F1"
    primary = "macro_f1"
    data_kind = "text"
    unit = "texts"
    peft_task_type = "SEQ_CLS"
    pipeline_tag = "text-classification"
    # r 8 on query/value at lr 1e-3 (NusaX-senti; BENCHMARKS.md)
    lora = LoraDefaults(r=8, alpha=16, target_modules=("query", "value"), lr=1e-3)
    baselines = ("tfidf-lr", "embedding-lr")
    # the frozen encoder + logistic-regression head, chosen on the generalisation suite (docs/defaults.md)
    default_method = "frozen"
    sentence_head = True
    cleans_text = True
    report_sections = ("per_language", "binary", "shortcuts", "ablation")
    card_loading = "AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)"
    card_input = "prepend the text prefix in `config.json` (`xlt_text_prefix`) to every input."

    def load_model(self, spec, labels: list[str]):
        from xlt.models import load_classifier

        return load_classifier(spec, len(labels), dict(enumerate(labels)))

    def encode(self, tokenizer, rows, prefix: str, max_length: int, label2id: dict[str, int]):
        from xlt.train import encode

        return encode(tokenizer, rows, prefix, max_length, label2id)

    def labels_of(self, rows) -> set[str]:
        return {r.label for r in rows}

    def default_positive(self, labels: list[str]) -> str | None:
        return labels[-1] if len(labels) == 2 else None

    def predict(self, model, tokenizer, enc, labels: list[str], batch_size: int, bf16: bool, frozen: bool):
        from xlt.train import predict_encoded, predict_frozen

        if frozen:
            pred, probs = predict_frozen(model, tokenizer, enc.ids, batch_size)
        else:
            pred, probs = predict_encoded(model, tokenizer, enc.ids, batch_size, bf16)
        return [labels[i] for i in pred], probs.tolist()

    def validation_score(self, model, tokenizer, enc, labels, tcfg) -> float:
        from xlt.train import validation_macro_f1

        return validation_macro_f1(model, tokenizer, enc, tcfg)

    def metrics(self, rows, pred, labels, collapse_recall, source_labels, enc=None) -> dict:
        from xlt.evaluate.metrics import classification_metrics

        gold = [r.label for r in rows]
        present = sorted(set(gold) | set(pred), key=labels.index)
        m = classification_metrics(gold, pred, present, collapse_recall)
        m["score"] = m["macro_f1"]
        return m

    def gold(self, rows) -> list[str]:
        return [r.label for r in rows]

    def unlabelled_rows(self, texts: list[str]) -> list:
        from xlt.data.examples import Example

        return [Example(text=t, label="") for t in texts]

    def pseudo_label_shares(self, source_rows: list, labels: list[str]) -> list[float]:
        """The source's class shares in label order (self_training.quota: source)."""
        return [sum(r.label == lab for r in source_rows) / max(1, len(source_rows)) for lab in labels]

    def pseudo_label(self, model, tokenizer, rows, enc, labels, fraction, prior, tcfg, frozen):
        import numpy as np

        from xlt.data.examples import Example
        from xlt.train import prediction_batch_size, use_bf16

        _, probs = self.predict(model, tokenizer, enc, labels, prediction_batch_size(tcfg), use_bf16(tcfg.bf16), frozen)
        probs = np.asarray(probs)
        keep = confident_per_class(probs, fraction, prior)
        pseudo = [Example(text=rows[i].text, label=labels[int(probs[i].argmax())]) for i in keep]
        return pseudo, {"pseudo_labelled": {lab: sum(p.label == lab for p in pseudo) for lab in labels},
                        "min_confidence": float(probs.max(1)[keep].min()) if keep else None}

    def load_saved(self, model_dir, config):
        from transformers import AutoModelForSequenceClassification

        from xlt.models.modeling_meanpool import POOLED_CLASSIFIERS

        own = {cls.__name__: cls for cls in POOLED_CLASSIFIERS.values()}
        name = next((a for a in (config.architectures or []) if a in own), None)
        if name is not None:  # xlt's pooled classifier, loaded with xlt's class: no code from the directory runs
            return own[name].from_pretrained(model_dir)
        return AutoModelForSequenceClassification.from_pretrained(model_dir)

    def predict_texts(self, model, tokenizer, texts, labels, prefix, batch_size, max_length, bf16):
        from xlt.train import predict_encoded

        enc = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length)
        pred, probs = predict_encoded(model, tokenizer, enc["input_ids"], batch_size, bf16)
        return [labels[p] for p in pred], probs

    def record(self, text: str, prediction, probabilities, labels: list[str]) -> dict:
        return {"label": prediction, "probabilities": {lab: round(float(x), 4) for lab, x in zip(labels, probabilities)}}

    def card_summary(self, metrics: dict) -> str:
        return (f"Accuracy {metrics['accuracy']:.3f}, macro precision {metrics['macro_precision']:.3f}, "
                f"macro recall {metrics['macro_recall']:.3f},\nmacro-F1 {metrics['macro_f1']:.3f}.")
