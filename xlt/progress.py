"""Progress a person can follow: in a terminal, a bar over the runs (and each training stage's own bar);
when output is not a terminal (CI, `nohup`, a notebook log), one line per finished run, and a line every few
minutes of a long training stage."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm.auto import tqdm


class Progress:
    def __init__(self, total: int, metric: str, stream=None):
        self.stream = stream or sys.stdout
        self.total, self.metric, self.done = total, metric, 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = tqdm(total=total, desc="runs", unit="run", file=self.stream) if self.tty and total else None
        self._start = time.perf_counter()

    def start(self) -> None:
        self._start = time.perf_counter()

    def finished(self, label: str, metrics: dict, seconds: float | None = None) -> None:
        """One run is done: advance the bar, or print its line (score, seconds: since `start`, unless given)."""
        self.done += 1
        seconds = time.perf_counter() - self._start if seconds is None else seconds
        if metrics.get("collapsed"):
            self.write(f"warning: {label} collapsed: {metrics['collapse_reason']}")
        if self.bar is not None:
            self.bar.update(1)
        elif not metrics:
            print(f"[{self.done}/{self.total}] {label}: skipped", file=self.stream, flush=True)
        else:
            print(f"[{self.done}/{self.total}] {label}: {self.metric} {metrics['score']:.3f} ({seconds:.0f} s)",
                  file=self.stream, flush=True)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


LOG_EVERY_S = 300.0
_STAGE_STREAM: ContextVar = ContextVar("xlt_stage_stream", default=None)


@contextmanager
def stages_to(stream):
    """Training stages started inside write their progress to `stream`, the run's own (standard error
    otherwise): a log gets their lines among the runs', and a quiet run (`progress=False`) stays quiet."""
    token = _STAGE_STREAM.set(stream)
    try:
        yield
    finally:
        _STAGE_STREAM.reset(token)


def stage_bar(iterable=None, *, total: int, desc: str, stream=None, every: float = LOG_EVERY_S):
    """A training stage's progress: tqdm's bar in a terminal; in a log, `StageLines`. Wraps `iterable` like
    tqdm, or is advanced with `update`."""
    stream = stream or _STAGE_STREAM.get() or sys.stderr
    if hasattr(stream, "isatty") and stream.isatty():
        return tqdm(iterable, total=total, desc=desc, leave=False, file=stream)
    return StageLines(iterable, total, desc, stream, every)


class StageLines:
    """Where no bar can be drawn, a line at most every `every` seconds while a stage trains (none for a stage
    shorter than that): a stage on a CPU can train for an hour, and a log that stays silent that long looks
    like a hang."""

    def __init__(self, iterable, total: int, desc: str, stream, every: float):
        self.iterable, self.total, self.desc, self.stream, self.every = iterable, total, desc, stream, every
        self.done, self.postfix = 0, {}
        self.start = self.last = time.perf_counter()

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last < self.every or self.done >= self.total:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done)
        after = "".join(f", {k} {v:.4g}" if isinstance(v, float) else f", {k} {v}" for k, v in self.postfix.items())
        print(f"  {self.desc}: step {self.done} of {self.total}, {elapsed / 60:.1f} min so far, about "
              f"{left / 60:.1f} min left{after}", file=self.stream, flush=True)

    def set_postfix(self, values: dict) -> None:
        """What the next line adds after the step count (the last epoch's loss, say)."""
        self.postfix = dict(values)

    def close(self) -> None:
        pass
