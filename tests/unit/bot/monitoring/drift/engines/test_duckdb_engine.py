"""The DuckDB engine against the numpy engine: the same statistics to 1e-9, the same verdicts.

Each case writes both sides to Parquet; the numpy engine reads them with pandas, DuckDB reads
the files itself, so dtype handling is compared too, not just the arithmetic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.drift.engines import DriftEngine, DriftOptions, EngineError, make_engine
from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
from bot.monitoring.drift.results import DriftResult, FeatureOverride

TOL = 1e-9
EXACT_KEYS = ("name", "type", "method", "threshold", "drifted", "reason")
EXACT_KEYS += ("missing_reference", "missing_current", "n_reference", "n_current", "status")
EXACT_KEYS += ("psi_band",)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_same(numpy_result: DriftResult, duckdb_result: DriftResult) -> None:
    """Every per-column statistic within 1e-9, every verdict and quality entry identical."""
    a, b = numpy_result.to_dict(), duckdb_result.to_dict()
    assert [f["name"] for f in a["features"]] == [f["name"] for f in b["features"]]
    for fa, fb in zip(a["features"], b["features"], strict=True):
        for key in EXACT_KEYS:
            assert fa.get(key) == fb.get(key), (fa["name"], key, fa.get(key), fb.get(key))
        for key in ("statistic", "p_value", "p_value_adjusted", "drift_score", "psi"):
            assert _close(fa[key], fb[key]), (fa["name"], key, fa[key], fb[key])
    assert a["dataset_drift"] == b["dataset_drift"]
    assert (a["correction"], a["schema"]) == (b["correction"], b["schema"])
    assert numpy_result.compared == duckdb_result.compared
    assert _close(a["drifted_share"], b["drifted_share"])
    assert _close(a["quality"], b["quality"]), (a["quality"], b["quality"])


def run_both(
    tmp_path: Path,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    engine: DriftEngine | None = None,
    **options: Any,
) -> tuple[DriftResult, DriftResult]:
    """The numpy engine's result and ``engine``'s (DuckDB by default) on the same files."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    ref.to_parquet(ref_path, index=False)
    cur.to_parquet(cur_path, index=False)
    opts = DriftOptions(**options)
    if engine is None:
        engine = DuckDBEngine(memory_limit="256MB", temp_directory=tmp_path / "spill", threads=2)
    return (
        make_engine("numpy").compute(ref_path, cur_path, opts),
        engine.compute(ref_path, cur_path, opts),
    )


def _with_odd_values(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = x.astype(np.float64)
    odd = rng.choice([np.nan, np.inf, -np.inf], size=x.size)
    return np.where(rng.random(x.size) < 0.08, odd, x)


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, n),
            "ties": rng.integers(0, 40, n).astype(np.float64) + (shift > 0),
            "int_ties": rng.integers(-20, 20 + int(10 * shift), n),
            "odd": _with_odd_values(rng.normal(shift, 2.0, n), rng),
            "few_ints": rng.integers(0, 3 + (shift > 0), n),
            "constant": np.full(n, 7.5),
            "plan": rng.choice(["basic", "pro", "team"] + (["new"] if shift else []), n),
            "one_category": np.full(n, "only"),
            "flag": rng.random(n) < 0.3 + shift / 4,
            "heavy": rng.standard_cauchy(n) * 1e6,
            "tiny": rng.normal(0, 1e-6, n),
        }
    )


@pytest.mark.parametrize(
    ("n", "m"),
    [
        (40, 55),  # tiny: chi-squared, exact KS with ties
        (900, 1200),  # KS, scipy's exact regime
        (15_000, 11_000),  # KS p-value by kstwo.sf (en < 20,000, a side > 10,000)
        (60_000, 50_000),  # Wasserstein / Jensen-Shannon, asymptotic KS
    ],
)
def test_generated_columns_match_numpy(tmp_path: Path, n: int, m: int) -> None:
    rng = np.random.default_rng(n)
    numpy_result, duckdb_result = run_both(tmp_path, _frame(rng, n, 0.0), _frame(rng, m, 0.4))
    assert_same(numpy_result, duckdb_result)
    drifted = {f.name for f in duckdb_result.features if f.drifted}
    assert "normal" in drifted and "constant" not in drifted


@pytest.mark.parametrize("method", ["ks", "wasserstein", "psi", "chisquare", "jensenshannon"])
def test_every_method_and_the_correction_match(tmp_path: Path, method: str) -> None:
    rng = np.random.default_rng(7)
    ref, cur = _frame(rng, 3000, 0.0), _frame(rng, 2500, 0.1)
    override = FeatureOverride(method=method)  # type: ignore[arg-type]
    features = {c: override for c in ("normal", "ties", "few_ints", "odd", "plan", "flag")}
    assert_same(*run_both(tmp_path, ref, cur, features=features, correction="bh"))


def test_empty_one_sided_and_all_missing_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {
            "all_nan_ref": np.full(300, np.nan),
            "all_inf_cur": rng.normal(size=300),
            "both_empty": np.full(300, np.nan),
            "only_ref": rng.normal(size=300),
            "one_value": np.ones(300),
            "text": rng.choice(["a", "b"], 300),
            "became_text": rng.normal(size=300),
            "when": pd.date_range("2024-01-01", periods=300, freq="h"),
        }
    )
    cur = pd.DataFrame(
        {
            "all_nan_ref": rng.normal(size=200),
            "all_inf_cur": np.full(200, np.inf),
            "both_empty": np.full(200, np.nan),
            "only_cur": rng.normal(size=200),
            "one_value": np.full(200, 2.0),
            "text": np.array([None] * 200, dtype=object),
            "became_text": rng.choice(["x", "y"], 200),
            "when": pd.date_range("2024-02-01", periods=200, freq="h"),
        }
    )
    numpy_result, duckdb_result = run_both(tmp_path, ref, cur)
    assert_same(numpy_result, duckdb_result)
    reasons = {f.name: f.reason for f in duckdb_result.features}
    assert reasons["all_nan_ref"] == "no values in reference"
    assert reasons["all_inf_cur"] == "no values in current"
    assert reasons["both_empty"] == "no values in reference or current"
    assert duckdb_result.quality["missing_columns"] == ["only_ref"]
    assert duckdb_result.quality["extra_columns"] == ["only_cur"]
    assert duckdb_result.quality["unsupported_columns"] == []
    when = next(c for c in duckdb_result.quality["columns"] if c["name"] == "when")
    assert when["freshness"]["newest_current"] == "2024-02-09T07:00:00+00:00"
    assert duckdb_result.schema["changed_types"] == [
        {"name": "became_text", "reference": "float64", "current": "str"}
    ]


def test_zero_rows_on_one_side(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ref = _frame(rng, 500, 0.0)
    assert_same(*run_both(tmp_path, ref, ref.iloc[:0]))


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "wine", "iris", "digits"])
def test_real_datasets_shipped_with_scikit_learn(tmp_path: Path, name: str) -> None:
    """The bundled data sets split unevenly by a column, so some features drift."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame
    order = frame.iloc[:, 0].rank(method="first").to_numpy()
    ref = frame[order <= len(frame) * 0.6].reset_index(drop=True)
    cur = frame[order > len(frame) * 0.6].reset_index(drop=True)
    numpy_result, duckdb_result = run_both(tmp_path, ref, cur, correction="bh")
    assert_same(numpy_result, duckdb_result)
    assert any(f.drifted for f in duckdb_result.features)


def test_folders_globs_and_csv(tmp_path: Path) -> None:
    """A hive-partitioned folder (its partition key left out), a glob of files, CSV files."""
    rng = np.random.default_rng(5)
    ref = _frame(rng, 2000, 0.0).drop(columns=["flag"])
    cur = _frame(rng, 1800, 0.3).drop(columns=["flag"])
    for day in range(3):
        part = cur.iloc[day * 600 : (day + 1) * 600]
        folder = tmp_path / "cur" / f"day=2024-01-0{day + 1}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part.parquet", index=False)
        part.to_csv(tmp_path / f"cur_{day}.csv", index=False)
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    expected = make_engine("numpy").compute(ref, cur, DriftOptions())
    engine = make_engine("duckdb")
    from_folder = engine.compute(tmp_path / "ref.parquet", tmp_path / "cur", DriftOptions())
    assert_same(expected, from_folder)
    assert "day" not in {f.name for f in from_folder.features}
    csv_ref = pd.read_csv(tmp_path / "ref.csv")
    csv_cur = pd.concat([pd.read_csv(tmp_path / f"cur_{d}.csv") for d in range(3)])
    expected_csv = make_engine("numpy").compute(csv_ref, csv_cur, DriftOptions())
    from_csv = engine.compute(tmp_path / "ref.csv", str(tmp_path / "cur_*.csv"), DriftOptions())
    assert_same(expected_csv, from_csv)


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    engine = make_engine("duckdb")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "a.csv").write_text("x\n1\n")
    cases = {
        str(tmp_path / "missing" / "*.parquet"): "no file matches",
        str(tmp_path / "broken.parquet"): "DuckDB could not read the data",
        str(tmp_path / "*"): "must be Parquet or CSV files",
    }
    for source, message in cases.items():
        with pytest.raises(EngineError) as info:
            engine.compute(source, tmp_path / "a.csv", DriftOptions())
        assert message in str(info.value) and "\n" not in str(info.value)


def test_memory_limit_and_spill_directory_are_applied(tmp_path: Path) -> None:
    engine = DuckDBEngine(memory_limit="300MB", temp_directory=tmp_path / "spill")
    con = engine.connect()
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
    finally:
        con.close()
    assert limit is not None and spill is not None
    assert limit[0].replace(" ", "") in ("286.1MiB", "300.0MB", "300MB")
    assert spill[0] == str(tmp_path / "spill")


def test_data_larger_than_the_memory_limit_spills_or_fails_in_one_line(tmp_path: Path) -> None:
    """600k distinct doubles a side: DuckDB's value table needs more than 40 MB, so the run
    spills to the temp folder (without one it runs out of memory) and still matches numpy."""
    rng = np.random.default_rng(9)
    pd.DataFrame({"x": rng.normal(0, 1, 600_000)}).to_parquet(tmp_path / "r.parquet")
    pd.DataFrame({"x": rng.normal(0.02, 1, 600_000)}).to_parquet(tmp_path / "c.parquet")
    paths = (tmp_path / "r.parquet", tmp_path / "c.parquet")
    spilling = DuckDBEngine(memory_limit="40MB", temp_directory=tmp_path / "spill", threads=1)
    expected = make_engine("numpy").compute(*paths, DriftOptions())
    assert_same(expected, spilling.compute(*paths, DriftOptions()))
    no_spill = DuckDBEngine(memory_limit="40MB", temp_directory=None, threads=1)
    with pytest.raises(EngineError, match="ran out of memory within its limit of 40MB") as info:
        no_spill.compute(*paths, DriftOptions())
    assert "MLOPS_BOT_DUCKDB_MEMORY_LIMIT" in str(info.value) and "\n" not in str(info.value)


def _categories(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """Issue 14's categorical cases: a binary column, rare categories, an identifier."""
    rare = [f"rare{i}" for i in range(12)]
    common = rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 2, 0.3, 0.2 + shift / 2])
    return pd.DataFrame(
        {
            "binary": rng.choice(["yes", "no"], n, p=[0.5 + shift, 0.5 - shift]),
            "with_rare": np.where(rng.random(n) < 0.05, rng.choice(rare, n), common),
            "customer_id": [f"c{int(x)}" for x in rng.integers(0, 10**9, n)],
            "score": rng.normal(shift, 1.0, n),
        }
    )


@pytest.mark.parametrize("correction", ["bh", "none"])
def test_binary_rare_and_identifier_columns_match(tmp_path: Path, correction: str) -> None:
    from scipy.stats import chi2_contingency

    rng = np.random.default_rng(11)
    ref, cur = _categories(rng, 800, 0.0), _categories(rng, 700, 0.08)
    numpy_result, duckdb_result = run_both(tmp_path, ref, cur, correction=correction)
    assert_same(numpy_result, duckdb_result)
    by_name = {f.name: f for f in duckdb_result.features}
    binary = by_name["binary"]
    table = [
        [int((ref["binary"] == v).sum()) for v in ("no", "yes")],
        [int((cur["binary"] == v).sum()) for v in ("no", "yes")],
    ]
    expected = chi2_contingency(table, correction=False)  # no Yates on a binary column
    assert binary.method == "chisquare"
    assert math.isclose(binary.p_value or 0.0, float(expected.pvalue), rel_tol=1e-9)
    assert by_name["with_rare"].method == "chisquare" and by_name["with_rare"].drifted is not None
    assert by_name["customer_id"].drifted is None
    assert (by_name["customer_id"].reason or "").startswith("identifier-like")
    adjusted = [f.p_value_adjusted for f in duckdb_result.features if f.p_value is not None]
    if correction == "bh":
        assert adjusted and all(p is not None for p in adjusted)
    else:
        assert adjusted and all(p is None for p in adjusted)


def dated_frames() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Both sides with a timestamp and an ISO date text column, and the options that check
    the timestamp's freshness only."""
    from datetime import UTC, datetime

    rng = np.random.default_rng(12)
    ref = pd.DataFrame(
        {
            "event_time": pd.date_range("2024-01-01", periods=400, freq="h"),
            "signup": pd.date_range("2023-01-01", periods=400, freq="D").strftime("%Y-%m-%d"),
            "x": rng.normal(0, 1, 400),
        }
    )
    cur = pd.DataFrame(
        {
            "event_time": pd.date_range("2024-03-01", periods=300, freq="h", tz="UTC"),
            "signup": pd.date_range("2024-01-01", periods=300, freq="D").strftime("%Y-%m-%d"),
            "x": rng.normal(0.5, 1, 300),
        }
    )
    now = datetime(2024, 3, 20, tzinfo=UTC)
    options: dict[str, Any] = {"exclude": {"event_time"}, "freshness": ["event_time"], "now": now}
    return ref, cur, options


def test_dates_freshness_and_now_match(tmp_path: Path) -> None:
    """Typed timestamps (Parquet) and ISO date texts (CSV) become freshness entries; a
    timestamp left out of drift is still checked for freshness, against ``now``."""
    ref, cur, options = dated_frames()
    numpy_result, duckdb_result = run_both(tmp_path, ref, cur, **options)
    assert_same(numpy_result, duckdb_result)
    quality = {c["name"]: c for c in duckdb_result.quality["columns"]}
    assert quality["event_time"]["freshness"]["newest_current"] == "2024-03-13T11:00:00+00:00"
    assert quality["event_time"]["freshness"]["age_seconds"] == 6 * 86400 + 13 * 3600
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    opts = DriftOptions(**options)
    from_csv = make_engine("duckdb").compute(tmp_path / "ref.csv", tmp_path / "cur.csv", opts)
    assert_same(
        make_engine("numpy").compute(tmp_path / "ref.csv", tmp_path / "cur.csv", opts), from_csv
    )
    signup = next(c for c in from_csv.quality["columns"] if c["name"] == "signup")
    assert signup["freshness"]["newest_current"] == "2024-10-26T00:00:00+00:00"
    assert [f.name for f in from_csv.features] == ["x"]


def test_std_floor_warning_and_values_too_large_match(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    n = 3000
    ref = pd.DataFrame({"tiny": rng.normal(0, 1e-5, n), "huge": rng.choice([-1e308, 1e308], n)})
    cur = pd.DataFrame({"tiny": rng.normal(1e-4, 1e-5, n), "huge": rng.choice([-1e308, 1e308], n)})
    ref["huge"] = ref["huge"] * rng.random(n)
    cur["huge"] = cur["huge"] * rng.random(n)
    numpy_result, duckdb_result = run_both(tmp_path, ref, cur)
    assert_same(numpy_result, duckdb_result)
    tiny = next(c for c in duckdb_result.quality["columns"] if c["name"] == "tiny")
    assert "below the floor" in tiny["warning"]
    huge = next(f for f in duckdb_result.features if f.name == "huge")
    assert huge.statistic is None and "not finite" in (huge.reason or "")


def test_runs_of_ties_across_the_sorted_batches_match(tmp_path: Path) -> None:
    """400k rows a side, mostly distinct (so the union is sorted row by row, not grouped) with
    runs of ties longer than one of DuckDB's result batches (~120k rows): every run counts once
    in KS, W1, the deciles and the bins."""
    rng = np.random.default_rng(21)

    def side(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1.0, n)
        x[rng.random(n) < 0.3] = 0.0  # one run of ~120k ties a side
        x[rng.random(n) < 0.1] = 1.5
        return pd.DataFrame({"mixed": x, "mixed_ks": x})

    numpy_result, duckdb_result = run_both(
        tmp_path,
        side(400_000, 0.0),
        side(400_000, 0.05),
        features={"mixed_ks": FeatureOverride(method="ks")},
    )
    assert_same(numpy_result, duckdb_result)
    methods = {f.name: f.method for f in duckdb_result.features}
    assert methods == {"mixed": "wasserstein", "mixed_ks": "ks"}


def test_csv_sources_are_read_once_into_parquet_that_is_removed_after(tmp_path: Path) -> None:
    """A comparison converts CSV files to Parquet in the spill folder (each query would parse
    the text again otherwise), with the statistics of the CSV, and leaves nothing behind."""
    rng = np.random.default_rng(15)
    ref, cur = _frame(rng, 900, 0.0), _frame(rng, 700, 0.3)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    engine = DuckDBEngine(temp_directory=tmp_path / "spill", threads=2)
    paths = (tmp_path / "ref.csv", tmp_path / "cur.csv")
    expected = make_engine("numpy").compute(*paths, DriftOptions())
    assert_same(expected, engine.compute(*paths, DriftOptions()))
    assert list((tmp_path / "spill").iterdir()) == []
    with engine.session("test") as con:
        assert engine.scratch().parent == tmp_path / "spill"
        assert con.execute("SELECT 1").fetchall() == [(1,)]
    assert list((tmp_path / "spill").iterdir()) == []


def test_a_wide_row_group_bigger_than_the_memory_limit_is_read(tmp_path: Path) -> None:
    """30 columns x 200k random doubles in one row group (46 MiB) under a 40 MB limit: DuckDB's
    Parquet prefetch would read the group's column chunks in one allocation and fail."""
    rng = np.random.default_rng(17)
    n = 200_000
    ref = pd.DataFrame({f"c{i}": rng.normal(0, 1, n) for i in range(30)})
    cur = pd.DataFrame({f"c{i}": rng.normal(0.01 * i, 1, n) for i in range(30)})
    for name, frame in (("ref", ref), ("cur", cur)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False, row_group_size=n)
    paths = (tmp_path / "ref.parquet", tmp_path / "cur.parquet")
    engine = DuckDBEngine(memory_limit="40MB", temp_directory=tmp_path / "spill", threads=1)
    assert_same(
        make_engine("numpy").compute(*paths, DriftOptions()), engine.compute(*paths, DriftOptions())
    )
