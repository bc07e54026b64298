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
        return sorted({e.label for rows in self.splits.values() for e in rows})

    def key(self) -> str:
        return f"{self.dataset}/{self.language}"
