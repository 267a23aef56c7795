"""The numbers of a feature chart's histogram overlay, read off each side sorted once.

Equal, bit for bit, to what the chart computed with numpy's functions: the linear
`np.quantile` of both sides at 0.5 % and 99.5 % (the range drawn), then per side
`np.histogram(np.clip(values, lo, hi), bins, range=(lo, hi))`. `np.quantile` partitions the
values of both sides (several kth: numpy's slow path, ~9 ms for 2 x 200k) and each histogram
makes several passes (~2.5 ms); two SIMD sorts (~1.3 ms each) give the same order statistics
by binary search and the same counts by `searchsorted`, a third of the time.
"""

from __future__ import annotations

import numpy as np

TAILS = (0.005, 0.995)  # the quantiles of both sides that bound the drawn range


def overlay(
    reference: np.ndarray, current: np.ndarray, bins: int
) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Bin edges and the counts of each side (finite float64 values), the outer tails counted
    in the end bins; None when both sides are empty."""
    sides = [np.sort(reference), np.sort(current)]
    if sides[0].size + sides[1].size == 0:
        return None
    lo, hi = union_quantiles(sides[0], sides[1], TAILS)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.histogram_bin_edges(np.empty(0), bins=bins, range=(lo, hi))
    if not np.all(edges[1:] > edges[:-1]):  # a range of a few ulps: let numpy count
        clipped = [np.clip(s, lo, hi) for s in sides]
        return edges, [np.histogram(c, bins=bins, range=(lo, hi))[0] for c in clipped]
    return edges, [_counts(s, edges) for s in sides]


def _counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's counts of the clipped sorted ``values``: [e_i, e_i+1), the last bin
    closed; values below the first edge count in the first bin, above the last in the last."""
    cuts = np.searchsorted(values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], cuts, [values.size])))


def union_quantiles(a: np.ndarray, b: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(np.concatenate([a, b]), qs)`` (method "linear", its arithmetic) for sorted
    ``a`` and ``b``, not both empty."""
    n = a.size + b.size
    virtual = (n - 1) * np.asarray(qs, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1  # numpy takes the largest value there
    previous[above] = following[above] = -1
    prev_i, next_i = previous.astype(np.intp), following.astype(np.intp)
    low = np.array([kth(a, b, int(i) % n) for i in prev_i])
    high = np.array([kth(a, b, int(i) % n) for i in next_i])
    gamma = virtual - prev_i
    diff = high - low
    out = np.add(low, diff * gamma)
    np.subtract(high, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def kth(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """The ``k``-th smallest value (from 0) of sorted ``a`` and ``b`` together."""
    # the k + 1 smallest are the i smallest of a and the k + 1 - i smallest of b, for the
    # smallest i with a[i] >= b[k - i] (or no more of a, or none of b)
    lo, hi = max(0, k + 1 - b.size), min(k + 1, a.size)
    while lo < hi:
        i = (lo + hi) // 2
        if a[i] < b[k - i]:
            lo = i + 1
        else:
            hi = i
    j = k + 1 - lo
    if lo == 0:
        return float(b[j - 1])
    if j == 0:
        return float(a[lo - 1])
    return float(max(a[lo - 1], b[j - 1]))
