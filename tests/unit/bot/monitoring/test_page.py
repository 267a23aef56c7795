"""The report page: every feature and column, charts inlined, hostile names inert, old and new
bodies alike."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from markupsafe import escape

from bot.monitoring.page import content_security_policy, error_page, render_page, warm
from tests.helpers import page_parts
from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY, OLD_PERF_BODY

HOSTILE = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def new_drift_body() -> dict[str, Any]:
    """A body with the keys issue 14 adds (p_value_adjusted, drift_score, status, schema…)."""
    body = json.loads(OLD_DRIFT_BODY)
    extra = {
        "age": dict(status="drifted", drift_score=9.7, p_value_adjusted=3.9e-10, psi_band="major"),
        "plan": dict(status="drifted", drift_score=1.9, p_value_adjusted=0.0048, psi_band="major"),
        "score": dict(status="untested", drift_score=None, p_value_adjusted=None, psi_band=None),
        "empty": dict(status="untested", drift_score=None, p_value_adjusted=None, psi_band=None),
        "label": dict(
            status="not_drifted", drift_score=0.0, p_value_adjusted=1.0, psi_band="stable"
        ),
    }
    for f in body["features"]:
        f.update(extra[f["name"]], n_reference=40, n_current=40)
    body["features"].reverse()  # the page orders by severity itself
    body["correction"] = "bh"
    body["schema"] = {
        "missing": ["gone"],
        "new": ["new", "prediction", "ts"],
        "changed_types": [{"name": "score", "reference": "int64", "current": "str"}],
    }
    return body


def column(table: list[list[str]], heading: str) -> list[str]:
    i = table[0].index(heading)
    return [row[i] for row in table[1:]]


def test_old_drift_body_shows_every_feature_quality_and_schema() -> None:
    page = page_parts(render_page(json.loads(OLD_DRIFT_BODY), [("drift_summary.png", PNG)]))
    features = page.tables["features-table"]
    assert features[0][:8] == [
        "Feature", "Status", "Type", "Method", "Statistic", "Threshold", "p-value", "PSI",
    ]  # fmt: skip
    assert "Reason" in features[0] and "Missing (reference)" in features[0]
    # drifted first, untested last; statuses derived from `drifted`
    assert column(features, "Feature") == ["age", "plan", "label", "score", "empty"]
    assert column(features, "Status") == [
        "drifted", "drifted", "not drifted", "untested", "untested",
    ]  # fmt: skip
    assert column(features, "Statistic")[0] == "0.725"
    assert column(features, "Reason")[3] == "type changed from int64 to str"
    quality = page.tables["quality-table"]
    assert ["age", "0.00%", "0.00%", "20.00%", "—"] in quality
    assert "10 values, 1 distinct: team ×10" in column(quality, "New categories")
    assert "Missing in current (1) gone" in page.text
    assert "score: int64 → str" in page.text and "when (datetime64[us, UTC])" in page.text
    assert "67% of features drifted" in page.text and "Dataset drift" in page.text


def test_new_keys_become_columns_and_order_by_drift_score() -> None:
    body = new_drift_body()
    body["features"][0]["future_key"] = {"lo": 0.1, "hi": 0.2}  # a key the page does not know
    page = page_parts(render_page(body))
    features = page.tables["features-table"]
    for heading in ("p-value (BH)", "Drift score", "PSI band", "Rows (reference)", "future_key"):
        assert heading in features[0]
    assert column(features, "Feature") == ["age", "plan", "label", "empty", "score"]
    assert column(features, "Drift score")[:2] == ["9.7", "1.9"]
    assert column(features, "PSI band")[0] == "major"
    assert "lo: 0.1; hi: 0.2" in column(features, "future_key")
    assert "p-value correction: bh" in page.text
    # the schema from `schema` and `quality` is listed once
    assert page.text.count("score: int64 → str") == 1


def test_hostile_names_are_text_and_nothing_is_loaded_from_elsewhere() -> None:
    body = new_drift_body()
    body["features"][0]["name"] = HOSTILE
    body["features"][0]["reason"] = HOSTILE
    body["quality"]["missing_columns"] = [HOSTILE]
    body["current"]["uri"] = "https://evil.example/x.csv?<b>"
    html = render_page(body, [(HOSTILE, PNG)], title=HOSTILE)
    page = page_parts(html)
    assert "<script>alert" not in html and "onerror=alert(2)>" not in html
    assert HOSTILE in column(page.tables["features-table"], "Feature")
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0]
    # the only URLs are the inlined charts
    assert page.urls == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    policy = content_security_policy()
    assert f'content="{escape(policy)}"' in html  # as the page's own <meta>
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "unsafe-inline" not in policy
    assert not re.search(r"https?://(?!evil\.example)", html)  # no CDN, no external fetch


def test_performance_page_shows_metrics_windows_and_new_keys() -> None:
    body = json.loads(OLD_PERF_BODY)
    perf = body["performance"]
    perf["cbpe"] = {"roc_auc": 0.81}  # a section the page does not know yet
    for w in perf["windows"]:
        w["interval"] = [0.7, 0.9]
    page = page_parts(render_page(body, [("metric_accuracy.png", PNG)]))
    metrics = page.tables["metrics-table"]
    assert metrics[0] == ["Metric", "Current", "Baseline", "Change", "Degraded"]
    names = column(metrics, "Metric")
    assert set(perf["metrics"]) <= set(names)
    for name in perf["degraded"]:
        assert column(metrics, "Degraded")[names.index(name)] == "degraded"
    windows = page.tables["windows-table"]
    assert windows[0][:2] == ["Window start", "Rows"] and windows[0][-1] == "interval"
    assert len(windows) == len(perf["windows"]) + 1 and "[0.7, 0.9]" in windows[1]
    assert "cbpe roc_auc: 0.81" in page.text
    assert "metric_accuracy.png" in page.text


@pytest.mark.parametrize("body", [{}, {"kind": "drift", "features": "nope", "quality": 3}])
def test_broken_bodies_still_render(body: dict[str, Any]) -> None:
    assert "<table" in render_page(body)


def test_error_page_is_plain_and_escaped() -> None:
    html = error_page(403, HOSTILE)
    assert "403" in html and "<script>" not in html and "<style" not in html


def test_hostile_metric_names_are_escaped_once() -> None:
    body = json.loads(OLD_PERF_BODY)
    perf = body["performance"]
    perf["metrics"][HOSTILE] = 0.5
    perf["degraded"] = [HOSTILE]
    html = render_page(body)
    assert "<script>alert" not in html and "&amp;lt;" not in html
    page = page_parts(html)
    assert f"Degraded: {HOSTILE}" in page.text
    assert HOSTILE in column(page.tables["metrics-table"], "Metric")


def test_warm_readies_the_report_template_the_cli_renders() -> None:
    """The CLI warms the page in a thread that swallows errors: a missing template would
    only show as a slower report, so it is checked here."""
    warm()  # jinja2.TemplateNotFound if REPORT_TEMPLATE is not in the templates directory
