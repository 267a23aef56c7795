"""The drift engine (bot/drift.py) against scipy and SPEC §7, edge case by edge case."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, kstwo, wasserstein_distance

from bot.monitoring.drift import numeric, verdicts
from bot.monitoring.drift.engine import compute_drift, profile_reference
from bot.monitoring.drift.results import DriftResult, FeatureDrift, FeatureOverride
from tests.integration.test_reports import FEATURE_KEYS

TOL = 1e-9


def feat(result: DriftResult, name: str) -> FeatureDrift:
    return next(f for f in result.features if f.name == name)


def qcol(result: DriftResult, name: str) -> dict:
    return next(c for c in result.quality["columns"] if c["name"] == name)


def dumps(result: DriftResult) -> str:
    return json.dumps(result.to_dict(), allow_nan=False)


def one(ref: object, cur: object, **kw: object) -> FeatureDrift:
    result = compute_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), **kw)  # type: ignore[arg-type]
    dumps(result)
    return feat(result, "x")


def psi_reference(ref: np.ndarray, cur: np.ndarray) -> float:
    """SPEC PSI written the plain way: np.quantile edges + np.histogram."""
    inner = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    p = np.histogram(ref, edges)[0] / ref.size
    q = np.histogram(cur, edges)[0] / cur.size
    p = np.where(p == 0, 1e-4, p)
    q = np.where(q == 0, 1e-4, q)
    return float(np.sum((q - p) * np.log(q / p)))


# --------------------------------------------------------------------------- vs scipy


@pytest.mark.parametrize(
    ("n", "m", "decimals", "shift"),
    [(300, 300, None, 0.2), (800, 523, None, 0.0), (1000, 5000, 1, 0.1), (50, 20_000, 2, 0.3)],
)
def test_ks_statistic_and_p_value_match_scipy(n: int, m: int, decimals: int | None, shift: float):
    rng = np.random.default_rng(n + m)
    ref, cur = rng.normal(size=n), rng.normal(shift, size=m)
    if decimals is not None:  # ties within and across samples
        ref, cur = ref.round(decimals), cur.round(decimals)
    f = one(ref, cur)
    assert f.method == "ks" and f.type == "numeric"
    expected = ks_2samp(ref, cur)
    assert f.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert f.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
    assert f.drifted == (expected.pvalue <= 0.05)


@pytest.mark.parametrize(("n", "m"), [(50_000, 50_000), (40_000, 70_000)])
def test_ks_asymptotic_p_within_one_percent_of_scipy(n: int, m: int):
    assert n * m / (n + m) >= numeric.KS_ASYMPTOTIC_MIN_EN
    rng = np.random.default_rng(7)
    ref = rng.normal(size=n)
    for shift in (0.0, 0.01, 0.02):
        cur = rng.normal(shift, size=m)
        f = one(ref, cur, features={"x": FeatureOverride("ks")})
        expected = ks_2samp(ref, cur)
        assert f.statistic == pytest.approx(expected.statistic, abs=TOL)
        assert f.p_value == pytest.approx(expected.pvalue, rel=0.01, abs=1e-6)


def test_kolmogorov_within_one_percent_where_used():
    """kolmogorov(sqrt(en) D) vs scipy's asymptotic kstwo.sf(D, round(en)), p >= 1e-3."""
    for en in (numeric.KS_ASYMPTOTIC_MIN_EN, 50_000):
        for z in np.linspace(0.4, 1.94, 12):
            d = z / math.sqrt(en)
            ours = numeric._ks_pvalue(d, np.zeros(2 * en), np.zeros(2 * en))
            assert ours == pytest.approx(kstwo.sf(d, en), rel=0.01)


@pytest.mark.parametrize(
    ("n", "m", "decimals"),
    [(5000, 5000, None), (3000, 7001, None), (2000, 1999, 1), (1500, 3, None)],
)
def test_wasserstein_matches_scipy(n: int, m: int, decimals: int | None):
    rng = np.random.default_rng(n * 3 + m)
    ref, cur = rng.gamma(2.0, size=n), rng.gamma(2.3, size=m) + 0.1
    if decimals is not None:
        ref, cur = ref.round(decimals), cur.round(decimals)
    assert numeric._wasserstein(np.sort(ref), np.sort(cur)) == pytest.approx(
        wasserstein_distance(ref, cur), rel=TOL, abs=TOL
    )
    f = one(ref, cur)
    assert f.method == "wasserstein" and f.p_value is None
    expected = wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
    assert f.statistic == pytest.approx(expected, rel=TOL, abs=TOL)
    assert f.drifted == (expected >= 0.1)
    assert f.psi == pytest.approx(psi_reference(ref, cur), rel=TOL, abs=TOL)


def test_ks_statistic_kernel_matches_scipy_with_heavy_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        ref = rng.integers(0, 12, size=rng.integers(1, 60)).astype(float)
        cur = rng.integers(0, 12, size=rng.integers(1, 60)).astype(float)
        ours = numeric._ks_statistic(np.sort(ref), np.sort(cur))
        assert ours == pytest.approx(ks_2samp(ref, cur).statistic, abs=TOL)
        assert numeric._wasserstein(np.sort(ref), np.sort(cur)) == pytest.approx(
            wasserstein_distance(ref, cur), abs=TOL
        )


def test_jensenshannon_matches_scipy():
    rng = np.random.default_rng(11)
    cats = np.array(["a", "b", "c", "d", "e", "f"])
    ref = rng.choice(cats, 3000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    cur = rng.choice(np.append(cats, "new"), 2000, p=[0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1])
    f = one(ref, cur)
    assert f.type == "categorical" and f.method == "jensenshannon"
    keys = list(dict.fromkeys([*ref, *cur]))
    r = np.array([np.sum(ref == k) for k in keys], dtype=float)
    c = np.array([np.sum(cur == k) for k in keys], dtype=float)
    expected = jensenshannon(r / r.sum(), c / c.sum())
    assert f.statistic == pytest.approx(expected, abs=TOL)
    assert f.drifted == (expected >= 0.1)
    p, q = r / r.sum(), c / c.sum()
    p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
    assert f.psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=TOL)


@pytest.mark.parametrize("k", [2, 4])
def test_chi_squared_matches_chi2_contingency(k: int):
    rng = np.random.default_rng(k)
    ref = rng.choice(list("abcd"[:k]), 700)
    cur = rng.choice(list("abcd"[:k]), 450, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    f = one(ref, cur)
    assert f.method == "chisquare"
    keys = sorted(set(ref) | set(cur))
    table = np.array([[np.sum(ref == c) for c in keys], [np.sum(cur == c) for c in keys]])
    # no Yates' correction (issue 14): on two categories it equals Evidently's z-test
    expected = chi2_contingency(table, correction=False)
    assert f.statistic == pytest.approx(expected.statistic, rel=TOL, abs=TOL)
    assert f.p_value == pytest.approx(expected.pvalue, rel=TOL, abs=1e-15)
    assert f.drifted == (expected.pvalue < 0.05)


def test_chi_squared_false_alarm_rate_on_undrifted_data():
    """SPEC ★: the test of independence keeps its size (Evidently's variant fires 28-42 %)."""
    rng = np.random.default_rng(2024)
    probs = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05]
    cats = np.array(list("abcdef"))
    fired = 0
    trials = 200
    for _ in range(trials):
        ref = pd.DataFrame({"x": rng.choice(cats, 500, p=probs)})
        cur = pd.DataFrame({"x": rng.choice(cats, 500, p=probs)})
        f = feat(compute_drift(ref, cur), "x")
        assert f.method == "chisquare"
        fired += bool(f.drifted)
    assert fired / trials <= 0.08


def test_psi_bins_merge_duplicate_edges():
    ref = np.r_[np.zeros(600), np.arange(1, 1001.0)]  # deciles 1..4 are all 0
    cur = np.r_[np.zeros(100), np.arange(1, 1501.0)]
    f = one(ref, cur)
    assert f.psi == pytest.approx(psi_reference(ref, cur), abs=TOL)
    assert numeric._quantile_edges(np.sort(ref)).size < 9


def test_quantile_edges_equal_numpy():
    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 10, 11, 999, 12_345):
        s = np.sort(rng.normal(size=size))
        expected = np.unique(np.quantile(s, np.arange(1, 10) / 10))
        np.testing.assert_array_equal(numeric._quantile_edges(s), expected)


# --------------------------------------------------------------------------- edge cases


def test_nan_and_inf_are_removed_and_counted():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=400)
    cur = rng.normal(size=300)
    ref_dirty = np.r_[ref, [np.nan] * 3, [np.inf] * 2]
    cur_dirty = np.r_[cur, [-np.inf] * 4, [np.nan]]
    f = one(ref_dirty, cur_dirty)
    assert (f.missing_reference, f.missing_current) == (5, 5)
    assert f.statistic == pytest.approx(ks_2samp(ref, cur).statistic, abs=TOL)
    assert f.p_value == pytest.approx(ks_2samp(ref, cur).pvalue, rel=1e-9)
    result = compute_drift(pd.DataFrame({"x": ref_dirty}), pd.DataFrame({"x": cur_dirty}))
    assert qcol(result, "x")["missing_rate_reference"] == pytest.approx(5 / 405)


def test_nullable_and_object_missing_values():
    ref = pd.DataFrame(
        {
            "i": pd.array([1, 2, None, 4, 5, 6, 7] * 20, dtype="Int64"),
            "s": ["a", None, "b", "a", "b", "a", "b"] * 20,
        }
    )
    cur = pd.DataFrame(
        {
            "i": pd.array([1, None, None, 4, 9, 6, 7] * 20, dtype="Int64"),
            "s": ["a", np.nan, "c", "a", "b", "a", "b"] * 20,
        }
    )
    result = compute_drift(ref, cur)
    assert feat(result, "i").missing_reference == 20 and feat(result, "i").missing_current == 40
    assert feat(result, "s").missing_reference == 20 and feat(result, "s").missing_current == 20
    dumps(result)


def test_category_only_in_current_and_privacy_of_rare_names():
    ref = ["a"] * 300 + ["b"] * 300
    cur = ["a"] * 250 + ["b"] * 250 + ["brand_new"] * 40 + ["rare1"] * 4 + ["rare2"] * 1
    result = compute_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    f = feat(result, "x")
    assert f.drifted is True and f.p_value is not None and f.p_value < 0.05
    new = qcol(result, "x")["new_categories"]
    assert new == {
        "values": 45,
        "distinct": 3,
        "top": [{"name": "brand_new", "count": 40}],
        "other": 5,
    }
    assert "rare1" not in dumps(result) and "rare2" not in dumps(result)


def test_single_category_is_not_drifted():
    for size in (50, 5000):
        f = one(["only"] * size, ["only"] * (size // 2))
        assert f.drifted is False and f.statistic == 0 and f.psi == 0


def test_all_missing_gets_null_verdict_and_reason():
    f = one([np.nan] * 10, [1.0, 2.0, 3.0] * 5)
    assert f.drifted is None and f.reason == "no values in reference"
    f = one(np.arange(20.0), [np.inf, -np.inf, np.nan])
    assert f.drifted is None and f.reason == "no values in current"
    assert (f.missing_reference, f.missing_current) == (0, 3)
    f = one([None, None], [None])
    assert f.drifted is None and f.reason == "no values in reference or current"
    result = compute_drift(
        pd.DataFrame({"x": [np.nan] * 30, "y": np.zeros(30)}),
        pd.DataFrame({"x": [np.nan] * 30, "y": np.ones(30)}),
    )
    assert result.drifted_share == 1.0  # the null verdict does not count
    assert result.dataset_drift is True


@pytest.mark.parametrize("size", [200, 3000])
@pytest.mark.parametrize("method", [None, "ks", "wasserstein", "psi", "chisquare", "jensenshannon"])
def test_constant_column_on_both_sides_is_not_drifted(size: int, method: str | None):
    f = one(np.full(size, 3.5), np.full(size // 3, 3.5), features={"x": FeatureOverride(method)})  # type: ignore[arg-type]
    assert f.drifted is False
    assert f.statistic == 0


def test_different_constants_are_drifted():
    f = one(np.full(300, 1.0), np.full(300, 2.0))
    assert f.type == "categorical" and f.drifted is True


def test_empty_current_frame():
    ref = pd.DataFrame({"a": np.arange(100.0), "b": ["x", "y"] * 50})
    for cur in (ref.iloc[:0], pd.DataFrame(columns=["a", "b"]), pd.DataFrame()):
        result = compute_drift(ref, cur)
        dumps(result)
        assert result.dataset_drift is False and result.drifted_share == 0.0
        for f in result.features:
            assert f.drifted is None and f.reason == "no values in current"
    assert compute_drift(ref, pd.DataFrame()).quality["missing_columns"] == ["a", "b"]


def test_bool_column_is_categorical():
    rng = np.random.default_rng(2)
    f = one(rng.random(500) < 0.5, rng.random(400) < 0.8)
    assert f.type == "categorical" and f.method == "chisquare" and f.drifted is True
    f = one(
        pd.array([True, False, None] * 100, dtype="boolean"),
        pd.array([True, False, None] * 100, dtype="boolean"),
    )
    assert f.drifted is False and f.missing_reference == 100


def test_few_distinct_numeric_values_are_categorical():
    rng = np.random.default_rng(4)
    f = one(rng.integers(0, 5, 600), rng.integers(0, 5, 600))
    assert f.type == "categorical" and f.method == "chisquare"
    f = one(rng.integers(0, 3, 600), rng.integers(3, 6, 600))  # 6 distinct across both
    assert f.type == "numeric" and f.method == "ks"
    f = one(rng.integers(0, 5, 3000).astype(float), rng.integers(0, 5, 2000).astype(float))
    assert f.type == "categorical" and f.method == "jensenshannon" and f.drifted is False


def test_schema_diff_and_quality():
    ref = pd.DataFrame({"a": np.arange(100.0), "b": list("xy") * 50, "gone": 1, "t": 1})
    cur = pd.DataFrame({"a": np.arange(50.0, 150.0), "b": list("xz") * 50, "new": 2, "t": "1"})
    result = compute_drift(ref, cur)
    q = result.quality
    assert q["missing_columns"] == ["gone"] and q["extra_columns"] == ["new"]
    assert {"name": "t", "reference": "int64", "current": str(cur["t"].dtype)} in q["changed_types"]
    assert feat(result, "t").drifted is None and "type changed" in (feat(result, "t").reason or "")
    assert qcol(result, "a")["out_of_range_share"] == pytest.approx(0.5)
    assert qcol(result, "b")["new_categories"]["values"] == 50
    assert {f.name for f in result.features} == {"a", "b", "t"}


def test_unsupported_dtype_is_listed_not_tested():
    span = pd.timedelta_range("1D", periods=10, freq="D")
    result = compute_drift(pd.DataFrame({"d": span}), pd.DataFrame({"d": span * 2}))
    assert result.features == []
    assert result.quality["unsupported_columns"][0]["name"] == "d"


def test_unhashable_and_mixed_object_values_do_not_crash():
    ref = pd.DataFrame({"x": [[1], {"a": 1}, "s", 1.5, float("inf"), None] * 10})
    cur = pd.DataFrame({"x": [[1], "s", 2, None] * 10})
    dumps(compute_drift(ref, cur))


def test_columns_and_exclude():
    ref = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0), "label": 1})
    cur = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) + 1, "label": 0})
    result = compute_drift(ref, cur, exclude={"label"})
    assert [f.name for f in result.features] == ["a", "b"]
    result = compute_drift(ref, cur, columns=["b", "nope"])
    assert [f.name for f in result.features] == ["b"]
    assert result.quality["unknown_columns"] == ["nope"]


# --------------------------------------------------------------------------- options


def test_benjamini_hochberg_against_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    # sorted: 0.005, 0.01, 0.03, 0.04, 0.2 -> *5/rank: 0.025, 0.025, 0.05, 0.05, 0.2
    np.testing.assert_allclose(verdicts._benjamini_hochberg(p), [0.025, 0.05, 0.05, 0.025, 0.2])

    rng = np.random.default_rng(8)
    ref = pd.DataFrame({f"c{i}": rng.normal(size=400) for i in range(4)})
    cur = pd.DataFrame({f"c{i}": rng.normal(0.08 * i, size=400) for i in range(4)})
    raw = compute_drift(ref, cur, correction="none")
    adj = compute_drift(ref, cur, correction="bh")
    by_name = {f.name: f for f in adj.features}
    raw_p = np.array([f.p_value for f in sorted(raw.features, key=lambda f: f.name)])
    order = np.argsort(raw_p)
    hand = np.empty(4)
    running = 1.0
    for rank in range(4, 0, -1):  # step-up from the largest p-value
        i = order[rank - 1]
        running = min(running, raw_p[i] * 4 / rank)
        hand[i] = running
    for i, h in enumerate(hand):
        f = by_name[f"c{i}"]
        assert f.p_value_adjusted == pytest.approx(h, rel=1e-12)
        assert f.p_value == pytest.approx(raw_p[i], rel=1e-12)
        assert f.drifted == (h <= 0.05)
    with pytest.raises(ValueError):
        compute_drift(ref, cur, correction="holm")  # type: ignore[arg-type]


def test_overrides():
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(size=5000), rng.normal(0.3, size=4000)
    f = one(ref, cur, features={"x": FeatureOverride("psi")})
    assert f.method == "psi" and f.threshold == 0.2 and f.statistic == f.psi
    assert f.drifted == (f.psi is not None and f.psi >= 0.2)
    f = one(ref, cur, features={"x": FeatureOverride(None, 0.5)})
    assert f.method == "wasserstein" and f.threshold == 0.5 and f.drifted is False
    f = one(ref, cur, features={"x": FeatureOverride("ks", 0.01)})
    assert f.method == "ks" and f.drifted is True
    assert f.statistic == pytest.approx(ks_2samp(ref, cur).statistic, abs=TOL)
    f = one(ref, cur, features={"x": FeatureOverride("jensenshannon")})
    assert f.method == "jensenshannon" and f.type == "numeric" and f.statistic is not None
    f = one(list("ab") * 300, list("ab") * 300, features={"x": FeatureOverride("ks")})
    assert f.drifted is None and "numeric" in (f.reason or "")
    with pytest.raises(ValueError):
        FeatureOverride("bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FeatureOverride("psi", float("nan"))


def test_dataset_verdict_threshold():
    rng = np.random.default_rng(10)
    ref = pd.DataFrame({f"c{i}": rng.normal(size=2000) for i in range(4)})
    cur = ref.copy()
    cur["c0"] += 1.0
    result = compute_drift(ref, cur)
    assert result.drifted_share == 0.25 and result.dataset_drift is False
    cur["c1"] += 1.0
    result = compute_drift(ref, cur)
    assert result.drifted_share == 0.5 and result.dataset_drift is True
    assert result.to_dict()["dataset_drift"] is True


def test_profile_reuse_and_threads_give_identical_report():
    rng = np.random.default_rng(12)
    ref = pd.DataFrame(
        {
            "a": rng.normal(size=3000),
            "b": rng.choice(list("pqr"), 3000),
            "c": rng.integers(0, 4, 3000),
        }
    )
    profile = profile_reference(ref)
    for shift in (0.0, 0.4):
        cur = pd.DataFrame(
            {"a": rng.normal(shift, size=2000), "b": rng.choice(list("pqs"), 2000), "c": 1}
        )
        expected = compute_drift(ref, cur, workers=1).to_dict()
        assert compute_drift(profile, cur).to_dict() == expected
        assert compute_drift(ref, cur, workers=3).to_dict() == expected


def test_to_dict_shape_and_json_safety():
    ref = pd.DataFrame({"age": np.r_[np.arange(2000.0), np.nan]})
    cur = pd.DataFrame({"age": np.r_[np.arange(1800.0) + 300, np.nan, np.inf]})
    out = json.loads(dumps(compute_drift(ref, cur)))
    (f,) = out["features"]
    assert set(f) == FEATURE_KEYS | {
        "p_value_adjusted",
        "status",
        "drift_score",
        "psi_band",
        "n_reference",
        "n_current",
    }
    assert (f["method"], f["missing_reference"], f["missing_current"]) == ("wasserstein", 1, 2)
    assert set(out) == {
        "correction",
        "schema",
        "features",
        "drifted_share",
        "dataset_drift",
        "quality",
    }


def test_huge_values_never_leak_non_finite_numbers():
    ref = pd.DataFrame({"x": np.r_[np.full(50, 1e308), np.full(50, -1e308), np.arange(10.0)]})
    cur = pd.DataFrame({"x": np.r_[np.full(60, 1e308), np.full(40, -1e308), np.arange(10.0)]})
    for method in (None, "ks", "wasserstein", "psi", "chisquare", "jensenshannon"):
        dumps(compute_drift(ref, cur, features={"x": FeatureOverride(method)}))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- property


_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.0, np.nan, np.inf]),
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    def side(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "f": draw(st.lists(_cells, min_size=rows, max_size=rows)),
                "i": draw(st.lists(st.integers(-3, 3), min_size=rows, max_size=rows)),
                "s": draw(
                    st.lists(
                        st.sampled_from(["a", "b", "c", None, "d"]), min_size=rows, max_size=rows
                    )
                ),
                "b": draw(st.lists(st.booleans(), min_size=rows, max_size=rows)),
            }
        )

    ref = side(draw(st.integers(0, 25)))
    cur = side(draw(st.integers(0, 25)))
    drop = draw(st.sampled_from([None, "f", "s"]))
    if drop:
        cur = cur.drop(columns=[drop])
    return ref, cur


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=frames(),
    method=st.sampled_from([None, "ks", "wasserstein", "psi", "chisquare", "jensenshannon"]),
    correction=st.sampled_from([None, "bh"]),
)
def test_property_never_raises_never_nan(
    data: tuple[pd.DataFrame, pd.DataFrame], method: str | None, correction: str | None
):
    ref, cur = data
    overrides = {c: FeatureOverride(method) for c in ("f", "i", "s", "b")}  # type: ignore[arg-type]
    result = compute_drift(ref, cur, features=overrides, correction=correction)  # type: ignore[arg-type]
    text = dumps(result)
    assert "NaN" not in text and "Infinity" not in text
    for f in result.features:
        assert f.drifted in (True, False, None)
        assert (f.drifted is None) == (f.reason is not None)
        assert not (f.reason or "").startswith("could not be analysed")  # no swallowed bug
    assert 0.0 <= result.drifted_share <= 1.0
