"""From a statistic to a verdict: default thresholds, the per-method rule (Evidently's: KS
p <= threshold, chi-squared p < threshold, distances >= threshold) and the Benjamini-Hochberg
correction of p-values across the features of one report."""

from __future__ import annotations

import numpy as np

from bot.monitoring.drift.results import P_VALUE_METHODS, FeatureDrift

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
}
DATASET_DRIFT_SHARE = 0.5

__all__ = ["DATASET_DRIFT_SHARE", "DEFAULT_THRESHOLDS", "P_VALUE_METHODS"]


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (scipy's step-up false_discovery_control, capped at 1)."""
    if p.size == 0:
        return p.astype(np.float64)
    from scipy.stats import false_discovery_control  # ~1 s to import: only when p-values exist

    return np.asarray(false_discovery_control(p, method="bh"), dtype=np.float64)


def _apply_bh(results: list[FeatureDrift]) -> None:
    """Adjust the raw p-values of the tested p-value features; verdicts use the adjusted p."""
    tested = [
        f
        for f in results
        if f.p_value is not None and f.method in P_VALUE_METHODS and f.drifted is not None
    ]
    if not tested:
        return
    adjusted = _benjamini_hochberg(np.array([f.p_value for f in tested], dtype=np.float64))
    for f, p in zip(tested, adjusted.tolist(), strict=True):
        f.p_value_adjusted = p
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
