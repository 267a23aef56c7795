"""From exact per-column statistics (computed by a SQL engine) to the same FeatureDrift and
quality entry the numpy engine's ``compare._compare`` gives.

Categorical columns are handed to ``_compare`` itself (their profiles are category counts,
which a SQL engine computes exactly). A numeric column's profile is its sorted values, which
an out-of-core engine never holds, so :func:`compare_numeric` repeats ``_compare``'s steps on
:class:`NumericStats` instead, calling the same reason, statistic, p-value, Wasserstein
scaling and verdict functions (``compare.no_values_reason``, ``scale_wasserstein``,
``settle``); the end of the comparison is ``engine.assemble``, shared by every engine.
The exactness tests (tests/unit/bot/monitoring/drift/engines) hold the two paths together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.monitoring.drift.compare import (
    SMALL_REFERENCE_ROWS,
    count_statistic,
    no_values_reason,
    scale_wasserstein,
    settle,
)
from bot.monitoring.drift.numeric import PSI_BINS, _ks_pvalue
from bot.monitoring.drift.profiles import CATEGORICAL_MAX_DISTINCT, ColumnProfile
from bot.monitoring.drift.quality import _new_categories, _rate
from bot.monitoring.drift.results import FeatureDrift, FeatureOverride, Method
from bot.monitoring.drift.verdicts import DEFAULT_THRESHOLDS

# The sorted values of both sides, fetched only when scipy's exact KS needs them (small sides).
Samples = Callable[[], tuple[np.ndarray, np.ndarray]]


@dataclass
class NumericStats:
    """Exact statistics of one numeric column pair; ``n``/``m`` count the finite values."""

    n: int
    m: int
    ks: float = math.nan
    w1: float = math.nan
    ref_distinct: int = 0
    cur_distinct: int = 0
    union_distinct: int = 0
    ref_min: float | None = None
    ref_max: float | None = None
    out_of_range: int = 0
    std: float = 0.0
    ref_bins: np.ndarray | None = None
    cur_bins: np.ndarray | None = None
    keys: list[float] | None = None  # the union's values when it has few (categorical use)
    ref_key_counts: np.ndarray | None = None
    cur_key_counts: np.ndarray | None = None


def decile_ranks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ranks and weights ``numeric._quantile_edges`` interpolates for ``n`` sorted values."""
    q = np.arange(1, PSI_BINS) / PSI_BINS
    h = (n - 1) * q
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, h - lo


def decile_edges(
    found: Mapping[int, float], lo: np.ndarray, hi: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """``numeric._quantile_edges`` from the order statistics ``found`` (rank -> value) at the
    ranks of :func:`decile_ranks` (same arithmetic)."""
    lo_values = np.array([found[int(r)] for r in lo], dtype=np.float64)
    hi_values = np.array([found[int(r)] for r in hi], dtype=np.float64)
    diff = hi_values - lo_values
    edges = np.where(t >= 0.5, hi_values - diff * (1 - t), lo_values + diff * t)
    return np.unique(edges)


def categorical_union(stats: NumericStats) -> int:
    """``categorical._union_distinct`` from the distinct counts."""
    if max(stats.ref_distinct, stats.cur_distinct) > CATEGORICAL_MAX_DISTINCT:
        return CATEGORICAL_MAX_DISTINCT + 1
    return stats.union_distinct


def compare_numeric(
    ref: ColumnProfile,
    cur: ColumnProfile,
    stats: NumericStats,
    override: FeatureOverride | None,
    samples: Samples,
    *,
    boolean: bool = False,
) -> tuple[FeatureDrift, dict[str, Any]]:
    """``compare._compare`` for a column numeric on both sides, from its exact statistics.

    ``boolean``: a bool column (no nulls) whose override asks for KS or Wasserstein, which the
    numpy engine computes on its 0/1 values while comparing it as a categorical column."""
    quality: dict[str, Any] = {
        "name": ref.name,
        "missing_rate_reference": _rate(ref.missing, ref.rows),
        "missing_rate_current": _rate(cur.missing, cur.rows),
    }
    n, m = stats.n, stats.m
    if not boolean:
        quality["out_of_range_share"] = stats.out_of_range / m if n and m else None
    union = categorical_union(stats) if n or m else 0
    categorical = boolean or 0 < union <= CATEGORICAL_MAX_DISTINCT
    method: Method | None = override.method if override else None
    threshold: float | None = override.threshold if override else None
    feature = FeatureDrift(
        name=ref.name,
        type="categorical" if categorical else "numeric",
        method=method,
        threshold=threshold,
        missing_reference=ref.missing,
        missing_current=cur.missing,
        n_reference=ref.rows,
        n_current=cur.rows,
    )
    reason = no_values_reason(n, m)
    if reason is not None:
        feature.reason = reason
        return feature, quality
    if method is None:
        if n <= SMALL_REFERENCE_ROWS:
            method = "chisquare" if categorical else "ks"
        else:
            method = "jensenshannon" if categorical else "wasserstein"
    feature.method = method
    feature.threshold = threshold if threshold is not None else DEFAULT_THRESHOLDS[method]

    if categorical:
        assert stats.keys is not None
        assert stats.ref_key_counts is not None and stats.cur_key_counts is not None
        r_counts, c_counts = stats.ref_key_counts, stats.cur_key_counts
        keys: list[Hashable] = [bool(k) for k in stats.keys] if boolean else list(stats.keys)
        quality["new_categories"] = _new_categories(keys, r_counts, c_counts)
    else:
        assert stats.ref_bins is not None and stats.cur_bins is not None
        r_counts, c_counts = stats.ref_bins, stats.cur_bins
    if not count_statistic(feature, method, r_counts, c_counts):
        if method == "ks":
            feature.statistic, feature.p_value = stats.ks, ks_pvalue(stats.ks, n, m, samples)
        elif not scale_wasserstein(feature, stats.w1, stats.std, quality):
            return feature, quality
    settle(feature)
    return feature, quality


def ks_pvalue(d: float, n: int, m: int, samples: Samples) -> float:
    """``numeric._ks_pvalue`` from (d, n, m): it reads the samples themselves only in scipy's
    exact regime (both sides <= 10,000 values), so only then are they fetched; otherwise it
    gets zero-stride stand-ins that have the right sizes and take no memory."""
    from bot.monitoring.drift.numeric import _SCIPY_KS_EXACT_MAX_N, KS_ASYMPTOTIC_MIN_EN

    en = n * m / (n + m)
    if en < KS_ASYMPTOTIC_MIN_EN and max(n, m) <= _SCIPY_KS_EXACT_MAX_N:
        u, v = samples()
        return _ks_pvalue(d, u, v)
    zero = np.float64(0.0)
    return _ks_pvalue(d, np.broadcast_to(zero, (n,)), np.broadcast_to(zero, (m,)))
