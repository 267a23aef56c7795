"""Per-cell cost of the drift engines, side by side: numpy (in memory), DuckDB (out of core),
Spark (local[2]).

    .venv/bin/python bench/drift_engines.py                  # 20 numeric columns x 1M rows
    .venv/bin/python bench/drift_engines.py --cols 10 --rows 200000 --threads 2
    .venv/bin/python bench/drift_engines.py --cols 10 --engines numpy,spark

Writes a reference and a current Parquet file (float64, every 5th column shifted, ~1 % NaN
in every 7th, one column of 30 tied values) to a temporary folder, then runs each engine
in a process of its own on the same files: the numpy engine reads them with pandas, DuckDB
reads them itself. Wall and CPU time include reading the files; peak RSS is the process's
high-water mark (ru_maxrss), interpreter and imports included. The statistics of both runs
are compared (largest relative difference) and their verdicts must be identical. The load
average is printed: other jobs share the machine, so compare CPU s as well as wall s.
Spark's session is started before the clock (its start-up is printed apart); its CPU s and
peak RSS add those of its JVM (from /proc) to the Python process's (printed apart as well).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, load_average  # puts the repository root on sys.path


def write_data(folder: Path, cols: int, rows: int) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    paths = []
    for side, shift in (("reference", 0.0), ("current", 0.5)):
        data = {}
        for i in range(cols):
            x = rng.normal(shift if i % 5 == 0 else 0.0, 1.0, rows)
            if i % 7 == 3:
                x[rng.random(rows) < 0.01] = np.nan
            if i % 10 == 9:
                x = np.round(x * 5) / 5  # about 30 distinct values: long runs of ties
            data[f"f{i:03d}"] = x
        path = folder / f"{side}.parquet"
        pd.DataFrame(data).to_parquet(path, index=False, row_group_size=256 * 1024)
        paths.append(path)
    return paths[0], paths[1]


def worker(engine: str, ref: str, cur: str, threads: int, out: str) -> None:
    """Runs in its own process: one engine, timed, its result written as JSON."""
    import duckdb  # noqa: F401  (imported before the clock starts, as pandas is)

    from bot.monitoring.drift.engines import DriftOptions, make_engine
    from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine

    jvm_pid, startup = None, 0.0
    if engine == "spark":
        from bot.monitoring.drift.engines.spark_engine import spark_session

        t0 = time.perf_counter()
        session = spark_session("local[2]", driver_memory="4g")
        startup = time.perf_counter() - t0
        jvm_pid = session.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
        jvm_cpu = _proc_cpu(jvm_pid)
    started, cpu = time.perf_counter(), time.process_time()
    if engine == "spark":
        from bot.monitoring.drift.engines.spark_engine import SparkEngine

        spill = Path(out).parent / "spill"
        result = SparkEngine(master="local[2]", temp_directory=spill).compute(
            ref, cur, DriftOptions()
        )
    elif engine == "duckdb":
        spill = Path(out).parent / "spill"
        result = DuckDBEngine(memory_limit="2GB", temp_directory=spill, threads=threads).compute(
            ref, cur, DriftOptions()
        )
    else:
        result = make_engine("numpy").compute(ref, cur, DriftOptions())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss = rss_py = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if jvm_pid is not None:
        cpu += _proc_cpu(jvm_pid) - jvm_cpu
        rss += _proc_peak_rss_mib(jvm_pid)
    doc = {"wall": wall, "cpu": cpu, "rss": rss, "rss_py": rss_py, "startup": startup}
    doc |= result.to_dict()
    Path(out).write_text(json.dumps(doc))


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (a child JVM is not in our rusage until reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(engine: str, ref: Path, cur: Path, threads: int, tmp: Path) -> dict:
    out = tmp / f"{engine}.json"
    cmd = [sys.executable, __file__, "--worker", engine, str(ref), str(cur), str(out)]
    subprocess.run([*cmd, "--threads", str(threads)], check=True, cwd=ROOT)
    return json.loads(out.read_text())


def max_rel_diff(a: dict, b: dict) -> tuple[float, bool]:
    worst, same = 0.0, True
    for fa, fb in zip(a["features"], b["features"], strict=True):
        same &= (fa["method"], fa["drifted"]) == (fb["method"], fb["drifted"])
        for key in ("statistic", "p_value", "psi"):
            x, y = fa[key], fb[key]
            if x is None or y is None:
                same &= x is y
                continue
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300) if x != y else 0.0)
    return worst, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    ap.add_argument("--engines", default="numpy,duckdb", help="comma-separated: numpy,duckdb,spark")
    ap.add_argument("--worker", nargs=4, metavar=("ENGINE", "REF", "CUR", "OUT"))
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker[:3], args.threads, args.worker[3])
        return
    with tempfile.TemporaryDirectory(prefix="drift-engines-") as tmp_name:
        tmp = Path(tmp_name)
        ref, cur = write_data(tmp, args.cols, args.rows)
        mib = (ref.stat().st_size + cur.stat().st_size) / 2**20
        print(f"{args.cols} cols x {args.rows:,} rows per side, Parquet {mib:,.0f} MiB together")
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        results = {e: run(e, ref, cur, args.threads, tmp) for e in engines}
    cells = 2 * args.cols * args.rows / 1e6
    base = results[engines[0]]
    diffs = [max_rel_diff(base, r) for r in list(results.values())[1:]]
    diff = max((d for d, _ in diffs), default=0.0)
    same = all(s for _, s in diffs)
    print("| engine | wall s | CPU s | wall s / M cells | peak RSS MiB | drifted |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        drifted = sum(bool(f["drifted"]) for f in r["features"])
        print(
            f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['wall'] / cells:.3f} "
            f"| {r['rss']:,.0f} | {drifted}/{len(r['features'])} |"
        )
        if r.get("startup"):
            print(
                f"({name}: session start-up {r['startup']:.1f} s, not in wall s; peak RSS of "
                f"the Python process alone {r['rss_py']:,.0f} MiB, the JVM's the rest)"
            )
    print(f"largest relative difference of a statistic: {diff:.1e}; verdicts identical: {same}")
    load = load_average()
    print(f"load average at the end: {load} on {os.cpu_count()} CPUs")
    if not same or not math.isfinite(diff) or diff > 1e-9:
        sys.exit(1)


if __name__ == "__main__":
    main()
