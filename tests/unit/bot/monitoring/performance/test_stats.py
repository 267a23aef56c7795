"""Intervals and score metrics: Wilson against its closed form, the AUC bootstrap seeded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from bot.monitoring.performance.stats import RankedScores, bootstrap_auc, reliability, wilson


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [(5, 10, (0.2366, 0.7634)), (0, 10, (0.0, 0.2775)), (10, 10, (0.7225, 1.0))],
)
def test_wilson_matches_the_textbook_values(k: int, n: int, expected: tuple) -> None:
    lo, hi = wilson(k, n)  # type: ignore[misc]
    assert (lo, hi) == pytest.approx(expected, abs=1e-4)


def test_wilson_without_trials_is_none() -> None:
    assert wilson(0, 0) is None


def test_ranked_auc_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 2000).astype(bool)
    s = np.round(rng.random(2000) + y * 0.3, 1)  # many ties
    assert RankedScores(y, s).auc() == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_auc_bootstrap_is_seeded_and_holds_the_point_estimate() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 800).astype(bool)
    s = rng.random(800) + y * 0.4
    first, again = bootstrap_auc(y, s), bootstrap_auc(y, s)
    assert first == again
    assert first is not None
    point = skm.roc_auc_score(y, s)
    assert first[0] < point < first[1]
    assert 0.03 < first[1] - first[0] < 0.15  # about ±2 standard errors at n = 800


def test_reliability_bins_count_every_row() -> None:
    s = np.array([0.05, 0.15, 0.15, 0.95])
    y = np.array([False, True, False, True])
    bins = reliability(y, s)
    assert [b["rows"] for b in bins] == [1, 2, 1]
    assert bins[1]["observed_rate"] == 0.5 and bins[1]["mean_score"] == pytest.approx(0.15)
    assert bins[1]["interval"] == pytest.approx(list(wilson(1, 2)))  # type: ignore[arg-type]


def test_a_large_sample_bootstrap_is_scaled_from_a_subsample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.monitoring.performance import stats

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 80_000).astype(bool)
    s = rng.random(80_000) + y * 0.3
    lo, hi = bootstrap_auc(y, s)  # type: ignore[misc]
    monkeypatch.setattr(stats, "BOOTSTRAP_MAX_ROWS", 10**9)
    full_lo, full_hi = bootstrap_auc(y, s)  # type: ignore[misc]
    assert lo < skm.roc_auc_score(y, s) < hi
    assert hi - lo == pytest.approx(full_hi - full_lo, rel=0.25)


@pytest.mark.parametrize("n", [1, 7, 33, 1000])
def test_wilson_holds_zero_and_n_successes(n: int) -> None:
    assert wilson(0, n)[0] == 0.0  # type: ignore[index]
    assert wilson(n, n)[1] == 1.0  # type: ignore[index]
