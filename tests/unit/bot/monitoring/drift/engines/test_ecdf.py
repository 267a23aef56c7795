"""SortedScan: the statistics of the sorted union, fed in batches cut anywhere (inside runs of
ties too), equal scipy's and numpy's on the whole samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from bot.monitoring.drift.engines.ecdf import SortedScan
from bot.monitoring.drift.engines.stats import decile_ranks


def _samples(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values, values rounded to a few ties, and one run of 500 equal values."""
    ref = np.r_[rng.normal(0, 1, n), np.round(rng.normal(0, 1, n), 1), np.full(500, 0.25)]
    cur = np.r_[rng.normal(0.3, 1.2, m), np.round(rng.normal(0.2, 1, m), 1), np.full(300, 0.25)]
    return ref, cur


def _ranks(n: int) -> np.ndarray:
    lo, hi, _ = decile_ranks(n)
    return np.unique(np.concatenate((lo, hi)))


def _scan_raw(ref: np.ndarray, cur: np.ndarray, cuts: np.ndarray) -> SortedScan:
    """One row per value, tagged by side (int8, as DuckDB sends it), cut at ``cuts``."""
    v = np.r_[ref, cur]
    s = np.r_[np.zeros(ref.size, np.int8), np.ones(cur.size, np.int8)]
    order = np.argsort(v, kind="stable")
    v, s = v[order], s[order]
    scan = SortedScan(n=ref.size, m=cur.size, ranks=_ranks(ref.size))
    for vb, sb in zip(np.split(v, cuts), np.split(s, cuts), strict=True):
        scan.feed(vb, 1 - sb, sb)
    return scan.finish()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batches_cut_anywhere_give_scipy_statistics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = _samples(rng, 3000, 2000)
    cuts = np.sort(rng.choice(ref.size + cur.size, size=40, replace=False))
    whole = _scan_raw(ref, cur, np.array([], dtype=np.intp))
    for scan in (whole, _scan_raw(ref, cur, cuts)):
        assert math.isclose(scan.ks, ks_2samp(ref, cur).statistic, rel_tol=1e-12)
        assert math.isclose(scan.w1, wasserstein_distance(ref, cur), rel_tol=1e-9)
        assert scan.ref_distinct == np.unique(ref).size
        assert scan.cur_distinct == np.unique(cur).size
        assert scan.union_distinct == np.unique(np.r_[ref, cur]).size
        assert (scan.ref_min, scan.ref_max) == (ref.min(), ref.max())
        assert scan.out_of_range == np.count_nonzero((cur < ref.min()) | (cur > ref.max()))
        ranks = _ranks(ref.size)
        assert scan.order_stats == dict(
            zip(ranks.tolist(), np.sort(ref)[ranks].tolist(), strict=True)
        )
        assert (scan.union_min, scan.union_max) == (
            min(ref.min(), cur.min()),
            max(ref.max(), cur.max()),
        )
        assert scan.keys is None


def test_a_run_spanning_many_batches_counts_once() -> None:
    ref = np.r_[np.full(1000, 1.0), 2.0]
    cur = np.r_[0.5, np.full(400, 1.0), 3.0]
    scan = _scan_raw(ref, cur, np.arange(7, ref.size + cur.size, 7))
    assert (scan.ref_distinct, scan.cur_distinct, scan.union_distinct) == (2, 3, 4)
    assert scan.keys == [(0.5, 0, 1), (1.0, 1000, 400), (2.0, 1, 0), (3.0, 0, 1)]
    assert math.isclose(scan.ks, ks_2samp(ref, cur).statistic, rel_tol=1e-12)
    assert math.isclose(scan.w1, wasserstein_distance(ref, cur), rel_tol=1e-12)


def test_grouped_rows_give_the_same_as_raw_rows() -> None:
    rng = np.random.default_rng(5)
    ref, cur = np.round(rng.normal(0, 1, 5000), 1), np.round(rng.normal(0.1, 1, 4000), 1)
    keys = np.unique(np.r_[ref, cur])
    rc = np.array([np.count_nonzero(ref == k) for k in keys])
    cc = np.array([np.count_nonzero(cur == k) for k in keys])
    grouped = SortedScan(n=ref.size, m=cur.size, ranks=_ranks(ref.size))
    for part in np.array_split(np.arange(keys.size), 4):
        grouped.feed(keys[part], rc[part], cc[part])
    grouped.finish()
    raw = _scan_raw(ref, cur, np.array([100, 4500, 4501]))
    assert (grouped.ks, grouped.order_stats) == (raw.ks, raw.order_stats)
    assert math.isclose(grouped.w1, raw.w1, rel_tol=1e-12)
    assert grouped.out_of_range == raw.out_of_range


def test_one_distinct_value_has_no_area_and_no_reference_has_no_range() -> None:
    scan = SortedScan(n=0, m=3, ranks=np.empty(0, dtype=np.intp))
    scan.feed(np.array([4.0, 4.0]), np.array([0, 0]), np.array([1, 1]))
    scan.feed(np.array([4.0]), np.array([0]), np.array([1]))
    scan.finish()
    assert (scan.w1, scan.ks, scan.union_distinct) == (0.0, 1.0, 1)
    assert (scan.ref_min, scan.out_of_range, scan.order_stats) == (None, 0, {})
