"""Tasks: what the model predicts and how it is scored. The protocol, training loop and methods are
shared; a task supplies the model head, the encoding, prediction and the metrics.

- classification: one label per text (macro-F1)
- ner:            IOB2 tags per word, scored by entity (seqeval, strict)
- pos:            one tag per word, scored by word accuracy
"""
from xlt.tasks.classification import ClassificationTask
from xlt.tasks.tagging import TaggingTask


def get_task(name: str):
    return ClassificationTask() if name == "classification" else TaggingTask(name)


__all__ = ["ClassificationTask", "TaggingTask", "get_task"]
