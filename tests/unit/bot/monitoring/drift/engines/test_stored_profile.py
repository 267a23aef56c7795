"""A reference profiled once into a folder and compared from it (``stored_profile``): the
DuckDB and Spark engines give the numpy engine's statistics to 1e-9 and its verdicts, on the
exactness cases of the DuckDB engine's tests, reading only the current data."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.drift.engines import DriftOptions, EngineError, EngineKind, make_engine
from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
from bot.monitoring.drift.engines.spark_engine import SparkEngine
from bot.monitoring.drift.engines.stored_profile import load
from bot.monitoring.drift.engines.stored_sides import merge_sorted, mergeable
from bot.monitoring.drift.results import DriftResult, FeatureOverride
from tests.unit.bot.monitoring.drift.engines.test_duckdb_engine import (
    _categories,
    _frame,
    assert_same,
    dated_frames,
    run_both,
)


class FromStoredProfile:
    """A drift engine that profiles the reference into a folder, reads the folder back, and
    compares the current data with it (as a monitor's second report does)."""

    kind = EngineKind.DUCKDB

    def __init__(self, engine: DuckDBEngine | SparkEngine, folder: Path) -> None:
        self.engine, self.folder = engine, folder

    def compute(self, reference: Any, current: Any, options: DriftOptions) -> DriftResult:
        profiled_out = {str(c) for c in options.exclude} - set(options.freshness)
        self.engine.profile_reference(
            reference, self.folder, columns=options.columns, exclude=profiled_out
        )
        result, _ = self.engine.compute_with_reference(load(self.folder), current, options)
        return result


def stored(tmp_path: Path) -> FromStoredProfile:
    engine = DuckDBEngine(memory_limit="256MB", temp_directory=tmp_path / "spill", threads=2)
    return FromStoredProfile(engine, tmp_path / "profile")


@pytest.mark.parametrize(("n", "m"), [(40, 55), (900, 1200), (15_000, 11_000), (60_000, 50_000)])
def test_generated_columns_match_numpy(tmp_path: Path, n: int, m: int) -> None:
    rng = np.random.default_rng(n)
    ref, cur = _frame(rng, n, 0.0), _frame(rng, m, 0.4)
    numpy_result, result = run_both(tmp_path, ref, cur, stored(tmp_path))
    assert_same(numpy_result, result)
    assert "normal" in {f.name for f in result.features if f.drifted}


def test_every_method_categories_and_the_correction_match(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ref, cur = _frame(rng, 3000, 0.0), _frame(rng, 2500, 0.1)
    columns = ("normal", "ties", "few_ints", "odd", "plan", "flag")
    for method in ("ks", "wasserstein", "psi", "chisquare", "jensenshannon"):
        features = {c: FeatureOverride(method=method) for c in columns}  # type: ignore[arg-type]
        where = tmp_path / method
        assert_same(*run_both(where, ref, cur, stored(where), features=features, correction="bh"))
    ref, cur = _categories(rng, 800, 0.0), _categories(rng, 700, 0.08)
    assert_same(*run_both(tmp_path / "categories", ref, cur, stored(tmp_path / "categories")))


def test_dates_freshness_odd_and_one_sided_columns(tmp_path: Path) -> None:
    ref, cur, options = dated_frames()
    assert_same(*run_both(tmp_path / "dates", ref, cur, stored(tmp_path / "dates"), **options))
    rng = np.random.default_rng(13)
    n = 3000
    ref = pd.DataFrame(
        {
            "tiny": rng.normal(0, 1e-5, n),
            "huge": rng.choice([-1e308, 1e308], n) * rng.random(n),
            "all_nan_ref": np.full(n, np.nan),
            "only_ref": rng.normal(size=n),
            "became_text": rng.normal(size=n),
        }
    )
    cur = pd.DataFrame(
        {
            "tiny": rng.normal(1e-4, 1e-5, n),
            "huge": rng.choice([-1e308, 1e308], n) * rng.random(n),
            "all_nan_ref": rng.normal(size=n),
            "only_cur": rng.normal(size=n),
            "became_text": rng.choice(["x", "y"], n),
        }
    )
    numpy_result, result = run_both(tmp_path / "odd", ref, cur, stored(tmp_path / "odd"))
    assert_same(numpy_result, result)
    assert result.quality["missing_columns"] == ["only_ref"]
    empty = pd.DataFrame({"x": np.array([], dtype=np.float64)})
    full = pd.DataFrame({"x": rng.normal(size=50)})
    for name, (a, b) in {"empty_ref": (empty, full), "empty_cur": (full, empty)}.items():
        assert_same(*run_both(tmp_path / name, a, b, stored(tmp_path / name)))


def test_runs_of_ties_across_stored_and_current_batches(tmp_path: Path) -> None:
    """400k rows a side with runs of ties longer than a batch: the merge of the stored values
    with the current's counts every run once."""
    rng = np.random.default_rng(21)

    def side(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1.0, n)
        x[rng.random(n) < 0.3] = 0.0
        x[rng.random(n) < 0.1] = 1.5
        return pd.DataFrame({"mixed": x, "mixed_ks": x})

    ks = {"mixed_ks": FeatureOverride(method="ks")}
    a, b = side(400_000, 0.0), side(400_000, 0.05)
    assert_same(*run_both(tmp_path, a, b, stored(tmp_path), features=ks))


def test_the_folder_holds_aggregates_not_rows(tmp_path: Path) -> None:
    """A column of 200k rows with 50 distinct values is stored as 50 (value, count) rows."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"few": rng.integers(0, 50, 200_000).astype(float), "x": rng.random(10).repeat(20_000)}
    )
    frame.to_parquet(tmp_path / "ref.parquet", index=False)
    engine = DuckDBEngine(threads=2)
    engine.profile_reference(tmp_path / "ref.parquet", tmp_path / "p", columns=None, exclude=())
    profile = load(tmp_path / "p")
    assert profile.rows == 200_000
    few = profile.column("few")
    assert few.values is not None and pq.read_metadata(tmp_path / "p" / few.values).num_rows == 50
    # what every comparison computes from the reference alone is stored with it
    assert few.scale == 49.0 and few.std is not None and math.isclose(few.std, 14.43, rel_tol=0.01)
    assert few.edges is not None and few.bins is not None
    assert sum(few.bins.values()) == 200_000 and len(few.bins) == len(few.edges) + 1


def test_merge_sorted_interleaves_ties_and_uneven_batches() -> None:
    """Three reference streams and two current ones, with ties across streams and batches."""
    rng = np.random.default_rng(5)

    def stream(values: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        v, c = np.unique(values, return_counts=True)
        return ((v[i : i + size], c[i : i + size]) for i in range(0, v.size, size))

    ref = [np.sort(rng.integers(0, 300, n).astype(float)) for n in (5000, 10, 0)]
    cur = [np.sort(rng.integers(100, 400, n).astype(float)) for n in (3000, 700)]
    merged = list(
        merge_sorted(
            [stream(a, s) for a, s in zip(ref, (17, 3, 5), strict=True)],
            [stream(b, s) for b, s in zip(cur, (1000, 1), strict=True)],
        )
    )
    v = np.concatenate([m[0] for m in merged])
    assert np.all(np.diff(v) >= 0)
    rc = np.concatenate([m[1] for m in merged])
    cc = np.concatenate([m[2] for m in merged])
    assert np.array_equal(np.repeat(v, rc), np.sort(np.concatenate(ref)))
    assert np.array_equal(np.repeat(v, cc), np.sort(np.concatenate(cur)))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_stored_profile_matches_numpy(tmp_path: Path, spark_master: str) -> None:
    """Profiled by Spark, compared by Spark: ties, NaN, ±inf, categories, booleans, dates."""
    engine = SparkEngine(master=spark_master, temp_directory=tmp_path / "spill")
    rng = np.random.default_rng(40)
    where = tmp_path / "generated"
    ref, cur = _frame(rng, 15_000, 0.0), _frame(rng, 11_000, 0.4)
    assert_same(*run_both(where, ref, cur, FromStoredProfile(engine, where / "profile")))
    ref, cur, options = dated_frames()
    where = tmp_path / "dates"
    assert_same(*run_both(where, ref, cur, FromStoredProfile(engine, where / "profile"), **options))


def from_stored_parts(
    tmp_path: Path, ref: pd.DataFrame, cur: pd.DataFrame, parts: int, **options: Any
) -> DriftResult:
    """The drift of ``cur``, written as ``parts`` files each profiled on its own, against the
    stored profile of ``ref``: no data is read by the comparison."""
    engine = DuckDBEngine(memory_limit="256MB", temp_directory=tmp_path / "spill", threads=2)
    tmp_path.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    opts = DriftOptions(**options)
    profiled_out = {str(c) for c in opts.exclude} - set(opts.freshness)
    engine.profile_reference(
        tmp_path / "ref.parquet", tmp_path / "ref", columns=None, exclude=profiled_out
    )
    stored = []
    for i, chunk in enumerate(np.array_split(np.arange(len(cur)), parts)):
        cur.iloc[chunk].to_parquet(tmp_path / f"cur-{i}.parquet", index=False)
        folder = tmp_path / f"cur-{i}"
        engine.profile_reference(tmp_path / f"cur-{i}.parquet", folder, columns=None, exclude=())
        stored.append(load(folder))
    return engine.compute_from_profiles(load(tmp_path / "ref"), stored, opts)


@pytest.mark.parametrize(("n", "m", "parts"), [(40, 55, 3), (15_000, 11_000, 7)])
def test_partition_profiles_merge_to_the_statistics_of_the_whole(
    tmp_path: Path, n: int, m: int, parts: int
) -> None:
    rng = np.random.default_rng(n + parts)
    ref, cur = _frame(rng, n, 0.0), _frame(rng, m, 0.4)
    expected = make_engine("numpy").compute(ref, cur, DriftOptions())
    assert_same(expected, from_stored_parts(tmp_path, ref, cur, parts))
    ref, cur, options = dated_frames()  # timestamps and ISO date texts: newest of all parts
    expected = make_engine("numpy").compute(ref, cur, DriftOptions(**options))
    assert_same(expected, from_stored_parts(tmp_path / "dates", ref, cur, parts, **options))


def test_parts_that_differ_in_types_are_not_merged(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    a = pd.DataFrame({"x": rng.normal(size=50), "y": rng.integers(0, 3, 50)})
    b = a.assign(y=a["y"].astype(str))
    engine = DuckDBEngine(threads=1)
    for name, frame in {"a": a, "b": b}.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        engine.profile_reference(
            tmp_path / f"{name}.parquet", tmp_path / name, columns=None, exclude=()
        )
    parts = [load(tmp_path / "a"), load(tmp_path / "b")]
    assert mergeable(parts[:1]) and not mergeable(parts)
    with pytest.raises(EngineError, match="differ in columns or types"):
        engine.compute_from_profiles(parts[0], parts, DriftOptions())


def test_a_csv_reference_is_stored_with_its_chart_sample_and_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    ref, cur = _frame(rng, 2_000, 0.0), _frame(rng, 1_500, 0.4)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    spill = tmp_path / "spill"
    engine = DuckDBEngine(memory_limit="256MB", temp_directory=spill, threads=2)
    engine.profile_reference(
        tmp_path / "ref.csv", tmp_path / "p", columns=None, exclude=(), sample_rows=500
    )
    stored = load(tmp_path / "p")
    sample = stored.sample()
    assert sample is not None and len(sample) == 500
    assert list(sample.columns) == list(pd.read_csv(tmp_path / "ref.csv", nrows=1).columns)
    result, rows = engine.compute_with_reference(stored, tmp_path / "cur.csv", DriftOptions())
    expected = make_engine("numpy").compute(
        tmp_path / "ref.csv", tmp_path / "cur.csv", DriftOptions()
    )
    assert_same(expected, result)
    assert rows == 1_500
    assert not list(spill.glob("csv-*"))  # the Parquet copies went with their session
