"""Confidence-based performance estimation (CBPE): performance before the labels arrive.

The method of NannyML (https://nannyml.readthedocs.io, "Confidence-based Performance
Estimation"): when scores are calibrated, the score of a row is the probability that its label
is positive, so a window's confusion matrix has an expected value without any label:
E[TP] = Σ p over rows predicted positive, E[FP] = Σ (1 - p) over them, and likewise for the
rows predicted negative; ROC-AUC is the AUC of that expected curve. Scores are calibrated with
scikit-learn's isotonic regression fitted on the labelled reference when the reference shows
that the raw scores are not already calibrated. The estimate holds while P(label | score) stays
as it was on the reference (covariate shift); it cannot see a change of the concept itself.

The sampling band is the spread of the realised metric on bootstrap resamples of the reference,
scaled to the window's rows: an estimate inside the band of the reference's value is noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.performance.stats import BOOTSTRAP_SEED, RankedScores, is_probability

if TYPE_CHECKING:
    from sklearn.isotonic import IsotonicRegression

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
BAND_Z = 1.96  # the band holds 95 % of a window's sampling noise
BAND_RESAMPLES = 100
CALIBRATION_BINS = 10
CALIBRATION_FOLDS = 5
MIN_REFERENCE_ROWS = 100
SPREAD_MAX_ROWS = 50_000
CHECK_MAX_ROWS = 200_000  # rows of the cross-validated calibration check


class Calibration(StrEnum):
    """Whether the scores were used as they are or mapped through the reference's calibration."""

    RAW = "raw"
    ISOTONIC = "isotonic"


@dataclass
class CbpeModel:
    """What CBPE learns from the labelled reference."""

    calibration: Calibration
    calibrator: IsotonicRegression | None
    threshold: float
    reference_rows: int
    reference: dict[str, float | None]  # realised on the reference
    spread: dict[str, float]  # standard deviation of each metric at spread_rows
    spread_rows: int
    ece_raw: float | None
    ece_calibrated: float | None

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return scores
        return np.asarray(self.calibrator.predict(scores), dtype=float)

    def band(self, metric: str, rows: int) -> float | None:
        """Half-width of the sampling band of `metric` on a window of `rows` rows."""
        sd = self.spread.get(metric)
        if sd is None or rows <= 0:
            return None
        return BAND_Z * sd * math.sqrt(self.spread_rows / rows)

    def describe(self) -> str:
        if self.calibration is Calibration.RAW:
            return f"scores used as probabilities (reference calibration error {self.ece_raw:.3f})"
        raw = "scores outside [0, 1]" if self.ece_raw is None else f"error {self.ece_raw:.3f}"
        return (
            f"scores calibrated with isotonic regression on the reference ({raw} → "
            f"{self.ece_calibrated:.3f} cross-validated)"
        )


def expected_metrics(
    probabilities: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, float | None]:
    """The expected confusion matrix and its metrics, from calibrated probabilities."""
    n = len(scores)
    if n == 0:
        return dict.fromkeys((*METRICS, "tp", "fp", "fn", "tn"))
    predicted = scores >= threshold
    tp = float(probabilities[predicted].sum())
    fp = float((1 - probabilities[predicted]).sum())
    fn = float(probabilities[~predicted].sum())
    tn = float((1 - probabilities[~predicted]).sum())
    return {
        "roc_auc": RankedScores(probabilities, scores).auc(),
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp > 0 else None,
        "recall": tp / (tp + fn) if tp + fn > 0 else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def realised_metrics(
    positive: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    weights: np.ndarray | None = None,
    ranked: RankedScores | None = None,
) -> dict[str, float | None]:
    """The same metrics from the labels (`weights`: a resample's row counts; `ranked`: the
    rows already sorted, when many resamples of them are measured)."""
    w = np.ones(len(scores)) if weights is None else weights
    predicted = scores >= threshold
    y = positive.astype(bool)
    tp = float(w[predicted & y].sum())
    fp = float(w[predicted & ~y].sum())
    fn = float(w[~predicted & y].sum())
    tn = float(w[~predicted & ~y].sum())
    n = tp + fp + fn + tn
    return {
        "roc_auc": (ranked or RankedScores(y, scores)).auc(None if weights is None else w),
        "accuracy": (tp + tn) / n if n else None,
        "precision": tp / (tp + fp) if tp + fp > 0 else None,
        "recall": tp / (tp + fn) if tp + fn > 0 else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None,
    }


def calibration_error(positive: np.ndarray, probabilities: np.ndarray) -> float:
    """Expected calibration error over equal-frequency bins of the probabilities."""
    order = np.argsort(probabilities, kind="mergesort")
    total = 0.0
    for part in np.array_split(order, CALIBRATION_BINS):
        if len(part):
            total += len(part) * abs(probabilities[part].mean() - positive[part].mean())
    return total / len(probabilities)


def calibration_noise(probabilities: np.ndarray) -> float:
    """The calibration error that perfectly calibrated probabilities show by chance alone
    (mean absolute deviation of each bin's positive rate from its mean probability)."""
    order = np.argsort(probabilities, kind="mergesort")
    total = 0.0
    for part in np.array_split(order, CALIBRATION_BINS):
        p = probabilities[part]
        total += math.sqrt(2 / math.pi) * math.sqrt(float((p * (1 - p)).sum()))
    return total / len(probabilities)


def fit(positive: np.ndarray, scores: np.ndarray, threshold: float) -> CbpeModel:
    """Learn the calibration and the sampling spread from a labelled reference.

    ValueError (its message says why) when the reference cannot support an estimate."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.model_selection import StratifiedKFold

    y = positive.astype(float)
    if len(y) < MIN_REFERENCE_ROWS:
        raise ValueError(f"the reference has {len(y)} labelled scored rows, CBPE needs 100")
    if y.min() == y.max():
        raise ValueError("the reference holds one class only: calibration cannot be fitted")

    # cross-validated isotonic calibration: is it better than the raw scores on unseen rows?
    check_y, check_s = y, scores
    if len(y) > CHECK_MAX_ROWS:
        pick = np.random.default_rng(BOOTSTRAP_SEED).choice(len(y), CHECK_MAX_ROWS, replace=False)
        check_y, check_s = y[pick], scores[pick]
    folds = StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=BOOTSTRAP_SEED)
    out_of_fold = np.empty(len(check_y))
    for train, test in folds.split(check_s.reshape(-1, 1), check_y):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        out_of_fold[test] = iso.fit(check_s[train], check_y[train]).predict(check_s[test])
    ece_cal = calibration_error(check_y, out_of_fold)
    ece_raw = calibration_error(check_y, check_s) if is_probability(scores) else None
    calibrator = None
    calibration = Calibration.RAW
    # recalibrate only when the raw scores are off by more than chance: isotonic steps fitted on
    # sparse score ranges cost more than they fix when the scores were calibrated already
    if ece_raw is None or ece_raw > ece_cal + calibration_noise(check_s):
        calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        calibrator.fit(scores, y)
        calibration = Calibration.ISOTONIC
    reference = realised_metrics(y, scores, threshold)
    spread, spread_rows = _spread(y, scores, threshold)
    return CbpeModel(
        calibration=calibration,
        calibrator=calibrator,
        threshold=threshold,
        reference_rows=len(y),
        reference=reference,
        spread=spread,
        spread_rows=spread_rows,
        ece_raw=ece_raw,
        ece_calibrated=ece_cal,
    )


def _spread(y: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[dict[str, float], int]:
    """Standard deviation of each realised metric over seeded bootstrap resamples, and the rows
    it holds for (a large reference is subsampled: the band scales it to any window's rows)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    if len(y) > SPREAD_MAX_ROWS:
        pick = rng.choice(len(y), SPREAD_MAX_ROWS, replace=False)
        y, scores = y[pick], scores[pick]
    n = len(y)
    ranked = RankedScores(y, scores)  # sorted once for every resample
    samples: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(BAND_RESAMPLES):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        for m, v in realised_metrics(y, scores, threshold, counts, ranked).items():
            if v is not None:
                samples[m].append(v)
    return {m: float(np.std(v, ddof=1)) for m, v in samples.items() if len(v) > 1}, n


def estimate_window(
    model: CbpeModel, scores: np.ndarray, positive: np.ndarray | None
) -> dict[str, Any]:
    """One window: estimated metrics with their band; realised ones where labels exist.

    `positive` holds 1/0 for labelled rows and NaN for rows whose label has not arrived."""
    estimated = expected_metrics(model.probabilities(scores), scores, model.threshold)
    band = {m: model.band(m, len(scores)) for m in METRICS}
    out: dict[str, Any] = {
        "rows": len(scores),
        "estimated": {m: estimated[m] for m in METRICS},
        "lower": {m: _edge(estimated[m], band[m], -1) for m in METRICS},
        "upper": {m: _edge(estimated[m], band[m], 1) for m in METRICS},
        "confusion": {k: estimated[k] for k in ("tp", "fp", "fn", "tn")},
        "labelled_rows": 0,
        "realised": dict.fromkeys(METRICS),
    }
    if positive is not None:
        known = ~np.isnan(positive)
        out["labelled_rows"] = int(known.sum())
        if known.any():
            out["realised"] = realised_metrics(positive[known], scores[known], model.threshold)
    return out


def _edge(value: float | None, half: float | None, sign: int) -> float | None:
    if value is None or half is None:
        return None
    return min(1.0, max(0.0, value + sign * half))
