"""Issue 14 item 9: the report CLI reads two local Parquet files in a thread while it imports
pandas; the frames are the loader's own, and anything unusual is left to the loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bot.monitoring import datasets, prefetch


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b", None], 500)})
    ref.to_parquet(tmp_path / "ref.parquet")
    ref.assign(x=ref["x"] + 1).to_parquet(tmp_path / "cur.parquet")
    return tmp_path / "ref.parquet", tmp_path / "cur.parquet"


def test_tables_are_read_once_and_give_the_loaders_frames(files: tuple[Path, Path]) -> None:
    ref, cur = files
    fetched = prefetch.start([str(cur), str(ref)], datasets.Limits())
    assert fetched is not None
    table = fetched.take(cur)
    assert table is not None and table.equals(pq.read_table(cur))
    assert fetched.take(cur) is None  # handed out once

    fetched = prefetch.start([str(cur), str(ref)], datasets.Limits())
    loaded = datasets.load(str(ref), prefetched=fetched)
    plain = datasets.load(str(ref))
    pd.testing.assert_frame_equal(loaded.frame, plain.frame)
    assert list(loaded.frame.dtypes.astype(str)) == list(plain.frame.dtypes.astype(str))
    assert fetched.take(ref) is None  # the loader took it


def test_only_two_local_parquet_files_are_prefetched(files: tuple[Path, Path]) -> None:
    ref, cur = files
    caps = datasets.Limits()
    pd.read_parquet(ref).to_csv(ref.with_suffix(".csv"), index=False)
    for sources in (
        [str(cur), None],
        [str(cur), str(ref.parent / "*.parquet")],
        [str(cur), "https://example.org/ref.parquet"],
        [str(cur), "mlflow-artifact:ref.parquet"],
        [str(cur), str(ref.with_suffix(".csv"))],
        [str(cur), str(ref.parent / "missing.parquet")],
    ):
        assert prefetch.start(sources, caps) is None, sources


def test_files_over_the_caps_or_the_size_are_left_to_the_loader(files: tuple[Path, Path]) -> None:
    ref, cur = files
    narrow = datasets.Limits(max_columns=1)
    fetched = prefetch.start([str(cur), str(ref)], narrow)
    assert fetched is not None and fetched.take(cur) is None
    with pytest.raises(datasets.DatasetError, match="columns"):
        datasets.load(str(cur), limits=narrow, prefetched=fetched)
    small = prefetch.start([str(cur), str(ref)], datasets.Limits(), max_bytes=1000)
    assert small is not None and small.take(cur) is None and small.take(ref) is None


@pytest.mark.slow  # a fresh interpreter
def test_preload_imports_matplotlib_and_scipy_special_in_a_thread() -> None:
    code = (
        "import sys, threading; from bot.monitoring import preload; preload.preload(True); "
        "preload.wait(); print(sorted(m for m in ('matplotlib.figure', 'scipy.special') "
        "if m in sys.modules), [t.name for t in threading.enumerate()])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['matplotlib.figure', 'scipy.special'] ['MainThread']"
