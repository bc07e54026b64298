"""Progress a person can follow: in a terminal, a bar over the runs (and each training stage's own bar);
when output is not a terminal (CI, `nohup`, a notebook log), one line per finished run."""
from __future__ import annotations

import sys
import time

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
