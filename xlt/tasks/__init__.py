"""Tasks: what the model predicts and how it is scored, found by name (the config's `task:`).

- classification: one label per text (macro-F1)
- ner:            IOB2 tags per word, scored by entity (seqeval, strict)
- pos:            one tag per word, scored by word accuracy

A new task is one module here that subclasses `xlt.tasks.base.Task` and registers an instance.
"""
from xlt.registry import Registry

TASKS: Registry = Registry("task", "xlt.tasks", instances=True)
DEFAULT_TASK = "classification"  # configs, stores and saved models that name no task


def get_task(name: str):
    """The task registered under `name`; an unknown name is one XltError listing the valid ones."""
    return TASKS.get(name)


__all__ = ["TASKS", "get_task"]
