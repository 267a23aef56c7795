"""The data-quality entries of a column: out-of-range share, unseen categories, rates."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from bot.monitoring.drift.profiles import ColumnProfile

MIN_CATEGORY_COUNT = 5  # privacy: rarer categories are only ever shown as "other"
MAX_LISTED_CATEGORIES = 20
MAX_NAME_CHARS = 100


def _new_categories(
    cats: list[Hashable], r_counts: np.ndarray, c_counts: np.ndarray
) -> dict[str, Any]:
    """Current values whose category the reference never saw; rare names become 'other'."""
    unseen = np.flatnonzero((r_counts == 0) & (c_counts > 0))
    if unseen.size == 0:
        return {"values": 0, "distinct": 0, "top": [], "other": 0}
    counts = c_counts[unseen]
    order = np.argsort(-counts, kind="stable")
    top: list[dict[str, Any]] = []
    other = 0
    for i in order.tolist():
        cnt = int(counts[i])
        if cnt >= MIN_CATEGORY_COUNT and len(top) < MAX_LISTED_CATEGORIES:
            top.append({"name": _category_name(cats[int(unseen[i])]), "count": cnt})
        else:
            other += cnt
    return {"values": int(counts.sum()), "distinct": int(unseen.size), "top": top, "other": other}


def _out_of_range(ref: ColumnProfile, cur: ColumnProfile) -> float | None:
    """Share of current finite values outside the reference [min, max]."""
    if ref.values is None or cur.values is None or ref.values.size == 0 or cur.values.size == 0:
        return None
    lo, hi = ref.values[0], ref.values[-1]
    below = int(np.searchsorted(cur.values, lo, side="left"))
    above = cur.values.size - int(np.searchsorted(cur.values, hi, side="right"))
    return (below + above) / cur.values.size


def _category_name(key: Hashable) -> str:
    text = str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
