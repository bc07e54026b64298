"""The one in-memory shape of labelled data that every later stage reads."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    text_pair: str | None = None


@dataclass
class LanguageData:
    """One language of one dataset: its splits (train/validation/test) and where they came from."""

    dataset: str
    language: str
    splits: dict[str, list[Example]]
    notes: list[str] = field(default_factory=list)  # what loading found: dropped rows, overlaps, splits made

    @property
    def labels(self) -> list[str]:
        """Class labels, or for token tasks the tag set."""
        if self.is_tokens:
            return sorted({t for rows in self.splits.values() for e in rows for t in e.tags})
        return sorted({e.label for rows in self.splits.values() for e in rows})

    @property
    def is_tokens(self) -> bool:
        return any(isinstance(e, TokenExample) for rows in self.splits.values() for e in rows[:1])

    def key(self) -> str:
        return f"{self.dataset}/{self.language}"


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
