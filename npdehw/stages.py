"""Stages of a run: each one timed and reported to a tracker as it starts and ends."""

from __future__ import annotations

import sys
import time

__all__ = ["SilentTracker", "StageTracker", "Stages"]


class StageTracker:
    """Prints each stage to stderr: ``[k/n] stage ... 1.23 s``.

    With ``lines=True`` the start and the end each get a line of their own, so a
    progress bar inside the stage (training) does not break the line.
    """

    def __init__(self, stream=None, lines: bool = False):
        self.stream = sys.stderr if stream is None else stream
        self.lines = lines

    def start(self, stage: str, number: int, total: int) -> None:
        self._label = f"[{number}/{total}] {stage}"
        end = "\n" if self.lines else ""
        print(f"{self._label} ...", end=end, file=self.stream, flush=True)

    def done(self, stage: str, seconds: float) -> None:
        text = f"{self._label}: {seconds:.2f} s" if self.lines else f" {seconds:.2f} s"
        print(text, file=self.stream, flush=True)

    def failed(self, stage: str) -> None:
        print(f"{self._label}: failed" if self.lines else " failed", file=self.stream,
              flush=True)


class SilentTracker:
    """A tracker that reports nothing."""

    def start(self, stage: str, number: int, total: int) -> None:
        pass

    def done(self, stage: str, seconds: float) -> None:
        pass

    def failed(self, stage: str) -> None:
        pass


class Stages:
    """Runs the stages of a job in order, timing each one (``timings``, seconds)."""

    def __init__(self, tracker, total: int):
        self.tracker = tracker
        self.timings = {}
        self._number = 0
        self._total = total

    def run(self, stage: str, function, *args, **kwargs):
        """Return ``function(*args, **kwargs)``, reported to the tracker as ``stage``."""
        self._number += 1
        self.tracker.start(stage, self._number, self._total)
        start = time.perf_counter()
        try:
            value = function(*args, **kwargs)
        except BaseException:
            self.tracker.failed(stage)
            raise
        self.timings[stage] = time.perf_counter() - start
        self.tracker.done(stage, self.timings[stage])
        return value
