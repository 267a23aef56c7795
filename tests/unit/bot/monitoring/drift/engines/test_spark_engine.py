"""The Spark engine against the numpy engine: the exactness cases of the DuckDB engine's
tests, on the run's one shared ``local[2]`` session (a JVM: marked ``slow`` and ``spark``).

Kept to a handful of cases, each covering many columns at once: the whole suite runs on two
cores, and every Spark job costs a second or so of scheduling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.drift.engines import DriftOptions, EngineConfig, EngineError, make_engine
from bot.monitoring.drift.engines.spark_engine import SparkEngine
from bot.monitoring.drift.results import FeatureOverride
from tests.unit.bot.monitoring.drift.engines.test_duckdb_engine import (
    _categories,
    _frame,
    assert_same,
    dated_frames,
    run_both,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def spark(spark_master: str, tmp_path: Path) -> SparkEngine:
    return SparkEngine(master=spark_master, temp_directory=tmp_path / "spill")


@pytest.mark.parametrize(("n", "m"), [(40, 55), (15_000, 11_000), (60_000, 50_000)])
def test_generated_columns_match_numpy(tmp_path: Path, spark: SparkEngine, n: int, m: int) -> None:
    """Ties, NaN, ±inf, constant, single-category, boolean, Cauchy and tiny columns."""
    rng = np.random.default_rng(n)
    numpy_result, spark_result = run_both(tmp_path, _frame(rng, n, 0.0), _frame(rng, m, 0.4), spark)
    assert_same(numpy_result, spark_result)
    drifted = {f.name for f in spark_result.features if f.drifted}
    assert "normal" in drifted and "constant" not in drifted


def test_every_method_matches(tmp_path: Path, spark: SparkEngine) -> None:
    rng = np.random.default_rng(7)
    ref, cur = _frame(rng, 3000, 0.0), _frame(rng, 2500, 0.1)
    columns = ("normal", "ties", "few_ints", "odd", "plan", "flag")
    for method in ("ks", "wasserstein", "psi", "chisquare", "jensenshannon"):
        features = {c: FeatureOverride(method=method) for c in columns}  # type: ignore[arg-type]
        assert_same(*run_both(tmp_path / method, ref, cur, spark, features=features))


def test_empty_one_sided_and_zero_row_sides(tmp_path: Path, spark: SparkEngine) -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {
            "all_nan_ref": np.full(300, np.nan),
            "all_inf_cur": rng.normal(size=300),
            "only_ref": rng.normal(size=300),
            "one_value": np.ones(300),
            "text": rng.choice(["a", "b"], 300),
            "became_text": rng.normal(size=300),
        }
    )
    cur = pd.DataFrame(
        {
            "all_nan_ref": rng.normal(size=200),
            "all_inf_cur": np.full(200, np.inf),
            "only_cur": rng.normal(size=200),
            "one_value": np.full(200, 2.0),
            "text": np.array([None] * 200, dtype=object),
            "became_text": rng.choice(["x", "y"], 200),
        }
    )
    numpy_result, spark_result = run_both(tmp_path, ref, cur, spark)
    assert_same(numpy_result, spark_result)
    reasons = {f.name: f.reason for f in spark_result.features}
    assert reasons["all_nan_ref"] == "no values in reference"
    assert reasons["all_inf_cur"] == "no values in current"
    assert spark_result.quality["missing_columns"] == ["only_ref"]
    frame = _frame(rng, 500, 0.0)
    assert_same(*run_both(tmp_path / "zero", frame, frame.iloc[:0], spark))


@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_real_datasets_shipped_with_scikit_learn(
    tmp_path: Path, spark: SparkEngine, name: str
) -> None:
    import sklearn.datasets

    frame = getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame
    order = frame.iloc[:, 0].rank(method="first").to_numpy()
    ref = frame[order <= len(frame) * 0.6].reset_index(drop=True)
    cur = frame[order > len(frame) * 0.6].reset_index(drop=True)
    numpy_result, spark_result = run_both(tmp_path, ref, cur, spark)
    assert_same(numpy_result, spark_result)
    assert any(f.drifted for f in spark_result.features)


def test_binary_rare_identifier_and_large_values(tmp_path: Path, spark: SparkEngine) -> None:
    rng = np.random.default_rng(11)
    ref, cur = _categories(rng, 800, 0.0), _categories(rng, 700, 0.08)
    ref["huge"] = rng.choice([-1e308, 1e308], 800) * rng.random(800)
    cur["huge"] = rng.choice([-1e308, 1e308], 700) * rng.random(700)
    numpy_result, spark_result = run_both(tmp_path, ref, cur, spark)
    assert_same(numpy_result, spark_result)
    by_name = {f.name: f for f in spark_result.features}
    assert by_name["binary"].method == "chisquare"
    assert (by_name["customer_id"].reason or "").startswith("identifier-like")
    assert by_name["huge"].method == "ks" and by_name["huge"].statistic is not None


def test_folders_globs_and_csv(tmp_path: Path, spark: SparkEngine) -> None:
    """A hive-partitioned folder (its partition key left out), a glob of CSV files."""
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
    from_folder = spark.compute(tmp_path / "ref.parquet", tmp_path / "cur", DriftOptions())
    assert_same(expected, from_folder)
    assert "day" not in {f.name for f in from_folder.features}
    sample = spark.sample(tmp_path / "cur", ["normal", "plan", "missing"], 500)
    assert list(sample.columns) == ["normal", "plan"] and 0 < len(sample) <= 500
    assert set(sample["plan"]) <= set(cur["plan"])
    assert spark.column_count(tmp_path / "ref.parquet") == len(ref.columns)
    csv_ref = pd.read_csv(tmp_path / "ref.csv")
    csv_cur = pd.concat([pd.read_csv(tmp_path / f"cur_{d}.csv") for d in range(3)])
    expected_csv = make_engine("numpy").compute(csv_ref, csv_cur, DriftOptions())
    from_csv = spark.compute(tmp_path / "ref.csv", str(tmp_path / "cur_*.csv"), DriftOptions())
    assert_same(expected_csv, from_csv)


def test_dates_and_frames_in_memory(tmp_path: Path, spark: SparkEngine) -> None:
    """Timestamps (newest/oldest from Spark's pass over each side) and ISO date texts (CSV:
    checked on their category counts) give the same freshness entries; sides given as
    in-memory frames give the same result as their files."""
    ref, cur, options = dated_frames()
    numpy_result, spark_result = run_both(tmp_path, ref, cur, spark, **options)
    assert_same(numpy_result, spark_result)
    quality = {c["name"]: c for c in spark_result.quality["columns"]}
    assert quality["event_time"]["freshness"]["newest_current"] == "2024-03-13T11:00:00+00:00"
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    opts = DriftOptions(**options)
    from_csv = spark.compute(tmp_path / "ref.csv", tmp_path / "cur.csv", opts)
    assert_same(
        make_engine("numpy").compute(tmp_path / "ref.csv", tmp_path / "cur.csv", opts), from_csv
    )
    signup = next(c for c in from_csv.quality["columns"] if c["name"] == "signup")
    assert signup["freshness"]["newest_current"] == "2024-10-26T00:00:00+00:00"
    rng = np.random.default_rng(8)
    ref, cur = _frame(rng, 400, 0.0), _frame(rng, 300, 0.4)
    ref["nothing"] = cur["nothing"] = None
    expected, _ = run_both(tmp_path / "frames", ref, cur, spark)
    assert_same(expected, spark.compute(ref, cur, DriftOptions()))


def test_bad_sources_are_one_line_errors(tmp_path: Path, spark: SparkEngine) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "a.csv").write_text("x\n1\n")
    cases = {
        str(tmp_path / "missing" / "*.parquet"): "no file matches",
        str(tmp_path / "broken.parquet"): "Spark could not read",
        str(tmp_path / "*"): "must be Parquet or CSV files",
    }
    for source, message in cases.items():
        with pytest.raises(EngineError) as info:
            spark.compute(source, tmp_path / "a.csv", DriftOptions())
        assert message in str(info.value) and "\n" not in str(info.value)


def test_the_setting_chooses_the_master(spark_master: str) -> None:
    engine = make_engine("spark", EngineConfig(spark_master=spark_master))
    assert isinstance(engine, SparkEngine) and engine.master == spark_master
