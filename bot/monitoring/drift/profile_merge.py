"""Profiles of the current side's partitions, merged into the profile of their concatenation.

Each partition (a file of a folder or glob, e.g. one day of a weekly window) is profiled on its
own; :func:`merge_profiles` gives what profiling the concatenated frame would: sorted values
merged, category counts added in order of first appearance, rows and missing added, the
newest/oldest date the max/min. Partitions that do not agree on their columns, dtypes or kinds
(pandas would change the dtype when concatenating them) give None: the caller then reads the
frame as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from bot.monitoring.drift.profiles import (
    CATEGORICAL_MAX_DISTINCT,
    ColumnProfile,
    ReferenceProfile,
    _first_distinct,
    _positions,
    _profile_column,
)


def profile_current(frame: pd.DataFrame) -> ReferenceProfile:
    """Every column of ``frame`` as ``compute_drift`` profiles a current column."""
    profile = ReferenceProfile(rows=len(frame))
    for name, pos in _positions(frame).items():
        profile.columns[name] = _profile_column(name, frame.iloc[:, pos])
    return profile


def merge_profiles(parts: Sequence[ReferenceProfile]) -> ReferenceProfile | None:
    """The profile of the partitions' concatenation (in this order), or None when they do not
    agree on their columns, dtypes or kinds."""
    if not parts:
        return None
    names = list(parts[0].columns)
    if any(list(p.columns) != names for p in parts[1:]):
        return None
    merged = ReferenceProfile(rows=sum(p.rows for p in parts))
    for name in names:
        col = _merge_column([p.columns[name] for p in parts])
        if col is None:
            return None
        merged.columns[name] = col
    return merged


def _merged_dtype(cols: Sequence[ColumnProfile]) -> str | None:
    """The dtype pandas gives the concatenated column, when its profile is the merge of the
    partitions' (None otherwise: the caller reads the frame)."""
    dtypes = {c.dtype for c in cols}
    if len(dtypes) == 1:
        dtype = next(iter(dtypes))
        return None if dtype == "category" else dtype  # categories may differ per file
    # text, and a partition where the column is all null (read as object): object text
    all_null = all(c.kind is None for c in cols if c.dtype == "object")
    return "object" if dtypes == {"object", "str"} and all_null else None


def _merge_column(cols: Sequence[ColumnProfile]) -> ColumnProfile | None:
    first = cols[0]
    dtype = _merged_dtype(cols)
    if dtype is None:
        return None
    kinds = {c.kind for c in cols if c.kind is not None}
    if len(kinds) > 1:
        return None
    kind = next(iter(kinds)) if kinds else None
    out = ColumnProfile(
        name=first.name,
        dtype=dtype,
        kind=kind,
        rows=sum(c.rows for c in cols),
        missing=sum(c.missing for c in cols),
    )
    if kind == "datetime":
        newest = [c.newest for c in cols if c.newest is not None]
        oldest = [c.oldest for c in cols if c.oldest is not None]
        out.newest = max(newest) if newest else None
        out.oldest = min(oldest) if oldest else None
        return out
    with_values = [c.values is not None for c in cols]
    if any(with_values) and not all(with_values):
        return None
    if all(with_values):
        out.values = _merge_sorted([c.values for c in cols if c.values is not None])
        out.distinct = _first_distinct(out.values, CATEGORICAL_MAX_DISTINCT + 1)
    if kind in ("categorical", None) and any(c.counts is not None for c in cols):
        out.counts = _add_counts([c.counts or {} for c in cols])
    return out


def _merge_sorted(arrays: Sequence[np.ndarray]) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    merged = np.concatenate(arrays)
    merged.sort()  # numpy's vectorised sort beats timsort's merge of the sorted runs
    return merged


def _add_counts(counts: Sequence[dict[Hashable, int]]) -> dict[Hashable, int]:
    """Counts added, keys in order of first appearance (as value_counts(sort=False) gives)."""
    out: dict[Hashable, int] = {}
    for part in counts:
        for key, n in part.items():
            out[key] = out.get(key, 0) + n
    return out
