"""Choosing an engine: ``auto`` from the decoded size of both sides, remote sources in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.drift.engines import EngineConfig, EngineKind, choose_engine, make_engine
from bot.monitoring.drift.engines.base import estimated_bytes, is_local, local_paths


def _write(tmp_path: Path, rows: int) -> Path:
    frame = pd.DataFrame({"x": np.zeros(rows), "y": np.ones(rows, dtype=np.int64)})
    path = tmp_path / f"data_{rows}.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_parquet_size_is_estimated_from_the_footer_as_decoded(tmp_path: Path) -> None:
    path = _write(tmp_path, 100_000)
    assert path.stat().st_size < 100_000  # constant columns compress to almost nothing
    assert estimated_bytes(path) >= 100_000 * 16  # two 8-byte columns once decoded


def test_auto_picks_numpy_for_small_data_and_duckdb_beyond_the_budget(tmp_path: Path) -> None:
    ref, cur = _write(tmp_path, 1000), _write(tmp_path, 2000)
    assert choose_engine("auto", ref, cur) == EngineKind.NUMPY
    assert choose_engine("auto", ref, cur, numpy_max_bytes=40_000) == EngineKind.DUCKDB
    assert choose_engine("numpy", ref, cur, numpy_max_bytes=1) == EngineKind.NUMPY
    assert choose_engine("auto", ref, cur, side_max_rows=1999) == EngineKind.DUCKDB
    assert choose_engine("auto", ref, cur, side_max_bytes=20_000) == EngineKind.DUCKDB
    assert choose_engine("auto", ref, cur, side_max_rows=2000) == EngineKind.NUMPY
    remote = "https://example.com/data.parquet"
    assert choose_engine("auto", remote, str(cur), numpy_max_bytes=1) == EngineKind.NUMPY


def test_folders_and_globs_list_their_data_files(tmp_path: Path) -> None:
    for day in ("day=1", "day=2"):
        (tmp_path / "d" / day).mkdir(parents=True)
        _write(tmp_path / "d" / day, 10)
    (tmp_path / "d" / "README.txt").write_text("not data")
    assert len(local_paths(tmp_path / "d")) == 2
    assert len(local_paths(str(tmp_path / "d" / "*" / "*.parquet"))) == 2
    assert local_paths(tmp_path / "nothing-here") == []
    assert is_local("data/*.parquet") and not is_local("mlflow-artifact:reference.parquet")
    assert not is_local("s3://bucket/data.parquet")


def test_unknown_engines_are_refused_and_spark_starts_lazily() -> None:
    from bot.monitoring.drift.engines.spark_engine import SparkEngine

    with pytest.raises(ValueError, match="'gpu' is not a valid EngineKind"):
        make_engine("gpu")
    engine = make_engine("spark", EngineConfig(spark_master="sc://spark.example:15002"))
    assert isinstance(engine, SparkEngine) and engine.master == "sc://spark.example:15002"
