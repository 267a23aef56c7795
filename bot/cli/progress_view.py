"""A report's progress on the terminal: a rich progress bar when stderr is a terminal, plain
``… phase: detail`` lines when it is piped (a CI log gets no control codes)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TextIO

from bot.monitoring.progress import ProgressEvent


class PlainLines(AbstractContextManager["PlainLines"]):
    """One line per step on ``stream``; column counts only every tenth of the way."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._shown = -1  # the last tenth of the columns printed

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, event: ProgressEvent) -> None:
        if event.total is not None:
            tenth = (event.done or 0) * 10 // max(event.total, 1)
            if tenth == self._shown:
                return  # 2,000 columns must not be 2,000 lines
            self._shown = tenth
        print(f"… {event.line()}", file=self.stream, flush=True)


class Bar(AbstractContextManager["Bar"]):
    """rich's live progress bar on stderr: the phase and its detail, columns done of total."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=None)

    def __enter__(self) -> Bar:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        if event.total is not None:
            self.progress.update(
                self.task, description=str(event.phase), completed=event.done, total=event.total
            )
        else:  # a new step: the bar is indeterminate until columns are counted
            text = event.line()
            self.progress.update(self.task, description=text[:100], completed=0, total=None)


def view(stream: TextIO | None = None) -> Bar | PlainLines:
    """The bar on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    return Bar() if stream.isatty() else PlainLines(stream)
