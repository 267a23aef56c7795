"""Caps on every data source (bytes, rows, columns), checked before the data is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.datasets import DatasetError, Limits, load


@pytest.fixture
def no_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file refused by its footer or header is never read in full."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was loaded in full")

    monkeypatch.setattr(pd, "read_parquet", refuse)


def test_a_small_parquet_file_that_unpacks_large_is_refused_from_its_footer(
    tmp_path: Path, no_full_load: None
) -> None:
    path = tmp_path / "bomb.parquet"
    pd.DataFrame({"x": np.zeros(400_000, dtype="int64")}).to_parquet(path)  # ~3 MiB unpacked
    assert path.stat().st_size < 2**20
    with pytest.raises(DatasetError, match=r"MiB uncompressed \(at most 1 MiB\)"):
        load(str(path), limits=Limits(max_bytes=2**20))


def test_parquet_rows_and_columns_are_capped_from_the_footer(
    tmp_path: Path, no_full_load: None
) -> None:
    path = tmp_path / "wide.parquet"
    pd.DataFrame({f"c{i}": [1, 2, 3] for i in range(30)}).to_parquet(path)
    with pytest.raises(DatasetError, match=r"has 30 columns \(at most 20\)"):
        load(str(path), limits=Limits(max_columns=20))
    with pytest.raises(DatasetError, match=r"has 3 rows \(at most 2\)"):
        load(str(path), limits=Limits(max_rows=2))


def test_the_default_caps_refuse_a_csv_with_thousands_of_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join(["1"] * 5000))
    with pytest.raises(DatasetError, match=r"has 5,000 columns \(at most 2,000\)"):
        load(str(path))


def test_csv_rows_local_bytes_and_globs_are_capped(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": range(50), "b": range(50)})
    frame.to_csv(tmp_path / "one.csv", index=False)
    frame.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(DatasetError, match="has more than 40 rows"):
        load(str(tmp_path / "one.csv"), limits=Limits(max_rows=40))
    with pytest.raises(DatasetError, match="has more than 80 rows"):
        load(str(tmp_path / "*.csv"), limits=Limits(max_rows=80))
    with pytest.raises(DatasetError, match="larger than"):
        load(str(tmp_path / "one.csv"), limits=Limits(max_bytes=100))
    with pytest.raises(DatasetError, match="larger than"):
        load(str(tmp_path / "*.csv"), limits=Limits(max_bytes=500))
    assert load(str(tmp_path / "*.csv"), limits=Limits(max_rows=100)).rows == 100


def test_downloads_are_capped_by_the_same_limits(
    http_dir: tuple[str, Path], no_full_load: None
) -> None:
    base, root = http_dir
    pd.DataFrame({"x": range(1000)}).to_csv(root / "big.csv", index=False)
    with pytest.raises(DatasetError, match="larger than"):
        load(f"{base}/big.csv", limits=Limits(max_bytes=1000))
    pd.DataFrame({f"c{i}": [1] for i in range(30)}).to_parquet(root / "wide.parquet")
    with pytest.raises(DatasetError, match=r"30 columns"):
        load(f"{base}/wide.parquet", limits=Limits(max_columns=10))
