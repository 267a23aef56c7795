"""Out of core: a drift report on data bigger than the in-memory engine can hold, by DuckDB.

    .venv/bin/python bench/out_of_core.py                     # 10 cols x 100 files x 1M rows
    .venv/bin/python bench/out_of_core.py --files 2 --rows-per-file 100000   # a minute
    .venv/bin/python bench/out_of_core.py --files 20 --keep /tmp/ooc-data    # keep the folders

Writes a reference and a current Parquet folder (``--files`` files of ``--rows-per-file`` rows,
``--cols`` float64 columns: some shifted in the current side, some with long runs of ties, NaN
or infinities; generated file by file, so this script stays small) under one temporary folder,
then runs ``mlops-bot report drift --engine duckdb`` on the two folders as a child process with
the data dir (hence DuckDB's spill folder) in the same temporary folder, memory limit
``--memory-limit`` (MLOPS_BOT_DUCKDB_MEMORY_LIMIT). Measured: wall and CPU seconds and peak
RSS of that process (its ru_maxrss, from wait4), and the most the spill folder held (polled).
The run fails unless the peak RSS is within the memory limit.

Then the exactness check: the DuckDB and numpy engines each run (a process each) on a sample
of the same folders, the first ``--sample-files`` files of each side; every statistic must
agree to 1e-9 and every verdict must be identical. The temporary folder is deleted at the end,
on failure and on Ctrl-C too (unless ``--keep``). Prints a markdown table and the load average.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT  # puts the repository root on sys.path

MLOPS_BOT = Path(sys.executable).parent / "mlops-bot"


def column(rng: object, i: int, rows: int, current: bool) -> object:
    """Column ``f{i}`` of one file: a mix of shapes, some drifted in the current side."""
    import numpy as np

    assert isinstance(rng, np.random.Generator)
    kind = i % 10
    if kind == 0:  # shifted by 0.5 std: drifted
        return rng.normal(0.5 if current else 0.0, 1.0, rows)
    if kind == 1:  # identical distributions
        return rng.normal(0.0, 1.0, rows)
    if kind == 2:
        return rng.uniform(0.0, 1.0, rows)
    if kind == 3:  # ~1 % NaN on both sides
        x = rng.normal(0.0, 1.0, rows)
        x[rng.random(rows) < 0.01] = np.nan
        return x
    if kind == 4:  # wider in the current side: drifted
        return rng.lognormal(0.0, 0.8 if current else 0.5, rows)
    if kind == 5:  # a small shift (0.02 std): not drifted by the Wasserstein threshold
        return rng.normal(0.02 if current else 0.0, 1.0, rows)
    if kind == 6:  # three decimals: ~8,000 distinct values, long runs of ties
        return np.round(rng.normal(0.0, 1.0, rows), 3)
    if kind == 7:
        return rng.exponential(1.0, rows)
    if kind == 8:  # a few infinities (not finite: counted as missing)
        x = rng.normal(0.0, 1.0, rows)
        x[rng.random(rows) < 0.001] = np.inf
        return x
    x = np.round(rng.normal(0.3 if current else 0.0, 1.0, rows) * 5) / 5  # ~30 values
    return x


def write_side(folder: Path, side: str, files: int, rows: int, cols: int) -> Path:
    """``folder/side/part-00000.parquet`` ...: one file at a time (seeded by side and file)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = folder / side
    out.mkdir(parents=True)
    for f in range(files):
        rng = np.random.default_rng([1 if side == "current" else 0, f])
        arrays = {f"f{i:02d}": column(rng, i, rows, side == "current") for i in range(cols)}
        table = pa.table(arrays)
        pq.write_table(table, out / f"part-{f:05d}.parquet", row_group_size=min(rows, 1 << 20))
        del arrays, table
    return out
