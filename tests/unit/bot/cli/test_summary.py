"""The terminal summary of `mlops-bot report`, from report documents old and new."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from bot.cli.summary import by_severity, print_summary, summary


def feature(name: str, **kw: Any) -> dict[str, Any]:
    base = {"name": name, "type": "numeric", "method": "ks", "statistic": 0.1, "p_value": 0.5,
            "threshold": 0.05, "drifted": False, "psi": 0.01, "missing_reference": 0,
            "missing_current": 0}  # fmt: skip
    return base | kw


def test_severity_without_drift_scores_uses_the_same_rule() -> None:
    features = [
        feature("calm", p_value=0.6),
        feature("untested", method=None, p_value=None, statistic=None, drifted=None),
        feature("close", p_value=0.06),
        feature("far", p_value=1e-12, drifted=True),
        feature(
            "wide", method="wasserstein", statistic=0.3, p_value=None, threshold=0.1, drifted=True
        ),  # fmt: skip
    ]
    order = [f["name"] for f in by_severity(features)]
    assert order == ["far", "wide", "close", "calm", "untested"]


def test_the_issue_14_fields_are_used_when_present() -> None:
    features = [
        feature("a", status="drifted", drift_score=2.0, p_value_adjusted=0.001, drifted=True),
        feature("b", status="drifted", drift_score=9.0, p_value_adjusted=1e-9, drifted=True),
        feature("id", status="untested", drifted=None, reason="identifier-like"),
    ]
    doc = {"kind": "drift", "features": features, "drifted_share": 2 / 3, "dataset_drift": True,
           "correction": "bh", "schema": {"missing": ["x"], "new": [],
                                          "changed_types": ["y"]}}  # fmt: skip
    parts = summary(doc, alert=True)
    assert parts[0] == (
        "verdict: DRIFT — 2 of 2 tested features drifted (67%); dataset drift: yes; "
        "schema changed; correction: bh"
    )
    table = parts[2]
    assert isinstance(table, list)
    assert table[0][3] == "p (adjusted)"
    assert [row[0] for row in table[1:]] == ["b", "a", "id"]
    assert table[1][3] == "0.5 (1.00e-09)"  # raw p, then adjusted
    assert table[3][5] == "untested: identifier-like"
    assert parts[-1] == "schema: missing: x; changed type: y"


def test_names_from_data_are_not_markup() -> None:
    doc = {"kind": "drift", "features": [feature("[bold red]x\x1b[2J", drifted=True)],
           "drifted_share": 1.0, "dataset_drift": True, "quality": {}}  # fmt: skip
    out = io.StringIO()
    print_summary(doc, alert=True, console=Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "[bold red]x?[2J" in text and "\x1b" not in text


def test_perf_summary_shows_metrics_against_the_baseline() -> None:
    doc = {"kind": "perf", "performance": {"task": "classification", "rows": 500,
           "metrics": {"accuracy": 0.8, "f1": 0.7}, "baseline": {"accuracy": 0.9},
           "threshold": 0.05, "degraded": ["accuracy"], "degradation": True}}  # fmt: skip
    parts = summary(doc, alert=True)
    assert parts[0] == (
        "verdict: DEGRADED — accuracy below the baseline by more than 5% (500 rows, classification)"
    )
    assert parts[1] == [
        ["metric", "current", "baseline", "change", ""],
        ["accuracy", "0.8", "0.9", "-11.1%", "degraded"],
        ["f1", "0.7", "-", "-", ""],
    ]


def test_perf_without_a_baseline_says_so() -> None:
    doc = {"kind": "perf", "performance": {"task": "regression", "rows": 9,
           "metrics": {"rmse": 1.5}, "baseline": {}, "threshold": 0.05, "degraded": [],
           "degradation": False}}  # fmt: skip
    assert summary(doc, alert=False)[0] == (
        "verdict: no baseline to compare with (metrics only) (9 rows, regression)"
    )
