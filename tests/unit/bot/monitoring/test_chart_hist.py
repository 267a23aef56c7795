"""Issue 14 item 9: a feature chart's histogram numbers, read off sorted sides, are numpy's
own to the bit (the charts must not change while they get cheaper)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.monitoring import chart_hist

BINS = 30


def samples(kind: str, n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if kind == "normal":
        return rng.normal(size=n), rng.normal(size=m) + 0.3
    if kind == "ties":
        return rng.integers(0, 4, n).astype(float), rng.integers(0, 4, m).astype(float)
    if kind == "constant":
        return np.full(n, 2.5), np.full(m, 2.5)
    return rng.exponential(size=n) * 1e-3, rng.lognormal(size=m) * 1e6  # far apart scales


def numpy_way(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """What the chart computed before: np.quantile of both, np.histogram of each clipped."""
    lo, hi = np.quantile(np.concatenate([ref, cur]), list(chart_hist.TAILS))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    drawn = [np.histogram(np.clip(v, lo, hi), bins=BINS, range=(lo, hi)) for v in (ref, cur)]
    return drawn[0][1], [counts for counts, _ in drawn]


@pytest.mark.parametrize("kind", ["normal", "ties", "constant", "scales"])
def test_edges_and_counts_are_numpys_to_the_bit(kind: str) -> None:
    rng = np.random.default_rng(14)
    for n, m in [(1, 0), (0, 3), (1, 1), (2, 5), (7, 7), (40, 13), (500, 731)]:
        ref, cur = samples(kind, n, m, rng)
        got = chart_hist.overlay(ref, cur, BINS)
        assert got is not None
        edges, counts = numpy_way(ref, cur)
        assert got[0].tobytes() == edges.tobytes(), (kind, n, m)
        for mine, theirs in zip(got[1], counts, strict=True):
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), (kind, n, m)


def test_union_quantiles_and_kth_match_numpy_on_large_samples() -> None:
    rng = np.random.default_rng(9)
    ref = rng.normal(size=200_000)
    ref[:5000] = np.round(ref[:5000], 1)  # ties
    cur = rng.normal(size=199_993) * 2 + 0.5
    got = chart_hist.union_quantiles(np.sort(ref), np.sort(cur), chart_hist.TAILS)
    want = np.quantile(np.concatenate([ref, cur]), list(chart_hist.TAILS))
    assert got.tobytes() == want.tobytes()
    merged = np.sort(np.concatenate([ref, cur]))
    for k in (0, 1, 1999, 2000, 200_000, merged.size - 1):
        assert chart_hist.kth(np.sort(ref), np.sort(cur), k) == merged[k]


def test_nothing_to_draw() -> None:
    assert chart_hist.overlay(np.empty(0), np.empty(0), BINS) is None
