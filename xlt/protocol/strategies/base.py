"""What a strategy declares, and what its run returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

SOURCE_VALIDATION = "source-validation"
TARGET_VALIDATION = "target-validation"
EXPLICIT_TARGET_VALIDATION = "target-validation (explicit)"


@dataclass
class Trained:
    """A run's trained model and what to record of its training."""

    method: object  # the AdaptationMethod
    model: object
    info: dict
    selection: str  # the data its model selection read (see the constants above)
    train_rows: int  # labelled rows of its last stage (the model card's count)
    extra: dict = field(default_factory=dict)


class Strategy:
    """One way of training a run. Subclasses set the class attributes and implement `run` and `rows`."""

    name: ClassVar[str]
    title: ClassVar[str]  # the row name in tables ("Few-shot"); N is added for strategies with shots
    order: ClassVar[int]  # position in tables, plots and the plan
    from_source: ClassVar[bool] = False  # starts from the source stage (trained once per seed and method)
    uses_shots: ClassVar[bool] = False  # one run per N of protocol.shots, on a nested N-example target sample
    reads_unlabelled: ClassVar[bool] = False  # reads the target's unlabelled text (its labels are never read)
    needs_target_train: ClassVar[bool] = False  # reads labelled target training data (a test-only target cannot)
    scores_source: ClassVar[bool] = False  # scored on the source's test split (the source-language reference)
    selectable: ClassVar[bool] = True  # may be listed in protocol.strategies (the source reference is added itself)
    default: ClassVar[bool] = False  # in protocol.strategies when a config lists none
    default_for: ClassVar[tuple[str, ...]] = ("text", "tokens")  # ...of tasks with these data kinds
    baselines: ClassVar[bool] = True  # the simple baselines (TF-IDF, frozen embeddings) get this row too
    line_style: ClassVar[str | tuple | None] = None  # a reference line in learning curves (matplotlib style)
    curve_marker: ClassVar[str] = "o"  # strategies with shots are curves over N, drawn with this marker and line
    curve_line: ClassVar[str] = "-"
    data_kinds: ClassVar[tuple[str, ...]] = ("text", "tokens")  # the data it can train and score (Task.data_kind)
    identity_roles: ClassVar[tuple[str, ...]] = ()  # setting roles that identify its runs beyond "stage" and "run"

    def check(self, ctx) -> None:
        """Refuse, before anything is trained, a config this strategy cannot run (one clear XltError)."""

    def supports(self, method) -> bool:
        """Whether this strategy can train with `method` (an AdaptationMethod for the config's task); `check`
        explains a refusal."""
        return True

    def unavailable(self, ctx, target) -> str | None:
        """Why this strategy has no run for `target` (the plan leaves it out, with this note), or None."""
        return None

    def rows(self, ctx, key) -> tuple[list, list, str]:
        """(training rows, validation rows, selection) as the simple baselines read them: what this
        strategy's model learns from, in one fit."""
        raise NotImplementedError

    def run(self, ctx, key) -> Trained:
        """Train the run's model (the protocol evaluates it on `test_rows`)."""
        raise NotImplementedError

    def stage_data(self, ctx, key):
        """The data whose validation split selects the source stage this run starts from (None: it trains
        no shared stage). Distributed runs train each such stage once, before the runs that need it."""
        return ctx.source if self.from_source else None

    def test_rows(self, ctx, key) -> list:
        """What the run is scored on: its language's test split (translate-test: the split translated)."""
        return ctx.data_for(key).splits["test"]

    def row_name(self, n: int | None, meta: dict | None = None) -> str:
        """The row's name in tables; `meta` is the experiment's description in the store."""
        return f"{self.title} (N={n})" if n else self.title
