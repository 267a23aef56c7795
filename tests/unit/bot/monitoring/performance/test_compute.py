"""Performance metrics: classification, regression, time windows, degradation vs baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from bot.monitoring.performance import (
    Baseline,
    PerformanceError,
    compute_performance,
    detect_task,
)


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


def _scored(n: int = 2000, seed: int = 3, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    score = 1 / (1 + np.exp(-2 * x))
    return pd.DataFrame({"label": y, "score": score, "prediction": (score >= 0.5).astype(int)})


def test_a_score_column_adds_auc_pr_auc_log_loss_brier_and_a_confusion_matrix() -> None:
    df = _scored()
    r = compute_performance(df, "label", "prediction", score="score", decision_threshold=0.3)
    y, s = df["label"], df["score"]
    assert r.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert r.metrics["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
    assert r.metrics["log_loss"] == pytest.approx(skm.log_loss(y, s))
    assert r.metrics["brier"] == pytest.approx(skm.brier_score_loss(y, s))
    body = r.to_dict()
    tn, fp, fn, tp = skm.confusion_matrix(y, s >= 0.3).ravel()
    assert body["confusion"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert body["decision_threshold"] == 0.3 and body["positive_label"] == "1"
    assert sum(b["rows"] for b in body["reliability"]) == len(df)


def test_rates_carry_wilson_intervals_and_auc_a_bootstrap_one() -> None:
    r = compute_performance(_scored(), "label", "prediction", score="score")
    intervals = r.to_dict()["intervals"]
    for metric in ("accuracy", "precision", "recall", "roc_auc"):
        lo, hi = intervals[metric]
        assert lo < r.metrics[metric] < hi, metric  # type: ignore[operator]
    assert "f1" not in intervals  # neither a rate nor an AUC


def test_each_window_shows_its_rows_interval_and_span() -> None:
    df = _scored(300).assign(
        ts=pd.date_range("2026-11-01 22:00", periods=300, freq="10min", tz="UTC")
    )
    r = compute_performance(df, "label", "prediction", timestamp="ts", min_window_rows=30)
    first = r.to_dict()["windows"][0]
    assert first["rows"] == 12 + 144 and first["periods"] == 2  # 12 rows on the first day
    assert first["end"] == "2026-11-03T00:00:00+00:00"
    assert first["intervals"]["accuracy"][0] < first["metrics"]["accuracy"]
    assert all(w["rows"] >= 30 for w in r.windows)


def test_predictions_are_compared_with_the_run_of_the_version_that_made_them() -> None:
    df = _scored().assign(model_version=["1"] * 1500 + ["v3"] * 500)
    runs = {
        "1": Baseline({"accuracy": 0.5}, "metrics logged on run aaa (v1)"),
        "3": Baseline({"accuracy": 0.99}, "metrics logged on run ccc (v3)"),
    }
    r = compute_performance(
        df, "label", "prediction", baseline={"accuracy": 0.99}, baseline_of=runs.get
    )
    body = r.to_dict()
    versions = {v["version"]: v for v in body["versions"]}
    assert versions["1"]["rows"] == 1500 and versions["3"]["rows"] == 500
    assert versions["1"]["degraded"] == [] and versions["3"]["degraded"] == ["accuracy"]
    assert versions["3"]["baseline_source"] == "metrics logged on run ccc (v3)"
    assert "v1, v3" in body["version_note"]


def test_one_version_in_the_data_gives_the_baseline_and_names_its_source() -> None:
    df = _scored().assign(model_version=1)
    r = compute_performance(
        df,
        "label",
        "prediction",
        baseline={"accuracy": 0.2},  # the alias's holder of today: not used
        baseline_source="holder",
        baseline_of=lambda v: Baseline({"accuracy": 0.99}, f"run of v{v}"),
    )
    assert r.baseline == {"accuracy": 0.99} and r.degraded == ["accuracy"]
    assert r.to_dict()["baseline_source"] == "run of v1"


def test_without_a_version_column_the_version_is_unknown() -> None:
    body = compute_performance(_scored(), "label", "prediction", baseline_source="x").to_dict()
    assert body["versions"] == [] and "unknown" in body["version_note"]


def test_regression_residuals_are_aggregated_per_prediction_decile() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    bins = compute_performance(pd.DataFrame({"y": y, "p": y + 0.1}), "y", "p").to_dict()[
        "residuals"
    ]
    assert len(bins) == 10 and sum(b["rows"] for b in bins) == 300
    assert all(b["median"] == pytest.approx(-0.1) for b in bins)


def test_labels_not_arrived_yet_give_estimates_only() -> None:
    reference = _scored(4000, seed=8)
    current = _scored(1500, seed=9, shift=0.5).drop(columns="label")
    r = compute_performance(current, "label", "prediction", score="score", reference=reference)
    body = r.to_dict()
    assert r.rows == 0 and body["metrics"] == {}
    (window,) = body["cbpe"]["windows"]
    assert window["rows"] == 1500 and window["labelled_rows"] == 0
    assert window["realised"]["roc_auc"] is None
    assert window["lower"]["roc_auc"] < window["estimated"]["roc_auc"] < window["upper"]["roc_auc"]


def test_a_reference_gives_prediction_and_target_drift() -> None:
    reference = _scored(3000, seed=8)
    current = _scored(3000, seed=9, shift=1.0)
    body = compute_performance(
        current, "label", "prediction", score="score", reference=reference
    ).to_dict()
    scores = {f["name"]: f for f in body["prediction_drift"]["features"]}
    assert scores["score"]["drifted"] is True
    assert [f["name"] for f in body["target_drift"]["features"]] == ["label"]
    assert body["prediction_drift"]["missing"] == []


def test_cbpe_says_why_when_the_reference_has_no_score() -> None:
    reference = _scored(3000, seed=8).drop(columns="score")
    body = compute_performance(
        _scored(), "label", "prediction", score="score", reference=reference
    ).to_dict()
    assert "no `score` column" in body["cbpe"]["reason"]


def test_cbpe_is_not_tried_on_three_classes() -> None:
    df = pd.DataFrame({"t": ["a", "b", "c"] * 50, "p": ["a"] * 150, "s": [0.2, 0.5, 0.9] * 50})
    body = compute_performance(df, "t", "p", score="s", reference=df).to_dict()
    assert body["cbpe"] == {"reason": "CBPE covers binary classifiers; the target has 3 classes"}
    assert body["metrics"]["roc_auc"] is None  # no per-class scores


def test_versions_are_known_before_the_labels_arrive() -> None:
    current = _scored(200).drop(columns="label").assign(model_version="2")
    r = compute_performance(
        current,
        "label",
        "prediction",
        score="score",
        baseline_of=lambda v: Baseline({"roc_auc": 0.9}, f"run of v{v}"),
    )
    (version,) = r.to_dict()["versions"]
    assert version["version"] == "2" and version["rows"] == 0
    assert version["baseline_source"] == "run of v2" and version["degraded"] == []
