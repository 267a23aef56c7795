"""From a statistic to a verdict: default thresholds, the per-method rule and the
Benjamini-Hochberg correction of p-values across features."""

from __future__ import annotations

import numpy as np

from bot.monitoring.drift.results import FeatureDrift

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
}
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
DATASET_DRIFT_SHARE = 0.5


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
