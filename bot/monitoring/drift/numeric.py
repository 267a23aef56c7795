"""Statistics on numbers: KS, Wasserstein and PSI.

KS, Wasserstein and the PSI deciles take float64 samples already sorted (and cleared of
NaN/±inf) by the column profiles; ``_psi`` compares two count vectors, the decile bins of a
numeric column or the categories of a categorical one.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

PSI_BINS = 10
PSI_EPS = 1e-4

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
        from scipy.special import kolmogorov  # scipy.special: ~0.15 s to import, where used

        p = float(kolmogorov(math.sqrt(en) * d))
    elif max(n, m) <= _SCIPY_KS_EXACT_MAX_N:
        from scipy.stats import ks_2samp

        with warnings.catch_warnings():  # "exact calculation unsuccessful" -> scipy's asymp
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(ks_2samp(u, v).pvalue)
    else:
        from scipy.stats import kstwo

        p = float(kstwo.sf(d, round(en)))
    return min(max(p, 0.0), 1.0) if math.isfinite(p) else 1.0
