"""Time windows: a window below `min_window_rows` is merged into its smaller neighbour."""

from __future__ import annotations

import pandas as pd

from bot.monitoring.performance.windows import split


def _frame(counts: list[int]) -> pd.DataFrame:
    stamps = []
    for day, n in enumerate(counts):
        start = pd.Timestamp("2026-11-01", tz="UTC") + pd.Timedelta(days=day)
        stamps += list(pd.date_range(start, periods=n, freq="10min"))
    return pd.DataFrame({"ts": stamps})


def test_the_first_and_last_short_days_are_merged_into_their_neighbours() -> None:
    # the data: daily windows of 11, 48, 48, 48 and 1 rows
    windows = split(_frame([11, 48, 48, 48, 1]), "ts", "1D", 30)
    assert [w.rows for w in windows] == [59, 48, 49]
    assert [w.periods for w in windows] == [2, 1, 2]
    assert windows[0].start == pd.Timestamp("2026-11-01", tz="UTC")
    assert windows[-1].end == pd.Timestamp("2026-11-06", tz="UTC")


def test_a_short_window_joins_the_smaller_of_its_two_neighbours() -> None:
    windows = split(_frame([40, 5, 35]), "ts", "1D", 30)
    assert [w.rows for w in windows] == [40, 40]


def test_one_window_below_the_minimum_stays_as_it_is() -> None:
    windows = split(_frame([7]), "ts", "1D", 30)
    assert [w.rows for w in windows] == [7]


def test_rows_counted_towards_the_minimum_can_be_a_subset() -> None:
    frame = _frame([40, 40])
    labelled = pd.Series([True] * 40 + [True] * 10 + [False] * 30, index=frame.index)
    windows = split(frame, "ts", "1D", 30, count=labelled)
    assert [w.rows for w in windows] == [80]
