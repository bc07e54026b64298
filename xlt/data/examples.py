"""The one in-memory shape of labelled data that every later stage reads."""
from __future__ import annotations

from dataclasses import dataclass, field

from xlt.errors import XltError


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    text_pair: str | None = None


@dataclass(frozen=True)
class TokenExample:
    """One sentence for token classification (NER, POS): words and one tag per word."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def label(self) -> str:  # lets label-agnostic code (k-shot ordering, reports) treat sentences uniformly
        return "sentence"

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass
class LanguageData:
    """One language of one dataset: its splits (train/validation/test) and where they came from."""

    dataset: str
    language: str
    splits: dict[str, list[Example] | list[TokenExample]]
    notes: list[str] = field(default_factory=list)  # what loading found: dropped rows, overlaps, splits made
    unlabelled: list[str] | None = None  # the source's `unlabelled:` file, one text per line
    made_splits: list[str] = field(default_factory=list)  # splits the data lacked and the split policy made
    parts: list["LanguageData"] = field(default_factory=list)  # a joint source: the languages it was drawn from
    shares: dict[str, dict] = field(default_factory=dict)  # a joint source: rows drawn from each part

    @property
    def labels(self) -> list[str]:
        """Class labels, or for token tasks the tag set."""
        if self.kind == "tokens":
            return sorted({t for rows in self.splits.values() for e in rows for t in e.tags})
        return sorted({e.label for rows in self.splits.values() for e in rows})

    @property
    def kind(self) -> str:
        """"tokens" (tagged words) or "text" (labelled texts): what a task must read (Task.data_kind)."""
        tokens = any(isinstance(e, TokenExample) for rows in self.splits.values() for e in rows[:1])
        return "tokens" if tokens else "text"

    def key(self) -> str:
        return f"{self.dataset}/{self.language}"


def unlabelled_texts(data: LanguageData, purpose: str = "self-training",
                     exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Unlabelled text of a language: its `unlabelled:` file, else the texts of its training and
    validation splits, their labels unread; less the texts in `exclude` (a few-shot run's own shots)."""
    if data.unlabelled:
        return [t for t in data.unlabelled if t not in exclude]
    texts = [r.text for r in data.splits["train"] + data.splits["validation"]]
    if not texts:
        raise XltError(f"{purpose} needs unlabelled {data.language} text and {data.key()} has no training or "
                       "validation data; give unlabelled: (a text file, one text per line) in its data source")
    return [t for t in texts if t not in exclude]
