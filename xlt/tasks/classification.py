"""Text classification: a pooled head over the encoder, macro-F1 as the primary score."""
from __future__ import annotations

from xlt.evaluate.metrics import classification_metrics


class ClassificationTask:
    name = "classification"
    primary = "macro_f1"
    primary_name = "Macro-F1"
    peft_task_type = "SEQ_CLS"

    def load_model(self, spec, labels: list[str]):
        from xlt.models import load_classifier

        return load_classifier(spec, len(labels), dict(enumerate(labels)))

    def encode(self, tokenizer, rows, prefix: str, max_length: int, label2id: dict[str, int]):
        from xlt.train import encode

        return encode(tokenizer, rows, prefix, max_length, label2id)

    def predict(self, model, tokenizer, enc, labels: list[str], batch_size: int, bf16: bool, frozen: bool):
        """Predicted labels (one per row) and class probabilities."""
        from xlt.train import predict_encoded, predict_frozen

        if frozen:
            pred, probs = predict_frozen(model, tokenizer, enc.ids, batch_size)
        else:
            pred, probs = predict_encoded(model, tokenizer, enc.ids, batch_size, bf16)
        return [labels[i] for i in pred], probs.tolist()

    def validation_score(self, model, tokenizer, enc, labels, tcfg) -> float:
        from xlt.train import validation_macro_f1

        return validation_macro_f1(model, tokenizer, enc, tcfg)

    def metrics(self, rows, pred: list[str], labels: list[str], exp, source_labels: list[str], enc=None) -> dict:
        gold = [r.label for r in rows]
        present = sorted(set(gold) | set(pred), key=labels.index)
        m = classification_metrics(gold, pred, present, exp.collapse_recall)
        m["score"] = m["macro_f1"]
        return m

    def gold(self, rows) -> list[str]:
        return [r.label for r in rows]
