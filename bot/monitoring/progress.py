"""Progress of a report, as typed events: which phase it is in and how many columns are done.

Domain code only (no Slack, no terminal): `make_report` and the drift engines emit
:class:`ProgressEvent`; the CLI draws them (a rich bar or plain lines), the Slack side edits a
placeholder message with them (handlers/reports/progress.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    LOADING = "loading"  # reading and checking the data sets
    COMPARING = "comparing"  # drift statistics per column, or performance metrics
    CHARTS = "charts"  # rendering the PNG charts


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a report (picklable: it crosses from the report worker to the bot)."""

    phase: Phase
    detail: str = ""
    done: int | None = None  # columns compared so far (with `total`)
    total: int | None = None

    def line(self) -> str:
        """One human line, e.g. ``comparing: 3/10 columns`` or ``loading: reading x.parquet``."""
        if self.total is not None:
            return f"{self.phase}: {self.done or 0}/{self.total} columns"
        if not self.detail or self.detail.startswith(self.phase):  # "comparing 2,000 rows…"
            return self.detail or str(self.phase)
        return f"{self.phase}: {self.detail}"


ProgressFn = Callable[[ProgressEvent], None]
ColumnsDone = Callable[[int, int], None]  # (done, total), called by the drift engines


class Steps:
    """The report's side of progress: a ``str`` callback for the current phase's messages
    (what `datasets.load` takes), phase changes and column counts; all go to ``emit``."""

    def __init__(self, emit: ProgressFn | None = None) -> None:
        self.emit = emit
        self.phase = Phase.LOADING

    def __call__(self, detail: str) -> None:
        if self.emit is not None:
            self.emit(ProgressEvent(self.phase, detail))

    def enter(self, phase: Phase, detail: str = "") -> None:
        self.phase = phase
        self(detail)

    def columns(self, done: int, total: int) -> None:
        if self.emit is not None:
            self.emit(ProgressEvent(Phase.COMPARING, done=done, total=total))
