"""Statistics on category counts: chi-squared and Jensen-Shannon, and the category table
they are computed on (numeric columns with few distinct values are compared as categories).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from bot.monitoring.drift.profiles import CATEGORICAL_MAX_DISTINCT, ColumnProfile


def _jensenshannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon(ref, cur) (natural log), clamped at 0."""
    # scipy's rel_entr, not x * log(x / y) by hand: that differs in the last bit
    from scipy.special import rel_entr  # ~0.15 s to import: a report preloads it (charts.preload)

    p = ref_counts / np.sum(ref_counts)
    q = cur_counts / np.sum(cur_counts)
    m = (p + q) / 2.0
    js = np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))
    return float(np.sqrt(max(float(js), 0.0) / 2.0))


MIN_EXPECTED = 5.0  # the textbook condition of the chi-squared approximation


def _pool_sparse(table: np.ndarray) -> np.ndarray:
    """Categories whose expected count is below 5 on either side, pooled into one column;
    while the pool itself is still that sparse, the smallest other category joins it."""
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    sparse = expected.min(axis=0) < MIN_EXPECTED
    if not sparse.any():
        return table
    pool = table[:, sparse].sum(axis=1)
    keep = table[:, ~sparse]
    keep = keep[:, np.argsort(keep.sum(axis=0), kind="stable")]  # smallest first
    rows = table.sum(axis=1)
    while keep.shape[1] and (np.outer(rows, [pool.sum()]) / total).min() < MIN_EXPECTED:
        pool = pool + keep[:, 0]
        keep = keep[:, 1:]
    return np.column_stack([keep, pool])


def _chi2(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """chi2_contingency on the 2 x k table, without Yates' correction.

    Two categories: the uncorrected statistic is the square of the two-proportion z-test,
    Evidently's test of binary columns, so p-values and verdicts agree with it. More: sparse
    categories are pooled first (expected count < 5), so rare values cannot fake a drift.
    """
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 2:
        table = _pool_sparse(table)
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0
    from scipy.stats import chi2_contingency  # ~1 s to import: only when a chi² test runs

    res = chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


def _union_distinct(ref: ColumnProfile, cur: ColumnProfile) -> int:
    assert ref.distinct is not None and cur.distinct is not None
    if ref.distinct.size > CATEGORICAL_MAX_DISTINCT or cur.distinct.size > CATEGORICAL_MAX_DISTINCT:
        return CATEGORICAL_MAX_DISTINCT + 1
    return int(np.union1d(ref.distinct, cur.distinct).size)


def _value_counts_sorted(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    left = np.searchsorted(values, keys, side="left")
    right = np.searchsorted(values, keys, side="right")
    return (right - left).astype(np.float64)


def _category_table(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
    """Union of categories (reference first) with their counts on each side."""
    if ref.counts is None and ref.values is not None and cur.values is not None:
        assert ref.distinct is not None and cur.distinct is not None
        keys = np.union1d(ref.distinct, cur.distinct)
        return (
            keys.tolist(),
            _value_counts_sorted(ref.values, keys),
            _value_counts_sorted(cur.values, keys),
        )
    rc = ref.counts or {}
    cc = cur.counts or {}
    cats = list(rc) + [k for k in cc if k not in rc]
    r = np.fromiter((rc.get(k, 0) for k in cats), dtype=np.float64, count=len(cats))
    c = np.fromiter((cc.get(k, 0) for k in cats), dtype=np.float64, count=len(cats))
    return cats, r, c
