"""Time windows of a performance report: pandas groups by frequency, small ones merged.

A window with fewer than `min_rows` rows says little (one row gives accuracy 0 or 1), so it is
merged into its smaller neighbour until every window holds enough rows or only one is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MAX_WINDOWS = 366


class WindowError(ValueError):
    """The timestamp column or the window frequency is unusable; the message says which."""


@dataclass
class Window:
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    index: pd.Index  # the frame's row labels in this window
    periods: int = 1  # how many `window`-wide periods were merged into this one

    @property
    def rows(self) -> int:
        return len(self.index)


def split(
    frame: pd.DataFrame, timestamp: str, window: str, min_rows: int, count: pd.Series | None = None
) -> list[Window]:
    """Non-empty windows of `frame` by `timestamp`, the last MAX_WINDOWS, small ones merged.

    `count` (a boolean Series over the frame) says which rows count towards `min_rows` (the
    labelled ones, say); every row counts by default."""
    import pandas as pd

    ts = pd.to_datetime(frame[timestamp], errors="coerce", utc=True)
    if ts.isna().all():
        raise WindowError(f"column `{timestamp}` holds no readable timestamps")
    try:
        step = pd.tseries.frequencies.to_offset(window)
        labels = pd.Series(frame.index, index=pd.DatetimeIndex(ts))
        grouped = labels[labels.index.notna()].groupby(pd.Grouper(freq=window))
    except ValueError:
        raise WindowError(f"`{window}` is not a pandas frequency like 1D or 6h") from None
    windows = []
    for start, part in grouped:
        if len(part):
            begin = pd.Timestamp(start)
            windows.append(Window(begin, begin + step, pd.Index(part.to_numpy())))
    windows = windows[-MAX_WINDOWS:]
    if count is None:
        return merge_small(windows, min_rows)
    return merge_small(windows, min_rows, lambda w: int(count.loc[w.index].sum()))


def merge_small(
    windows: list[Window], min_rows: int, size: Callable[[Window], int] | None = None
) -> list[Window]:
    """Merge each window below `min_rows` into its smaller neighbour, smallest first."""
    size = size or (lambda w: w.rows)
    out = list(windows)
    while len(out) > 1:
        sizes = [size(w) for w in out]
        i = min(range(len(out)), key=lambda k: sizes[k])
        if sizes[i] >= min_rows:
            break
        if i == 0:
            j = 1
        elif i == len(out) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        a, b = sorted((i, j))
        out[a] = _join(out[a], out[b])
        del out[b]
    return out


def _join(a: Window, b: Window) -> Window:
    return Window(a.start, b.end, a.index.append(b.index), a.periods + b.periods)
