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
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import load_average  # also puts the repository root on sys.path

MLOPS_BOT = Path(sys.executable).parent / "mlops-bot"


def column(rng: np.random.Generator, i: int, rows: int, current: bool) -> np.ndarray:
    """Column ``f{i}`` of one file: a mix of shapes, some drifted in the current side."""
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
    return np.round(rng.normal(0.3 if current else 0.0, 1.0, rows) * 5) / 5  # ~30 values


def write_side(folder: Path, side: str, files: int, rows: int, cols: int) -> Path:
    """``folder/side/part-00000.parquet`` ...: one file at a time (seeded by side and file)."""
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


def write_data(folder: Path, files: int, rows: int, cols: int) -> float:
    """Both sides under ``folder`` (reused when already there with as many files); seconds."""
    started = time.perf_counter()
    for side in ("reference", "current"):
        present = sorted((folder / side).glob("*.parquet")) if (folder / side).is_dir() else []
        if len(present) == files:
            continue
        shutil.rmtree(folder / side, ignore_errors=True)
        write_side(folder, side, files, rows, cols)
    return time.perf_counter() - started


def disk_bytes(path: Path) -> int:
    """Bytes a folder's files take on disk (allocated blocks: DuckDB's temp files are sparse)."""
    total = 0
    for p in path.rglob("*") if path.is_dir() else []:
        with contextlib.suppress(OSError):  # deleted between the listing and the stat
            total += p.stat().st_blocks * 512
    return total


@dataclass
class Run:
    wall: float
    cpu: float
    peak: int  # bytes
    spill: int  # bytes, the most the spill folder held
    code: int
    drifted: str
    stderr: str


def run_report(folder: Path, limit: str) -> Run:
    """``mlops-bot report drift --engine duckdb`` on both folders, under GNU time (which reports
    the CLI's own peak RSS: a child forked from this process would count this process's pages
    in its ru_maxrss); the spill folder is polled for its size."""
    data, out = folder / "data", folder / "out"
    env = {
        **os.environ,
        "MLOPS_BOT_DATA_DIR": str(data),
        "MLOPS_BOT_CONFIG": "",
        "MLOPS_BOT_DUCKDB_MEMORY_LIMIT": limit,
    }
    argv = [str(MLOPS_BOT), "report", "drift", "--engine", "duckdb", "--out", str(out), "--force"]
    argv += ["--reference", str(folder / "reference"), "--current", str(folder / "current")]
    rss_file = folder / "peak-rss"
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *argv],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    spill, lines = [0], []

    def watch() -> None:
        while proc.poll() is None:
            spill[0] = max(spill[0], disk_bytes(data / "duckdb-spill"))
            time.sleep(1.0)

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            print(f"  [{time.perf_counter() - started:7.1f} s] {line.rstrip()}", flush=True)

    threads = [threading.Thread(target=f, daemon=True) for f in (watch, read)]
    for t in threads:
        t.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if proc.poll() is None:  # Ctrl-C: stop the report before its files are deleted
            proc.kill()
            proc.wait()
    wall = time.perf_counter() - started
    threads[1].join()
    peak = int(rss_file.read_text().split()[-1]) * 1024 if rss_file.exists() else 0
    drifted = ""
    if (out / "report.json").exists():
        doc = json.loads((out / "report.json").read_text())
        drifted = f"{sum(bool(f['drifted']) for f in doc['features'])}/{len(doc['features'])}"
    code = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, spill[0], code, drifted, "".join(lines))


def sample_folders(folder: Path, files: int) -> tuple[Path, Path]:
    """``folder/sample/{reference,current}``: links to the first ``files`` files of each side."""
    sides = []
    for side in ("reference", "current"):
        target = folder / "sample" / side
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for path in sorted((folder / side).glob("*.parquet"))[:files]:
            (target / path.name).symlink_to(path)
        sides.append(target)
    return sides[0], sides[1]


def check_sample(folder: Path, files: int) -> dict[str, dict]:
    """Both engines on the sample, a process each (bench/drift_engines.py's workers)."""
    from drift_engines import run as run_engine

    ref, cur = sample_folders(folder, files)
    return {e: run_engine(e, ref, cur, 2, folder / "sample") for e in ("numpy", "duckdb")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100, help="Parquet files per side")
    ap.add_argument("--rows-per-file", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=10)
    ap.add_argument("--sample-files", type=int, default=10, help="files per side for the check")
    ap.add_argument("--memory-limit", default="2GB", help="MLOPS_BOT_DUCKDB_MEMORY_LIMIT")
    ap.add_argument("--keep", type=Path, help="write (or reuse) the data here and keep it")
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the temporary folder")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill`: clean up as on Ctrl-C
    folder = args.keep or Path(tempfile.mkdtemp(prefix="out-of-core-", dir=args.tmp))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        measure(folder, args)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
            print(f"deleted {folder}")


def measure(folder: Path, args: argparse.Namespace) -> None:
    from drift_engines import max_rel_diff

    from bot.monitoring.drift.engines.memory import parse_size

    rows = args.files * args.rows_per_file
    print(f"{args.cols} cols x {rows:,} rows per side in {args.files} files, under {folder}")
    seconds = write_data(folder, args.files, args.rows_per_file, args.cols)
    on_disk = disk_bytes(folder / "reference") + disk_bytes(folder / "current")
    decoded = 2 * rows * args.cols * 8
    print(f"data: {on_disk / 2**30:.1f} GiB of Parquet ({decoded / 2**30:.1f} GiB of float64)")
    print(f"written in {seconds:.0f} s; load average {_load()}", flush=True)
    full = run_report(folder, args.memory_limit)
    if full.code != 0:
        print(full.stderr[-2000:], file=sys.stderr)
        sys.exit(f"the report failed (exit {full.code})")
    sample_rows = min(args.sample_files, args.files) * args.rows_per_file
    print(f"checking both engines on {sample_rows:,} rows a side; load average {_load()}")
    sample = check_sample(folder, args.sample_files)
    diff, same = max_rel_diff(sample["numpy"], sample["duckdb"])
    print("| rows per side | engine | wall s | CPU s | peak RSS MiB | spill GiB | drifted "
          "| largest rel. diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {rows:,} | duckdb (report CLI, limit {args.memory_limit}) | {full.wall:,.1f} "
        f"| {full.cpu:,.1f} | {full.peak / 2**20:,.0f} | {full.spill / 2**30:.2f} "
        f"| {full.drifted} | |"
    )
    for name, r in sample.items():
        drifted = f"{sum(bool(f['drifted']) for f in r['features'])}/{len(r['features'])}"
        rel = "" if name == "numpy" else f"{diff:.1e}"
        print(
            f"| {sample_rows:,} | {name} | {r['wall']:,.1f} | {r['cpu']:,.1f} | {r['rss']:,.0f} "
            f"| | {drifted} | {rel} |"
        )
    limit = parse_size(args.memory_limit)
    within = limit is None or full.peak <= limit
    print(f"peak RSS {full.peak / 2**20:,.0f} MiB within the limit {args.memory_limit}: {within}")
    print(f"largest relative difference of a statistic: {diff:.1e}; verdicts identical: {same}")
    print(f"load average at the end: {_load()} on {os.cpu_count()} CPUs")
    if not within or not same or not math.isfinite(diff) or diff > 1e-9:
        sys.exit(1)


def _load() -> str:
    return load_average()


if __name__ == "__main__":
    main()
