"""Data drift and data quality between a reference and a current frame (SPEC §7 "Reports").

Pure domain code: pandas/numpy/scipy in, a :class:`DriftResult` out. No Slack, no MLflow.

Per feature, every numeric column is converted to float64 and sorted once per side; that
single sort serves the type detection (distinct values), the KS statistic, the Wasserstein
distance, the PSI quantile bins and the out-of-range share. Reference-side work (the sorted
array, std, quantile edges, category counts) lives in a :class:`ReferenceProfile`, which
``profile_reference`` builds once so a monitor can reuse it for every current batch. When
``compute_drift`` gets a reference *frame*, it profiles a column only while that column is
compared and drops its arrays right after, so the extra memory is about one column pair per
worker thread.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy.special import kolmogorov, rel_entr
from scipy.stats import chi2_contingency, ks_2samp, kstwo

__all__ = [
    "ColumnProfile",
    "DriftResult",
    "FeatureDrift",
    "FeatureOverride",
    "Method",
    "ReferenceProfile",
    "compute_drift",
    "profile_reference",
]

logger = logging.getLogger(__name__)

Method = Literal["ks", "wasserstein", "psi", "chisquare", "jensenshannon"]
FeatureType = Literal["numeric", "categorical"]
_Kind = Literal["numeric", "categorical", "unsupported"]

METHODS: tuple[str, ...] = get_args(Method)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
}
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
SMALL_REFERENCE_ROWS = 1000
CATEGORICAL_MAX_DISTINCT = 5
PSI_BINS = 10
PSI_EPS = 1e-4
STD_FLOOR = 1e-3
DATASET_DRIFT_SHARE = 0.5
MIN_CATEGORY_COUNT = 5  # privacy: rarer categories are only ever shown as "other"
MAX_LISTED_CATEGORIES = 20
MAX_NAME_CHARS = 100
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)

# KS p-value. Measured against scipy 1.17 ks_2samp (method="auto"), relative error of
# kolmogorov(sqrt(en) * D), en = n*m/(n+m), over p >= 1e-3:
#   en = 25..1000 (scipy exact)     0.2% .. 11%  -> too far off: use ks_2samp itself
#   en = 5,000                      1.9%         (scipy asymptotic: kstwo.sf(D, round(en)))
#   en = 10,000 / 15,000            1.35% / 1.1%
#   en = 20,000 / 50,000 / 100,000  0.95% / 0.59% / 0.42%
# so the Kolmogorov limit is used from en >= 20,000, where it is within 1% of scipy and
# avoids kstwo.sf, which takes up to ~1 s per call at en ~ 5e5. Below that we return scipy's
# own value: ks_2samp on the already sorted arrays while both sides are <= 10,000 values
# (its exact regime, cheap at that size), else kstwo.sf(D, round(en)) exactly as ks_2samp does.
KS_ASYMPTOTIC_MIN_EN = 20_000
_SCIPY_KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True)
class FeatureOverride:
    """Per-feature override of the drift method and/or its threshold (policy file)."""

    method: Method | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"unknown drift method {self.method!r}; use one of {METHODS}")
        if self.threshold is not None and not (
            isinstance(self.threshold, int | float) and math.isfinite(self.threshold)
        ):
            raise ValueError(f"drift threshold must be a finite number, got {self.threshold!r}")


@dataclass
class FeatureDrift:
    """Drift verdict for one feature. ``drifted`` is None when it could not be tested."""

    name: str
    type: FeatureType
    method: Method | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool | None
    psi: float | None
    missing_reference: int
    missing_current: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": _finite(self.threshold),
            "drifted": self.drifted,
            "psi": _finite(self.psi),
            "missing_reference": int(self.missing_reference),
            "missing_current": int(self.missing_current),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class DriftResult:
    """Per-feature drift, the dataset verdict and the data-quality section.

    With ``correction == "bh"`` the ``p_value`` of KS and chi-squared features is the
    Benjamini-Hochberg adjusted one, and the verdicts use it.
    """

    features: list[FeatureDrift]
    drifted_share: float
    dataset_drift: bool
    quality: dict[str, Any]
    correction: Literal["bh"] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The drift fragment of the SPEC §7 report JSON (no NaN or inf anywhere)."""
        return {
            "features": [f.to_dict() for f in self.features],
            "drifted_share": _finite(self.drifted_share) or 0.0,
            "dataset_drift": bool(self.dataset_drift),
            "quality": self.quality,
        }


@dataclass(eq=False)
class ColumnProfile:
    """What the engine keeps of one column of one side.

    ``values`` holds the sorted finite values of a numeric column (or of a bool column, as
    0/1) and ``counts`` the category counts of a categorical one. Never serialised.
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


# --------------------------------------------------------------------------- public API


def profile_reference(
    reference: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    exclude: Collection[str] = frozenset(),
) -> ReferenceProfile:
    """Profile ``reference`` once; pass the result to :func:`compute_drift` as ``reference``."""
    positions = _positions(reference)
    excluded = {str(c) for c in exclude}
    names = [str(c) for c in (columns if columns is not None else positions)]
    profile = ReferenceProfile(rows=len(reference))
    for name in dict.fromkeys(names):
        if name in positions and name not in excluded:
            col = _profile_column(name, reference.iloc[:, positions[name]])
            with np.errstate(all="ignore"):
                _add_reference_stats(col)
            profile.columns[name] = col
    return profile


def compute_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    features: Mapping[str, FeatureOverride] | None = None,
    correction: Literal["bh"] | None = None,
    columns: Sequence[str] | None = None,
    exclude: Collection[str] = frozenset(),
    workers: int | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` per SPEC §7; never raises on odd data.

    ``columns`` restricts the analysis (default: every column of either side), ``exclude``
    removes columns (targets, predictions, timestamps), ``features`` overrides method and
    threshold per column. Column names are compared as strings. ``workers`` threads process
    columns concurrently (default: up to 4, one per CPU); results do not depend on it.
    """
    if correction not in (None, "bh"):
        raise ValueError(f"unknown correction {correction!r}; use 'bh' or None")
    overrides = dict(features or {})
    excluded = {str(c) for c in exclude}

    cur_pos = _positions(current)
    ref_pos: dict[str, int] = {}
    if isinstance(reference, ReferenceProfile):
        ref_names = list(reference.columns)
    else:
        ref_pos = _positions(reference)
        ref_names = list(ref_pos)
    ref_set = set(ref_names)

    if columns is not None:
        wanted = [str(c) for c in columns]
        unknown = [c for c in wanted if c not in ref_set and c not in cur_pos]
    else:
        wanted = ref_names + [c for c in cur_pos if c not in ref_set]
        unknown = []
    wanted = [c for c in dict.fromkeys(wanted) if c not in excluded]

    def one_column(name: str) -> tuple[str, str, FeatureDrift | None, dict[str, Any]]:
        # returns no arrays, so a finished column's memory is freed at once
        ref_dtype = cur_dtype = "?"
        try:
            if isinstance(reference, ReferenceProfile):
                ref = reference.columns[name]
            else:
                ref = _profile_column(name, reference.iloc[:, ref_pos[name]])
            ref_dtype = ref.dtype
            cur = _profile_column(name, current.iloc[:, cur_pos[name]])
            cur_dtype = cur.dtype
            with np.errstate(all="ignore"):  # overflow on ±1e308 data ends up as a null statistic
                if not isinstance(reference, ReferenceProfile):
                    _add_reference_stats(ref)
                feature, quality = _compare(ref, cur, overrides.get(name))
        except Exception as exc:  # a bug on one column must not sink the whole report
            logger.exception("drift: column %r could not be analysed", name)
            feature = FeatureDrift(
                name=name,
                type="numeric",
                method=None,
                statistic=None,
                p_value=None,
                threshold=None,
                drifted=None,
                psi=None,
                missing_reference=0,
                missing_current=0,
                reason=f"could not be analysed ({type(exc).__name__})",
            )
            quality = {"name": name}
        return ref_dtype, cur_dtype, feature, quality

    common = [c for c in wanted if c in ref_set and c in cur_pos]
    n_workers = max(1, min(workers if workers is not None else DEFAULT_WORKERS, len(common)))
    done: Iterator[tuple[str, str, FeatureDrift | None, dict[str, Any]]]
    if n_workers == 1:
        done = map(one_column, common)
    else:  # sorting and the array passes release the GIL, so columns overlap on cores
        pool = ThreadPoolExecutor(n_workers, thread_name_prefix="drift")
        done = pool.map(one_column, common)
    results: list[FeatureDrift] = []
    quality_columns: list[dict[str, Any]] = []
    changed_types: list[dict[str, str]] = []
    unsupported: list[dict[str, str]] = []
    try:
        for name, (ref_dtype, cur_dtype, feature, quality) in zip(common, done, strict=True):
            if ref_dtype != cur_dtype:
                changed_types.append({"name": name, "reference": ref_dtype, "current": cur_dtype})
            if feature is None:
                unsupported.append({"name": name, "dtype": ref_dtype})
            else:
                results.append(feature)
            quality_columns.append(quality)
    finally:
        if n_workers > 1:
            pool.shutdown(cancel_futures=True)

    _quantile_grid.cache_clear()  # up to ~32 bytes per value; not worth keeping across calls
    if correction == "bh":
        _apply_bh(results)

    verdicts = [f.drifted for f in results if f.drifted is not None]
    share = sum(verdicts) / len(verdicts) if verdicts else 0.0
    summary: dict[str, Any] = {
        "missing_columns": [c for c in wanted if c in ref_set and c not in cur_pos],
        "extra_columns": [c for c in wanted if c in cur_pos and c not in ref_set],
        "unknown_columns": unknown,
        "changed_types": changed_types,
        "unsupported_columns": unsupported,
        "columns": quality_columns,
    }
    return DriftResult(
        features=results,
        drifted_share=float(share),
        dataset_drift=bool(verdicts) and share >= DATASET_DRIFT_SHARE,
        quality=summary,
        correction=correction,
    )


# --------------------------------------------------------------------------- column loading


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
    return "unsupported"  # datetime, timedelta, period, interval, ...


def _profile_column(name: str, s: pd.Series) -> ColumnProfile:
    dtype = s.dtype
    kind: _Kind | None = _dtype_kind(dtype)
    col = ColumnProfile(name=name, dtype=str(dtype), kind=kind, rows=len(s), missing=len(s))
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
    centred = col.values - np.mean(col.values)
    col.std = math.sqrt(float(np.dot(centred, centred)) / centred.size)
    col.edges = _quantile_edges(col.values)
    col.bin_counts = _bin_counts(col.values, col.edges)


# --------------------------------------------------------------------------- statistics


def _quantile_edges(s: np.ndarray) -> np.ndarray:
    """Unique inner deciles of sorted ``s`` (same arithmetic as np.quantile 'linear')."""
    q = np.arange(1, PSI_BINS) / PSI_BINS
    h = (s.size - 1) * q
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, s.size - 1)
    t = h - lo
    a, b = s[lo], s[hi]
    diff = b - a
    edges = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return np.unique(edges)


def _bin_counts(s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted ``s`` in bins (-inf, e0), [e0, e1), ..., [ek, +inf)."""
    cuts = np.searchsorted(s, edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [s.size]))).astype(np.float64)


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    p = np.where(p == 0, PSI_EPS, p)
    q = np.where(q == 0, PSI_EPS, q)
    return float(np.sum((q - p) * np.log(q / p)))


def _jensenshannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon(ref, cur) (natural log), clamped at 0."""
    p = ref_counts / np.sum(ref_counts)
    q = cur_counts / np.sum(cur_counts)
    m = (p + q) / 2.0
    js = np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))
    return float(np.sqrt(max(float(js), 0.0) / 2.0))


def _chi2(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """chi2_contingency on the 2 x k table (Yates' correction when k == 2, as scipy does)."""
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def _ecdf_gap(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F_u - F_v at every value of the merged sample, and the merged sorted values.

    ``u`` and ``v`` are sorted, so the stable argsort of their concatenation is a single
    O(n + m) timsort merge; the running count of ``v`` elements gives both ECDFs without the
    two searchsorted passes scipy makes. Inside a run of ties the gap is only exact at the
    run's last element (which is where scipy's side='right' evaluates it).
    """
    n, m = u.size, v.size
    both = np.concatenate((u, v))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    del both
    cv = np.cumsum(order >= n)
    del order
    cu = np.arange(1, n + m + 1) - cv
    return cu / n - cv / m, merged


def _ks_statistic(u: np.ndarray, v: np.ndarray) -> float:
    gap, merged = _ecdf_gap(u, v)
    run_end = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=run_end[:-1])
    run_end[-1] = True
    return float(np.max(np.abs(gap[run_end])))


@lru_cache(maxsize=2)  # cleared at the end of each compute_drift call
def _quantile_grid(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs and weights so that W1 = sum(w * |u[a] - v[b]|) for sorted u (n), v (m).

    W1 is the integral of |Q_u(t) - Q_v(t)| over t in (0, 1]; both quantile functions are
    constant between consecutive points of {i/n} U {j/m}. Data-independent, so columns with
    the same value counts on both sides share one grid.
    """
    # Breakpoints in units of 1/(n*m): i*m (u steps) and j*n (v steps). Their merged order is
    # known in closed form, so they are scattered into place instead of sorted; a breakpoint
    # shared by both appears twice and gets a zero width. On (s_k-1, s_k] the quantile
    # indices are a = ceil(s_k/m) - 1 and b = ceil(s_k/n) - 1.
    index_type = np.int32 if n + m < 2**31 else np.int64
    s = np.empty(n + m, dtype=np.int64)
    a = np.empty(n + m, dtype=index_type)
    b = np.empty(n + m, dtype=index_type)
    i = np.arange(n, dtype=np.int64)  # u breakpoint (i+1)*m
    brk = (i + 1) * m
    ceil_u = (brk + (n - 1)) // n  # ceil((i+1)*m/n) = 1 + #{j: j*n < (i+1)*m}
    pos = i + ceil_u - 1
    s[pos], a[pos], b[pos] = brk, i, ceil_u - 1
    del i, brk, ceil_u, pos
    j = np.arange(m, dtype=np.int64)  # v breakpoint (j+1)*n
    brk = (j + 1) * n
    floor_v = brk // m  # #{i: i*m <= (j+1)*n}
    pos = j + floor_v
    s[pos], a[pos], b[pos] = brk, floor_v - (floor_v * m == brk), j
    del j, brk, floor_v, pos
    widths = np.empty(n + m)
    widths[0] = s[0]
    np.subtract(s[1:], s[:-1], out=widths[1:])
    widths /= float(n) * float(m)
    return a, b, widths


def _wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    """1-Wasserstein distance of two sorted samples (== scipy.stats.wasserstein_distance)."""
    if u.size == v.size:
        gap = np.subtract(u, v)
        return float(np.mean(np.abs(gap, out=gap)))
    a, b, widths = _quantile_grid(u.size, v.size)
    return float(np.dot(np.abs(u[a] - v[b]), widths))


def _ks_pvalue(d: float, u: np.ndarray, v: np.ndarray) -> float:
    """Two-sided KS p-value; see the KS_ASYMPTOTIC_MIN_EN note for the choice of formula."""
    n, m = u.size, v.size
    en = n * m / (n + m)
    if en >= KS_ASYMPTOTIC_MIN_EN:
        p = float(kolmogorov(math.sqrt(en) * d))
    elif max(n, m) <= _SCIPY_KS_EXACT_MAX_N:
        with warnings.catch_warnings():  # "exact calculation unsuccessful" -> scipy's asymp
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(ks_2samp(u, v).pvalue)
    else:
        p = float(kstwo.sf(d, round(en)))
    return min(max(p, 0.0), 1.0) if math.isfinite(p) else 1.0


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (step-up, monotone, capped at 1)."""
    k = p.size
    order = np.argsort(p)
    scaled = p[order] * k / np.arange(1, k + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(k)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _apply_bh(results: list[FeatureDrift]) -> None:
    tested = [f for f in results if f.p_value is not None and f.method in P_VALUE_METHODS]
    if not tested:
        return
    adjusted = _benjamini_hochberg(np.array([f.p_value for f in tested], dtype=np.float64))
    for f, p in zip(tested, adjusted.tolist(), strict=True):
        f.p_value = p
        f.drifted = _verdict(f.method, f.statistic, p, f.threshold)


def _verdict(
    method: str | None, statistic: float | None, p: float | None, threshold: float | None
) -> bool | None:
    if threshold is None:
        return None
    if method == "ks":
        return None if p is None else p <= threshold
    if method == "chisquare":
        return None if p is None else p < threshold
    return None if statistic is None else statistic >= threshold


# --------------------------------------------------------------------------- comparison


def _resolve_kind(ref: ColumnProfile, cur: ColumnProfile) -> tuple[_Kind | None, str | None]:
    rk = ref.kind if ref.kind is not None else cur.kind
    ck = cur.kind if cur.kind is not None else rk
    if rk == ck:
        return rk, None
    if "unsupported" in (rk, ck):
        return "unsupported", None
    return rk, f"type changed from {ref.dtype} to {cur.dtype}"


def _compare(
    ref: ColumnProfile, cur: ColumnProfile, override: FeatureOverride | None
) -> tuple[FeatureDrift | None, dict[str, Any]]:
    """Drift verdict (None for unsupported dtypes) and quality entry of one common column."""
    quality: dict[str, Any] = {
        "name": ref.name,
        "missing_rate_reference": _rate(ref.missing, ref.rows),
        "missing_rate_current": _rate(cur.missing, cur.rows),
    }
    kind, reason = _resolve_kind(ref, cur)
    if kind == "unsupported":
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
        statistic=None,
        p_value=None,
        threshold=threshold,
        drifted=None,
        psi=None,
        missing_reference=ref.missing,
        missing_current=cur.missing,
    )
    if reason is None:
        if ref.n == 0 and cur.n == 0:
            reason = "no values in reference or current"
        elif ref.n == 0:
            reason = "no values in reference"
        elif cur.n == 0:
            reason = "no values in current"
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
    feature.psi = _psi(r_counts, c_counts)

    if method == "psi":
        feature.statistic = feature.psi
    elif method == "jensenshannon":
        feature.statistic = _jensenshannon(r_counts, c_counts)
    elif method == "chisquare":
        feature.statistic, feature.p_value = _chi2(r_counts, c_counts)
    else:
        assert ref.values is not None and cur.values is not None
        if method == "ks":
            d = _ks_statistic(ref.values, cur.values)
            feature.statistic, feature.p_value = d, _ks_pvalue(d, ref.values, cur.values)
        else:
            w = _wasserstein(ref.values, cur.values)
            feature.statistic = w / max(ref.std, STD_FLOOR)
    feature.drifted = _verdict(method, feature.statistic, feature.p_value, feature.threshold)
    for attr in ("statistic", "p_value", "psi"):
        value = getattr(feature, attr)
        if value is not None and not math.isfinite(value):
            setattr(feature, attr, None)
    if feature.drifted is not None and (
        feature.statistic is None or (method in P_VALUE_METHODS and feature.p_value is None)
    ):
        feature.drifted, feature.reason = None, "statistic is not finite"
    return feature, quality


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


def _finite(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
