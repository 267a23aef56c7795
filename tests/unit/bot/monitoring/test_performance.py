"""Performance metrics: classification, regression, time windows, degradation vs baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from bot.monitoring.performance import PerformanceError, compute_performance, detect_task


def test_binary_classification_with_scores_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    score = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    df = pd.DataFrame({"label": y, "prediction": score})
    r = compute_performance(df, "label", "prediction")
    pred = (score >= 0.5).astype(int)
    assert r.task == "classification"
    assert r.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r.metrics["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert r.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))


def test_regression_and_degradation() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    df = pd.DataFrame({"y": y, "p": y + rng.normal(scale=0.5, size=300)})
    r = compute_performance(df, "y", "p", baseline={"rmse": 0.2, "r2": 0.99, "mae": 5.0})
    assert r.task == "regression"
    assert r.metrics["rmse"] == pytest.approx(np.sqrt(np.mean((df.y - df.p) ** 2)))
    assert "rmse" in r.degraded and "r2" in r.degraded and "mae" not in r.degraded
    json.dumps(r.to_dict(), allow_nan=False)


def test_windows_by_timestamp() -> None:
    ts = pd.date_range("2026-11-01", periods=96, freq="h", tz="UTC")
    df = pd.DataFrame({"ts": ts, "label": [0, 1] * 48, "prediction": [0, 1] * 40 + [1, 0] * 8})
    r = compute_performance(
        df, "label", "prediction", timestamp="ts", window="1D", min_window_rows=24
    )
    assert [w["rows"] for w in r.windows] == [24, 24, 24, 24]
    assert r.windows[0]["metrics"]["accuracy"] == 1.0
    assert r.windows[-1]["metrics"]["accuracy"] < 1.0


def test_string_labels_are_classification() -> None:
    df = pd.DataFrame({"t": ["yes", "no"] * 10, "p": ["yes"] * 20})
    assert detect_task(df["t"]) == "classification"
    r = compute_performance(df, "t", "p")
    assert r.metrics["accuracy"] == 0.5 and r.metrics["roc_auc"] is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"target": "nope", "prediction": "p"}, "`nope`"),
        ({"target": "t", "prediction": "p", "timestamp": "s"}, "no readable timestamps"),
        (
            {"target": "t", "prediction": "p", "timestamp": "ts", "window": "fortnight"},
            "pandas frequency",
        ),
    ],
)
def test_errors_name_the_column(kwargs: dict, expected: str) -> None:
    df = pd.DataFrame(
        {"t": [1, 0], "p": [1, 1], "ts": ["2026-01-01", "2026-01-02"], "s": ["x", "y"]}
    )
    with pytest.raises(PerformanceError, match=expected):
        compute_performance(df, **kwargs)
