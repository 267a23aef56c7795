"""Performance charts render from report.json parts, with or without a timestamp column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.monitoring.performance import charts, compute_performance

PNG = b"\x89PNG\r\n\x1a\n"


def _frames(timestamp: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(12)
    out = []
    for n in (3000, 600):
        x = rng.normal(size=n)
        p = 1 / (1 + np.exp(-2 * x))
        out.append(pd.DataFrame({"label": (rng.random(n) < p).astype(int), "score": p}))
    if timestamp:
        out[1]["ts"] = pd.date_range("2026-11-01", periods=600, freq="h", tz="UTC")
    return out[0], out[1]


def test_cbpe_chart_without_a_timestamp_has_one_point() -> None:
    reference, current = _frames(timestamp=False)
    body = compute_performance(
        current, "label", "prediction", score="score", reference=reference
    ).to_dict()
    assert len(body["cbpe"]["windows"]) == 1 and "start" not in body["cbpe"]["windows"][0]
    assert charts.cbpe_over_time(body["cbpe"], "roc_auc", "t").startswith(PNG)


def test_every_chart_renders_from_the_report_body() -> None:
    reference, current = _frames(timestamp=True)
    r = compute_performance(
        current, "label", "prediction", score="score", timestamp="ts", reference=reference
    )
    body = r.to_dict()
    pngs = [
        charts.metric_over_time(body["windows"], "roc_auc", 0.8, "logged on run x (v1)", "t"),
        charts.cbpe_over_time(body["cbpe"], "accuracy", "t"),
        charts.reliability_diagram(body["reliability"], "score", "t"),
        charts.confusion_matrix(body["confusion"], 0.5, "1", "t"),
        charts.residuals(
            [{"low": 0, "high": 1, "rows": 3, "mean": 0, "p10": -1, "median": 0, "p90": 1}], "t"
        ),
    ]
    assert all(p.startswith(PNG) for p in pngs)


def test_intervals_that_miss_their_point_still_draw() -> None:
    window = {
        "start": "2026-11-01T00:00:00+00:00",
        "end": "2026-11-02T00:00:00+00:00",
        "rows": 40,
        "metrics": {"roc_auc": 0.9},
        "intervals": {"roc_auc": [0.91, 0.97]},  # a skewed bootstrap can leave the point out
    }
    assert charts.metric_over_time([window], "roc_auc", None, None, "t").startswith(PNG)
    rates = [
        {"mean_score": 0.05, "observed_rate": 0.0, "rows": 7, "interval": [1e-17, 0.35]},
        {"mean_score": 0.95, "observed_rate": 1.0, "rows": 7, "interval": [0.65, 1.0]},
    ]
    assert charts.reliability_diagram(rates, "score", "t").startswith(PNG)
