"""One column of the reference against the same column of the current frame: its type,
the method, the statistic, the verdict and the column's data-quality entry."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from bot.monitoring.drift.categorical import (
    _category_table,
    _chi2,
    _jensenshannon,
    _union_distinct,
)
from bot.monitoring.drift.numeric import (
    _bin_counts,
    _ks_pvalue,
    _ks_statistic,
    _psi,
    _wasserstein,
)
from bot.monitoring.drift.profiles import CATEGORICAL_MAX_DISTINCT, ColumnProfile, _Kind
from bot.monitoring.drift.quality import _new_categories, _out_of_range, _rate
from bot.monitoring.drift.results import (
    P_VALUE_METHODS,
    FeatureDrift,
    FeatureOverride,
    FeatureType,
    Method,
    psi_band,
)
from bot.monitoring.drift.verdicts import DEFAULT_THRESHOLDS, _verdict

SMALL_REFERENCE_ROWS = 1000
STD_FLOOR = 1e-3
# a text column with at least this share of distinct values is an ID, not a category
IDENTIFIER_DISTINCT_SHARE = 0.5


def _identifier_like(ref: ColumnProfile, cur: ColumnProfile) -> str | None:
    """Why a categorical column is an identifier (no meaningful test), or None."""
    for side, col in (("reference", ref), ("current", cur)):
        distinct = len(col.counts or {})
        if distinct > CATEGORICAL_MAX_DISTINCT and distinct >= IDENTIFIER_DISTINCT_SHARE * col.n:
            return (
                f"identifier-like: {distinct:,} distinct values in {col.n:,} {side} rows "
                "(not tested, not charted)"
            )
    return None


def _freshness(ref: ColumnProfile, cur: ColumnProfile, now: datetime | None) -> dict[str, Any]:
    """Newest value of each side and, given the report time, how old the current one is."""
    age = None
    if now is not None and cur.newest is not None:
        at = pd.Timestamp(now)
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
        age = (at - cur.newest).total_seconds()
    return {
        "newest_reference": ref.newest.isoformat() if ref.newest is not None else None,
        "newest_current": cur.newest.isoformat() if cur.newest is not None else None,
        "age_seconds": age,
    }


def _resolve_kind(ref: ColumnProfile, cur: ColumnProfile) -> tuple[_Kind | None, str | None]:
    rk = ref.kind if ref.kind is not None else cur.kind
    ck = cur.kind if cur.kind is not None else rk
    if rk == ck:
        return rk, None
    if "unsupported" in (rk, ck):
        return "unsupported", None
    return rk, f"type changed from {ref.dtype} to {cur.dtype}"


def count_statistic(
    feature: FeatureDrift, method: Method, r_counts: np.ndarray, c_counts: np.ndarray
) -> bool:
    """Set the PSI (context for every method) and, for a method on counts (PSI, JS,
    chi-squared), the statistic and p-value from both sides' counts; False for KS and
    Wasserstein, which need the values."""
    feature.psi = _psi(r_counts, c_counts)
    if method == "psi":
        feature.statistic = feature.psi
    elif method == "jensenshannon":
        feature.statistic = _jensenshannon(r_counts, c_counts)
    elif method == "chisquare":
        feature.statistic, feature.p_value = _chi2(r_counts, c_counts)
    else:
        return False
    return True


def _compare(
    ref: ColumnProfile,
    cur: ColumnProfile,
    override: FeatureOverride | None,
    now: datetime | None = None,
) -> tuple[FeatureDrift | None, dict[str, Any]]:
    """Drift verdict (None for unsupported dtypes and dates) and quality entry of one common
    column; ``now`` is the report time, for the freshness of date columns."""
    quality: dict[str, Any] = {
        "name": ref.name,
        "missing_rate_reference": _rate(ref.missing, ref.rows),
        "missing_rate_current": _rate(cur.missing, cur.rows),
    }
    kind, reason = _resolve_kind(ref, cur)
    if kind == "unsupported":
        return None, quality
    if kind == "datetime" and reason is None:
        quality["freshness"] = _freshness(ref, cur, now)
        return None, quality
    if kind is None:  # all-null object columns on both sides
        kind = "categorical"
    numeric_values = ref.values is not None and cur.values is not None
    if kind == "numeric" and not numeric_values and reason is None and ref.n and cur.n:
        reason = "values could not be converted to float"
    if kind == "numeric" and numeric_values:
        quality["out_of_range_share"] = _out_of_range(ref, cur)
    # with no values at all the dtype decides; "<= 5 distinct" needs something to count
    categorical = kind != "numeric" or (
        numeric_values and 0 < _union_distinct(ref, cur) <= CATEGORICAL_MAX_DISTINCT
    )
    ftype: FeatureType = "categorical" if categorical else "numeric"

    method: Method | None = override.method if override else None
    threshold: float | None = override.threshold if override else None
    feature = FeatureDrift(
        name=ref.name,
        type=ftype,
        method=method,
        threshold=threshold,
        missing_reference=ref.missing,
        missing_current=cur.missing,
        n_reference=ref.rows,
        n_current=cur.rows,
    )
    if reason is None:
        reason = no_values_reason(ref.n, cur.n)
        if reason is None and kind == "categorical":
            reason = _identifier_like(ref, cur)
    if reason is not None:
        feature.reason = reason
        return feature, quality

    if method is None:
        if ref.n <= SMALL_REFERENCE_ROWS:
            method = "chisquare" if categorical else "ks"
        else:
            method = "jensenshannon" if categorical else "wasserstein"
    feature.method = method
    feature.threshold = threshold if threshold is not None else DEFAULT_THRESHOLDS[method]

    if method in ("ks", "wasserstein") and not numeric_values:
        feature.reason = f"method {method} needs numeric values"
        return feature, quality

    if categorical:
        cats, r_counts, c_counts = _category_table(ref, cur)
        quality["new_categories"] = _new_categories(cats, r_counts, c_counts)
    else:
        assert ref.edges is not None and ref.bin_counts is not None and cur.values is not None
        r_counts = ref.bin_counts
        c_counts = _bin_counts(cur.values, ref.edges)
    if not count_statistic(feature, method, r_counts, c_counts):
        assert ref.values is not None and cur.values is not None
        if method == "ks":
            d = _ks_statistic(ref.values, cur.values)
            feature.statistic, feature.p_value = d, _ks_pvalue(d, ref.values, cur.values)
        elif not scale_wasserstein(feature, _wasserstein(ref.values, cur.values), ref.std, quality):
            return feature, quality
    settle(feature)
    return feature, quality


def no_values_reason(n: int, m: int) -> str | None:
    """Why a column with ``n`` reference and ``m`` current values cannot be tested, or None."""
    if n == 0 and m == 0:
        return "no values in reference or current"
    if n == 0:
        return "no values in reference"
    if m == 0:
        return "no values in current"
    return None


def scale_wasserstein(feature: FeatureDrift, w: float, std: float, quality: dict[str, Any]) -> bool:
    """Set the statistic to the Wasserstein distance ``w`` in reference standard deviations
    (at least STD_FLOOR; a warning in ``quality`` below it); False (with a reason) when the
    reference std is not finite."""
    if not math.isfinite(std):
        feature.reason = "reference standard deviation is not finite (values too large)"
        return False
    feature.statistic = w / max(std, STD_FLOOR)
    if std < STD_FLOOR:
        band = psi_band(feature.psi)
        quality["warning"] = (
            f"reference std {std:.3g} is below the floor {STD_FLOOR:g}: the "
            f"Wasserstein distance is divided by the floor; PSI "
            f"{feature.psi:.3g} ({band})"
            if feature.psi is not None and math.isfinite(feature.psi)
            else f"reference std {std:.3g} is below the floor {STD_FLOOR:g}"
        )
    return True


def settle(feature: FeatureDrift) -> None:
    """The verdict from the statistic or p-value; non-finite values become null, and a
    verdict that rested on one becomes "not tested" with the reason."""
    method = feature.method
    feature.drifted = _verdict(method, feature.statistic, feature.p_value, feature.threshold)
    for attr in ("statistic", "p_value", "psi"):
        value = getattr(feature, attr)
        if value is not None and not math.isfinite(value):
            setattr(feature, attr, None)
    if feature.drifted is not None and (
        feature.statistic is None or (method in P_VALUE_METHODS and feature.p_value is None)
    ):
        feature.drifted = None
        feature.reason = "statistic is not finite (values too large to compare)"
