"""Issue 14 items 1 and 2: verdicts a data scientist trusts, schema drift as an alert.

Each test states a behaviour main got wrong: raw p-values across 30 tests, Yates on binary
columns, chi-squared on identifiers, rare categories unpooled, 0.0 from an overflowing std, no
word on a tiny std, dates untested from Parquet but "not drifted" from CSV, schema changes that
did not alert.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, false_discovery_control, ks_2samp, norm

from bot.clock import FixedClock
from bot.monitoring import datasets
from bot.monitoring.drift import compute_drift
from bot.monitoring.drift.results import DriftResult, FeatureDrift, by_severity

NOW = FixedClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC)).now()


def feat(result: DriftResult, name: str) -> FeatureDrift:
    (f,) = [f for f in result.features if f.name == name]
    return f


def qcol(result: DriftResult, name: str) -> dict:
    (q,) = [q for q in result.quality["columns"] if q["name"] == name]
    return q


def thirty_columns(seed: int, shifted: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({f"c{i:02d}": rng.normal(size=400) for i in range(30)})
    cur = pd.DataFrame({f"c{i:02d}": rng.normal(size=150) for i in range(30)})
    for name, shift in shifted.items():
        cur[name] += shift
    return ref, cur


# -- item 1: Benjamini-Hochberg by default, raw p kept, "none" is Evidently -------------------


def test_bh_is_the_default_and_keeps_raw_and_adjusted_p() -> None:
    ref, cur = thirty_columns(3, {"c00": 1.0, "c01": 0.8})
    result = compute_drift(ref, cur)
    assert result.correction == "bh" and result.to_dict()["correction"] == "bh"
    raw = {c: ks_2samp(ref[c], cur[c]).pvalue for c in ref}
    adjusted = dict(zip(raw, false_discovery_control(list(raw.values()), method="bh"), strict=True))
    for f in result.features:
        assert f.p_value == pytest.approx(raw[f.name], rel=1e-9)  # the RAW p stays
        assert f.p_value_adjusted == pytest.approx(adjusted[f.name], rel=1e-9)
        assert f.drifted == (adjusted[f.name] <= 0.05)
        d = f.to_dict()
        assert d["p_value"] == f.p_value and d["p_value_adjusted"] == f.p_value_adjusted
        assert d["drift_score"] == pytest.approx(math.log(adjusted[f.name]) / math.log(0.05))
    drifted = sorted(f.name for f in result.features if f.drifted)
    assert drifted == ["c00", "c01"]
    assert result.drifted_share == pytest.approx(2 / 30)  # the share of adjusted verdicts


def test_correction_none_reproduces_evidentlys_verdicts() -> None:
    """Evidently: KS drifts at p <= threshold, chi-squared at p < threshold, on raw p."""
    ref, cur = thirty_columns(11, {"c00": 0.3})
    result = compute_drift(ref, cur, correction="none")
    assert result.to_dict()["correction"] == "none"
    for f in result.features:
        p = ks_2samp(ref[f.name], cur[f.name]).pvalue
        assert f.p_value_adjusted is None and f.to_dict()["p_value_adjusted"] is None
        assert f.drifted == (p <= 0.05)
    raw_flags = sum(f.drifted is True for f in result.features)
    assert raw_flags > sum(f.drifted is True for f in compute_drift(ref, cur).features)


def test_binary_column_is_the_uncorrected_chi2_which_is_evidentlys_z_test() -> None:
    """Digits pixel_3_7 of the issue: Yates gave p 0.135, the z-test 0.046 (verdict flips)."""
    ref = pd.DataFrame({"px": [0] * 170 + [1] * 30})
    cur = pd.DataFrame({"px": [0] * 154 + [1] * 46})
    f = feat(compute_drift(ref, cur, correction="none"), "px")
    p1, p2, n1, n2 = 30 / 200, 46 / 200, 200, 200
    pooled = (30 + 46) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z_test_p = 2 * norm.sf(abs(z))  # Evidently's proportions difference test
    assert f.method == "chisquare" and f.p_value == pytest.approx(z_test_p, rel=1e-9)
    assert f.statistic == pytest.approx(z * z, rel=1e-9)
    yates = chi2_contingency([[170, 30], [154, 46]]).pvalue
    assert yates > 0.05 > f.p_value and f.drifted is True


def test_identifier_like_text_columns_are_not_tested_and_say_why() -> None:
    ref = pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(300)], "plan": ["a", "b"] * 150})
    cur = pd.DataFrame(
        {"customer_id": [f"C{i:05d}" for i in range(5000, 5200)], "plan": ["a", "b"] * 100}
    )
    result = compute_drift(ref, cur)
    f = feat(result, "customer_id")
    assert f.drifted is None and f.status == "untested" and f.drift_score is None
    assert f.reason is not None and f.reason.startswith("identifier-like: 300 distinct values")
    assert by_severity(result.features)[-1].name == "customer_id"  # untested come last
    assert feat(result, "plan").drifted is False


def test_rare_categories_are_pooled_before_the_chi_squared_test() -> None:
    common = {"a": 200, "b": 150, "c": 100}
    ref_values = [k for k, n in common.items() for _ in range(n)] + ["r1", "r2"]
    cur_values = [k for k, n in common.items() for _ in range(n)] + ["r3", "r4", "r5", "r6"]
    f = feat(compute_drift(pd.DataFrame({"x": ref_values}), pd.DataFrame({"x": cur_values})), "x")
    # the six singletons (expected < 5 each) are pooled; 2 vs 4 is still expected < 5, so the
    # smallest category joins the pool: c + rare = 102 vs 104
    pooled = chi2_contingency([[200, 150, 102], [200, 150, 104]], correction=False)
    assert f.statistic == pytest.approx(pooled.statistic, rel=1e-9)
    assert f.p_value == pytest.approx(pooled.pvalue, rel=1e-9) and f.drifted is False
    unpooled = chi2_contingency(
        [[200, 150, 100, 1, 1, 0, 0, 0, 0], [200, 150, 100, 0, 0, 1, 1, 1, 1]]
    )
    assert unpooled.pvalue < pooled.pvalue  # what main tested: rare values faking a drift


def test_huge_values_give_a_real_statistic_or_null_with_a_reason_never_zero() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(1e200, 1e199, 3000)})
    cur = pd.DataFrame({"x": rng.normal(1.5e200, 1e199, 3000)})
    f = feat(compute_drift(ref, cur), "x")
    assert f.method == "wasserstein" and f.drifted is True  # main: std overflowed, 0.0
    assert f.statistic == pytest.approx(5.0, rel=0.05)  # half a 1e200 apart, std 1e199
    big, small = np.linspace(1e308, 1.7e308, 1500), np.linspace(-1.7e308, -1e308, 1500)
    edge = pd.DataFrame({"x": np.r_[small, big]})
    other = pd.DataFrame({"x": np.r_[np.linspace(-1.7e308, -1e308, 2900), big[:100]]})
    g = feat(compute_drift(edge, other), "x")  # quantile gaps of 2.7e308 overflow
    assert g.drifted is None and g.statistic is None and g.status == "untested"
    assert "not finite" in (g.reason or "")
    assert json.loads(json.dumps(g.to_dict()))["statistic"] is None


def test_a_std_below_the_wasserstein_floor_is_a_quality_warning_with_psi() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"tiny": rng.normal(0, 1e-5, 2000)})
    cur = pd.DataFrame({"tiny": rng.normal(3e-5, 1e-5, 2000)})
    result = compute_drift(ref, cur)
    warning = qcol(result, "tiny")["warning"]
    psi = feat(result, "tiny").psi
    assert psi is not None and "below the floor" in warning and f"PSI {psi:.3g}" in warning
    assert "(major)" in warning  # the PSI band


def test_dates_get_freshness_the_same_from_csv_and_parquet(tmp_path: Path) -> None:
    ref = pd.DataFrame(
        {"ts": pd.date_range("2026-10-01", periods=50, freq="D", tz="UTC"), "v": range(50)}
    )
    cur = pd.DataFrame(
        {"ts": pd.date_range("2026-11-20", periods=50, freq="4h", tz="UTC"), "v": range(50)}
    )
    answers = []
    for ext in ("parquet", "csv"):
        for name, frame in (("ref", ref), ("cur", cur)):
            path = tmp_path / f"{name}.{ext}"
            frame.to_parquet(path) if ext == "parquet" else frame.to_csv(path, index=False)
        r = compute_drift(
            datasets.load(str(tmp_path / f"ref.{ext}")).frame,
            datasets.load(str(tmp_path / f"cur.{ext}")).frame,
            now=NOW,
        )
        assert [f.name for f in r.features] == ["v"]  # dates are not drift-tested
        assert r.quality["unsupported_columns"] == [] and not r.schema_changed
        answers.append(qcol(r, "ts")["freshness"])
    assert answers[0] == answers[1]
    newest = pd.Timestamp("2026-11-28 04:00", tz="UTC")
    assert answers[0]["newest_current"] == newest.isoformat()
    assert answers[0]["age_seconds"] == (pd.Timestamp(NOW) - newest).total_seconds()


def test_severity_order_everywhere_starts_with_the_engine() -> None:
    ref, cur = thirty_columns(9, {"c05": 0.6, "c20": 1.2})
    ref["id"] = [f"x{i}" for i in range(len(ref))]
    cur["id"] = [f"y{i}" for i in range(len(cur))]
    names = [f.name for f in compute_drift(ref, cur).features]
    assert names[:2] == ["c20", "c05"] and names[-1] == "id"
    scores = [f.drift_score for f in compute_drift(ref, cur).features[2:-1]]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


# -- item 2: schema drift is an alert ---------------------------------------------------------


def test_missing_new_and_retyped_columns_alert() -> None:
    ref = pd.DataFrame({"a": np.arange(100.0), "n": np.arange(100), "gone": 1, "t": 1})
    cur = pd.DataFrame({"a": np.arange(100.0), "n": np.arange(100.0), "new": 2, "t": "1"})
    result = compute_drift(ref, cur)
    assert not any(f.drifted for f in result.features) and not result.dataset_drift
    schema = result.to_dict()["schema"]
    assert schema["missing"] == ["gone"] and schema["new"] == ["new"]
    assert [c["name"] for c in schema["changed_types"]] == ["t"]  # int64 -> float64 is no change
    assert result.alert is True
    same = compute_drift(ref[["a", "n"]], cur[["a", "n"]])
    assert same.alert is False and same.schema == {"missing": [], "new": [], "changed_types": []}


def test_no_column_in_common_is_counted_for_the_report_to_fail() -> None:
    result = compute_drift(pd.DataFrame({"a": [1.0, 2.0]}), pd.DataFrame({"b": [1.0, 2.0]}))
    assert result.compared == 0 and result.features == []


def test_a_timestamp_left_out_of_drift_still_reports_its_freshness() -> None:
    ref = pd.DataFrame({"v": np.arange(100.0)})
    cur = pd.DataFrame(
        {"v": np.arange(100.0), "ts": pd.date_range(end="2026-11-30 06:00", periods=100, freq="h")}
    )
    result = compute_drift(ref, cur, exclude={"ts"}, freshness=["ts"], now=NOW)
    assert not result.schema_changed and [f.name for f in result.features] == ["v"]
    fresh = qcol(result, "ts")["freshness"]
    assert fresh["newest_current"] == "2026-11-30T06:00:00+00:00"  # naive times are UTC
    assert fresh["newest_reference"] is None and fresh["age_seconds"] == 6 * 3600
