"""Column profiles: what the engine keeps of one column of one side.

A numeric column is converted to float64 and sorted once; that single sort serves the type
detection (distinct values), every numeric statistic and the out-of-range share. A categorical
column is reduced to its category counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from bot.monitoring.drift.numeric import _bin_counts, _quantile_edges

_Kind = Literal["numeric", "categorical", "datetime", "unsupported"]

CATEGORICAL_MAX_DISTINCT = 5


@dataclass(eq=False)
class ColumnProfile:
    """What the engine keeps of one column of one side.

    ``values`` holds the sorted finite values of a numeric column (or of a bool column, as
    0/1) and ``counts`` the category counts of a categorical one; ``profile_codec`` stores it.
    """

    name: str
    dtype: str
    kind: _Kind | None  # None: no values and an untyped (object) dtype, adopts the other side
    rows: int
    missing: int
    values: np.ndarray | None = None
    counts: dict[Hashable, int] | None = None
    distinct: np.ndarray | None = None  # up to CATEGORICAL_MAX_DISTINCT + 1 distinct values
    std: float = 0.0
    edges: np.ndarray | None = None  # inner PSI edges (unique reference deciles)
    bin_counts: np.ndarray | None = None
    newest: pd.Timestamp | None = None  # datetime columns (UTC)
    oldest: pd.Timestamp | None = None

    @property
    def n(self) -> int:
        """Number of values left after removing NaN/±inf."""
        return self.rows - self.missing


@dataclass(eq=False)
class ReferenceProfile:
    """Cached reference-side statistics, built once by :func:`profile_reference`.

    Holds a sorted float64 copy of every numeric column (8 bytes per value), so keep one per
    model version rather than one per report.
    """

    rows: int
    columns: dict[str, ColumnProfile] = field(default_factory=dict)


def _positions(df: pd.DataFrame) -> dict[str, int]:
    """Column name (as str) -> position of its first occurrence."""
    out: dict[str, int] = {}
    for i, label in enumerate(df.columns):
        out.setdefault(str(label), i)
    return out


def _dtype_kind(dtype: Any) -> _Kind:
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"  # is_string_dtype covers object and str
    if pd.api.types.is_complex_dtype(dtype):
        return "unsupported"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "unsupported"  # timedelta, period, interval, ...


# ISO 8601 dates as CSV readers leave them (text); Parquet keeps them typed
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _as_dates(s: pd.Series) -> pd.Series | None:
    """The column's values as UTC timestamps when every one is an ISO 8601 date text, else
    None. A sample of 20 values decides first, so other text columns cost next to nothing."""
    sample = s.iloc[:200].dropna().iloc[:20]
    if sample.empty:
        sample = s.dropna().iloc[:20]
    if sample.empty or not all(isinstance(v, str) and _ISO_DATE.match(v) for v in sample):
        return None
    values = s.dropna()
    try:
        dates = pd.to_datetime(values, utc=True, format="ISO8601")
    except (TypeError, ValueError, OverflowError):
        return None
    return None if bool(dates.isna().any()) else dates


def _profile_dates(col: ColumnProfile, dates: pd.Series) -> None:
    """Newest and oldest value in UTC (naive timestamps are read as UTC)."""
    dates = dates.dt.tz_localize("UTC") if dates.dt.tz is None else dates.dt.tz_convert("UTC")
    valid = dates.dropna()
    col.kind = "datetime"
    col.missing = col.rows - len(valid)
    if len(valid):
        col.newest, col.oldest = valid.max(), valid.min()


def _profile_column(name: str, s: pd.Series) -> ColumnProfile:
    dtype = s.dtype
    kind: _Kind | None = _dtype_kind(dtype)
    col = ColumnProfile(name=name, dtype=str(dtype), kind=kind, rows=len(s), missing=len(s))
    if kind == "datetime":
        _profile_dates(col, s)
        return col
    if kind == "categorical" and not isinstance(dtype, pd.CategoricalDtype):
        dates = _as_dates(s)
        if dates is not None:  # the same dates from CSV and from Parquet are treated alike
            _profile_dates(col, dates)
            col.missing = len(s) - len(dates)
            return col
    if kind == "numeric" or pd.api.types.is_bool_dtype(dtype):
        try:
            col.values, col.missing = _sorted_finite(s)
        except (TypeError, ValueError):  # e.g. a bool-like extension type without a float cast
            col.values = None
    if kind == "unsupported":
        col.missing = int(s.isna().sum())
    if kind == "categorical":
        col.counts, col.missing = _category_counts(s)
        if col.missing == col.rows and pd.api.types.is_object_dtype(dtype):
            col.kind = None  # all-null object column: its real type is unknown
    if col.values is not None:
        col.distinct = _first_distinct(col.values, CATEGORICAL_MAX_DISTINCT + 1)
    return col


def _sorted_finite(s: pd.Series) -> tuple[np.ndarray, int]:
    """Sorted finite float64 values of ``s`` and the count of NaN/±inf/NA, one copy."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        arr = s.to_numpy(dtype=np.float64)
        owned = dtype != np.float64 and arr.flags.writeable  # the cast made a private copy
    else:
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
        owned = True
    finite = np.isfinite(arr)
    n_ok = int(np.count_nonzero(finite))
    if n_ok < arr.size:
        values = arr[finite]
    elif owned:
        values = arr
    else:
        values = arr.copy()
    values.sort()
    return values, arr.size - n_ok


def _category_counts(s: pd.Series) -> tuple[dict[Hashable, int], int]:
    """Category -> count (NaN, None and ±inf dropped) and the number dropped."""
    try:
        vc = s.value_counts(dropna=True, sort=False)
    except TypeError:
        vc = s[s.notna()].map(repr).value_counts(sort=False)
    counts: dict[Hashable, int] = {}
    for key, cnt in zip(vc.index.tolist(), vc.to_numpy().tolist(), strict=True):
        if cnt <= 0 or (isinstance(key, float) and not math.isfinite(key)):
            continue
        try:
            hash(key)
        except TypeError:  # lists, dicts in an object column: compare their text
            key = repr(key)
        counts[key] = counts.get(key, 0) + int(cnt)
    return counts, len(s) - sum(counts.values())


def _first_distinct(sorted_values: np.ndarray, k: int) -> np.ndarray:
    """Up to ``k`` smallest distinct values of a sorted array in O(k log n)."""
    out: list[float] = []
    i, n = 0, sorted_values.size
    while i < n and len(out) < k:
        v = float(sorted_values[i])
        out.append(v)
        i = int(np.searchsorted(sorted_values, v, side="right"))
    return np.asarray(out, dtype=np.float64)


def _add_reference_stats(col: ColumnProfile) -> None:
    """Std and PSI quantile edges, computed once per reference column."""
    if col.values is None or col.values.size == 0:
        return
    # scaled by the largest magnitude first: squares of values near 1e200 overflow float64
    scale = float(max(abs(col.values[0]), abs(col.values[-1])))
    if scale > 0 and math.isfinite(scale):
        scaled = col.values / scale
        centred = scaled - np.mean(scaled)
        col.std = scale * math.sqrt(float(np.dot(centred, centred)) / centred.size)
    else:
        col.std = 0.0 if scale == 0 else math.nan
    col.edges = _quantile_edges(col.values)
    col.bin_counts = _bin_counts(col.values, col.edges)
