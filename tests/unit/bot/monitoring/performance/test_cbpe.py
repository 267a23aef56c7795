"""CBPE on covariate shift with known truth: the estimate follows the realised performance."""

from __future__ import annotations

import numpy as np
import pytest

from bot.monitoring.performance import cbpe

WEIGHTS = np.array([1.2, -0.8, 0.6])


def _draw(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels from a fixed logistic model; only the features' mean moves (covariate shift)."""
    x = rng.normal(size=(n, 3)) + shift * WEIGHTS / np.linalg.norm(WEIGHTS)
    p = 1 / (1 + np.exp(-(x @ WEIGHTS - 0.4)))
    return p, (rng.random(n) < p).astype(float)


@pytest.mark.parametrize(
    ("distort", "calibration"),
    [(lambda p: p, cbpe.Calibration.RAW), (lambda p: p**3, cbpe.Calibration.ISOTONIC)],
    ids=["calibrated", "miscalibrated"],
)
def test_estimates_are_within_002_of_realised_on_shifted_windows(
    distort: object, calibration: cbpe.Calibration
) -> None:
    rng = np.random.default_rng(21)
    p_ref, y_ref = _draw(rng, 20_000, 0.0)
    model = cbpe.fit(y_ref, distort(p_ref), 0.5)  # type: ignore[operator]
    assert model.calibration is calibration
    for shift in (0.0, 0.5, 1.0):
        p, y = _draw(rng, 5_000, shift)
        window = cbpe.estimate_window(model, distort(p), y)  # type: ignore[operator]
        for metric in ("roc_auc", "accuracy"):
            est, real = window["estimated"][metric], window["realised"][metric]
            assert est == pytest.approx(real, abs=0.02), (shift, metric)


def test_the_estimate_moves_with_the_shift_and_the_band_narrows_with_rows() -> None:
    rng = np.random.default_rng(22)
    p_ref, y_ref = _draw(rng, 10_000, 0.0)
    model = cbpe.fit(y_ref, p_ref, 0.5)
    p_far, _ = _draw(rng, 4_000, 1.5)
    far = cbpe.estimate_window(model, p_far, None)
    assert far["estimated"]["accuracy"] > model.reference["accuracy"] + 0.05  # type: ignore[operator]
    assert model.band("roc_auc", 4_000) == pytest.approx(2 * model.band("roc_auc", 16_000))  # type: ignore[operator]


def test_the_expected_confusion_matrix_sums_to_the_rows() -> None:
    probs = np.array([0.9, 0.8, 0.3, 0.1])
    est = cbpe.expected_metrics(probs, probs, 0.5)
    assert est["tp"] == pytest.approx(1.7) and est["fp"] == pytest.approx(0.3)
    assert est["fn"] == pytest.approx(0.4) and est["tn"] == pytest.approx(1.6)
    assert est["accuracy"] == pytest.approx(3.3 / 4)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(np.zeros(50), "needs 100"), (np.zeros(500), "one class")],
)
def test_an_unusable_reference_is_refused_with_a_reason(labels: np.ndarray, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        cbpe.fit(labels, np.linspace(0, 1, len(labels)), 0.5)
