"""The CLI's progress: plain lines when piped (a tenth of the columns at a time), a rich bar
on a terminal."""

from __future__ import annotations

import io

from bot.cli.progress_view import Bar, PlainLines, view
from bot.monitoring.progress import Phase, ProgressEvent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_count_columns_by_tenths() -> None:
    out = io.StringIO()
    with view(out) as show:
        assert isinstance(show, PlainLines)
        show(ProgressEvent(Phase.LOADING, "reading ref.parquet"))
        for done in range(1, 2001):
            show(ProgressEvent(Phase.COMPARING, done=done, total=2000))
    lines = out.getvalue().splitlines()
    assert lines[0] == "… loading: reading ref.parquet"
    assert lines[1] == "… comparing: 1/2000 columns"  # the first column, then every tenth
    assert len(lines) == 12 and lines[-1] == "… comparing: 2000/2000 columns"


def test_a_terminal_gets_the_bar() -> None:
    assert isinstance(view(Terminal()), Bar)


def test_a_detail_that_names_its_phase_is_not_repeated() -> None:
    line = ProgressEvent(Phase.COMPARING, "comparing 20 reference rows with 20 current rows").line()
    assert line == "comparing 20 reference rows with 20 current rows"
