"""What a task is: everything that depends on what the model predicts.

The protocol, the training loop and the methods are shared by every task; a task supplies the model
head, encoding, prediction, metrics (and its collapse check), pseudo-labels for self-training, its
LoRA defaults and baselines, how saved models load and predict, and the words its model card and
report use. Code outside `xlt/tasks` asks the task; it never compares a task's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class LoraDefaults:
    """LoRA settings a config leaves unset (see methods/lora.py)."""

    r: int
    alpha: int
    target_modules: tuple[str, ...]
    lr: float


class Task:
    name: ClassVar[str]
    metric_name: ClassVar[str]  # the primary metric as tables title it
    primary: ClassVar[str]  # its key in a run's metrics (copied to metrics["score"])
    data_kind: ClassVar[str]  # "text" (one label per text) or "tokens" (one tag per word)
    unit: ClassVar[str]  # what one example is called: "texts" or "sentences"
    peft_task_type: ClassVar[str]  # peft's TaskType name
    pipeline_tag: ClassVar[str]  # the Hugging Face pipeline a saved model serves
    lora: ClassVar[LoraDefaults]
    baselines: ClassVar[tuple[str, ...]] = ()  # simple baselines run beside the method by default
    default_method: ClassVar[str] = "lora"  # the method of a config without method: or methods:
    sentence_head: ClassVar[bool] = False  # a pooled head per text: probe init, cached frozen features, baselines
    cleans_text: ClassVar[bool] = False  # text-rewriting preprocessing applies (and can be ablated)
    entity_types: ClassVar[bool] = False  # tags are IOB2 entities (silver tags, entity-type checks)
    report_sections: ClassVar[tuple[str, ...]] = ()  # names of xlt.report's task sections, in order

    # --- model and data -------------------------------------------------------------------------------
    def load_model(self, spec, labels: list[str]):
        raise NotImplementedError

    def encode(self, tokenizer, rows, prefix: str, max_length: int, label2id: dict[str, int]):
        raise NotImplementedError

    def labels_of(self, rows) -> set[str]:
        """The labels (or tags) a list of examples uses."""
        raise NotImplementedError

    def unseen_labels(self, source_labels: list[str], target) -> list[str]:
        """Target labels the source never saw, as the report words them."""
        return sorted(set(target.labels) - set(source_labels))

    def default_positive(self, labels: list[str]) -> str | None:
        """The class of the binary (Table 5) layout when the config names none."""
        return None

    # --- prediction and scoring ---------------------------------------------------------------------------
    def predict(self, model, tokenizer, enc, labels: list[str], batch_size: int, bf16: bool, frozen: bool):
        """Predictions (one per example) and class probabilities (None where the task keeps none)."""
        raise NotImplementedError

    def validation_score(self, model, tokenizer, enc, labels: list[str], tcfg) -> float:
        raise NotImplementedError

    def metrics(self, rows, pred, labels: list[str], collapse_recall: float, source_labels: list[str],
                enc=None) -> dict:
        """Every metric of one run, with "score" (the primary one), "collapsed" and "collapse_reason"."""
        raise NotImplementedError

    def gold(self, rows) -> list:
        raise NotImplementedError

    # --- self-training ------------------------------------------------------------------------------------
    def unlabelled_rows(self, texts: list[str]) -> list:
        """Examples for unlabelled texts (their labels are never read)."""
        raise NotImplementedError

    def pseudo_label_prior(self, source_rows: list) -> float | None:
        """What the source tells pseudo-labelling to keep in proportion (NER: its share of entity-free sentences)."""
        return None

    def pseudo_label(self, model, tokenizer, rows: list, enc, labels: list[str], fraction: float,
                     prior: float | None, tcfg, frozen: bool) -> tuple[list, dict]:
        """The confident share of `rows` labelled by `model`, and what to record of them."""
        raise NotImplementedError

    # --- saved models -------------------------------------------------------------------------------------
    def load_saved(self, model_dir, config):
        """The PyTorch model of a saved model directory (no code from the directory is executed)."""
        raise NotImplementedError

    def predict_texts(self, model, tokenizer, texts: list[str], labels: list[str], prefix: str, batch_size: int,
                      max_length: int, bf16: bool) -> tuple[list, list | None]:
        """Predictions for raw texts and their probabilities: what `xlt predict` and the server return."""
        raise NotImplementedError

    def record(self, text: str, prediction, probabilities, labels: list[str]) -> dict:
        """One prediction as `xlt predict --json` and the server return it."""
        raise NotImplementedError

    def card_summary(self, metrics: dict) -> str:
        """The model card's one-line result."""
        raise NotImplementedError

    card_loading: ClassVar[str] = ""  # how to load a saved model without xlt
    card_input: ClassVar[str] = ""  # how to feed it
