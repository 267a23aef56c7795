"""Against the anchor: Evidently's own Spark engine vs ours, local[2], on the same Parquet files.

    .venv/bin/python bench/evidently_spark.py --evidently /tmp/evidently-spark-venv/bin/python
    .venv/bin/python bench/evidently_spark.py --evidently ... --cols 4 --rows 100000  # quick

Evidently's venv (outside the project, pyspark of our major version):
    python3 -m venv /tmp/evidently-spark-venv
    /tmp/evidently-spark-venv/bin/pip install evidently "pyspark==4.3.0" "pandas<3"

Writes a reference and a current Parquet file (the data of bench/drift_engines.py: float64,
every 5th column shifted by 0.5 std, ~1 % NaN in every 7th, every 10th rounded to ~30 tied
values), then runs, each as a process of its own, timed from its start to its exit:

* Evidently's legacy Spark engine (``evidently.legacy.spark``, bench/_evidently_spark_worker.py
  in its venv): a DataDriftTable with ``num_stattest`` wasserstein, then one with
  jensenshannon;
* our Spark engine through its public API (``make_engine("spark")``), same session settings,
  every column overridden to the same method; and ``mlops-bot report drift --engine spark
  --no-charts`` (Wasserstein, the default method at this size);
* our numpy engine on the same files (the exact values; its time for scale).

Wall s: from the process's start to its exit. CPU s and peak RSS: the whole process tree
(the Python process, its JVM and Spark's Python workers), sampled from /proc every 0.1 s. The
workers also time their phases (imports, session start, the rest).

Values: for each column Evidently-Spark's score next to the exact value of the same definition
computed here with numpy/scipy on all rows: Wasserstein = scipy's W1 / the reference's
population std (Evidently's pandas definition, and ours), which Evidently's Spark engine
approximates with 1,000-bin histograms of each side; Jensen-Shannon = scipy's distance on
Doane bins over both sides (the bins of Evidently's Spark engine, counted exactly), also shown
with Sturges bins (Evidently's pandas definition). Our JS uses other bins (the reference
deciles), so it is shown but not compared.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # the workers' phases are timed from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import ROOT, load_average  # noqa: E402  (puts the root on sys.path)
from _laps import Laps  # noqa: E402
from drift_engines import write_data  # noqa: E402

METHODS = ("wasserstein", "jensenshannon")
EV_WORKER = Path(__file__).resolve().parent / "_evidently_spark_worker.py"
MLOPS_BOT = Path(sys.executable).parent / "mlops-bot"
SPEED_TARGET = 5.0


@dataclass
class Run:
    """One process to its exit: its wall time, the CPU and peak RSS of its process tree."""

    label: str
    wall: float
    cpu: float
    peak_mib: float
    code: int
    doc: dict = field(default_factory=dict)  # the worker's JSON (phases, per-column values)
    stderr: str = ""


def _tree_stats() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, own CPU s, RSS bytes) of every process visible in /proc."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / tick,
            int(fields[21]) * page,
        )
    return out


def _descendants(root: int, stats: dict[int, tuple[int, float, int]]) -> set[int]:
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, (pp, _, _) in stats.items() if pp == parent and p not in found]
        found.update(kids)
        frontier.extend(kids)
    return found & stats.keys()


def measure(label: str, argv: list[str], env: dict[str, str], out: Path | None) -> Run:
    """Run ``argv`` to its exit; sample its process tree every 0.1 s (CPU: the last value seen
    per process, summed; RSS: the largest sum over the tree)."""
    cpu: dict[int, float] = {}
    peak = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr or []))
    reader.start()
    while proc.poll() is None:
        stats = _tree_stats()
        tree = _descendants(proc.pid, stats)
        for pid in tree:
            cpu[pid] = max(cpu.get(pid, 0.0), stats[pid][1])
        peak = max(peak, sum(stats[p][2] for p in tree))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    reader.join()
    doc = json.loads(out.read_text()) if out is not None and out.exists() else {}
    return Run(label, wall, sum(cpu.values()), peak / 2**20, proc.returncode, doc, "".join(err))


def our_worker(engine: str, method: str, ref: str, cur: str, out: str) -> None:
    """In its own process: our engine on both files through the public API, every column
    compared with ``method``; phases timed from the interpreter's start."""
    laps = Laps(STARTED)
    lap, phases = laps.lap, laps.phases

    import pyarrow.parquet as pq

    from bot.monitoring.drift.engines import DriftOptions, EngineConfig, make_engine
    from bot.monitoring.drift.results import FeatureOverride

    lap("imports")
    if engine == "spark":
        from bot.monitoring.drift.engines.spark_engine import spark_session

        spark_session("local[2]")  # the engine's own session, as the CLI starts it
        lap("session start")
    elif engine == "spark-read":  # where the time goes: the same session, reading alone
        from bot.monitoring.drift.engines.spark_engine import spark_session

        spark = spark_session("local[2]")
        lap("session start")
        rows = sum(spark.read.parquet(p).toArrow().num_rows for p in (ref, cur))
        lap("read both files to Arrow")
        Path(out).write_text(json.dumps({"phases": phases, "rows": rows}))
        return
    columns = pq.read_schema(ref).names
    options = DriftOptions(features={c: FeatureOverride(method=method) for c in columns})
    config = EngineConfig(spark_master="local[2]", spill_dir=Path(out).parent / "spill")
    result = make_engine(engine, config).compute(ref, cur, options)
    lap("compute (reads, statistics)")
    values = {f.name: {"score": f.statistic, "drifted": f.drifted} for f in result.features}
    Path(out).write_text(json.dumps({"phases": phases, "columns": values}))


def run_ours(engine: str, method: str, ref: Path, cur: Path, tmp: Path) -> Run:
    out = tmp / f"ours-{engine}-{method}.json"
    argv = [sys.executable, __file__, "--worker", engine, method, str(ref), str(cur), str(out)]
    label = f"ours: {engine} engine (API), {method}"
    if engine == "spark-read":
        label = "(where it goes) our Spark session, then pyspark reads both files to Arrow"
    return measure(label, argv, _env(sys.executable), out)


def run_cli(ref: Path, cur: Path, tmp: Path) -> Run:
    argv = [
        str(MLOPS_BOT),
        "report",
        "drift",
        "--engine",
        "spark",
        "--reference",
        str(ref),
        "--current",
        str(cur),
        "--no-charts",
        "--out",
        str(tmp / "cli-out"),
        "--force",
    ]
    env = _env(sys.executable) | {
        "MLOPS_BOT_DATA_DIR": str(tmp / "data"),
        "MLOPS_BOT_CONFIG": "",
        "MLOPS_BOT_SPARK_MASTER": "local[2]",
    }
    run = measure("ours: `mlops-bot report drift --engine spark --no-charts`", argv, env, None)
    report = tmp / "cli-out" / "report.json"
    if report.exists():
        doc = json.loads(report.read_text())
        feats = doc.get("drift", doc).get("features", [])
        run.doc = {"columns": {f["name"]: {"score": f["statistic"]} for f in feats}}
    return run


def run_evidently(python: Path, method: str, ref: Path, cur: Path, tmp: Path) -> Run:
    out = tmp / f"evidently-{method}.json"
    argv = [str(python), str(EV_WORKER), str(ref), str(cur), method, str(out)]
    return measure(f"Evidently legacy Spark engine, {method}", argv, _env(str(python)), out)


def _env(python: str) -> dict[str, str]:
    # Spark's Python workers (Evidently's zipWithIndex) must run the driver's interpreter
    return os.environ | {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}


def _clean(path: Path) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        x = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        out[name] = x[np.isfinite(x)]  # Evidently drops null, NaN and ±inf first
    return out


def wasserstein_exact(r: np.ndarray, c: np.ndarray) -> float:
    """Evidently's Wasserstein (normed): scipy W1 / max(population std of reference, 0.001)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(r, c) / max(float(np.std(r)), 0.001))


def js_doane(r: np.ndarray, c: np.ndarray) -> float:
    """Evidently-Spark's JS definition on all rows: Doane's bin count over both sides, equal
    bins from their min to max, bucket = floor((x - min) / step) with the top edge in the last
    bin (evidently/legacy/spark/calculations/{histogram,stattests/utils}.py)."""
    from scipy.spatial.distance import jensenshannon

    both = np.concatenate((c, r))
    size = both.size
    sg1 = np.sqrt(6.0 * (size - 2) / ((size + 1.0) * (size + 3)))
    dmax, dmin, mean, sigma = both.max(), both.min(), both.mean(), both.std()
    g1 = np.mean(((both - mean) / sigma) ** 3)
    width = (dmax - dmin) / (1.0 + np.log2(size) + np.log2(1.0 + np.absolute(g1) / sg1))
    bins = int(np.ceil((dmax - dmin) / width))
    step = (dmax - dmin) / bins

    def percents(x: np.ndarray) -> np.ndarray:
        bucket = np.minimum(np.floor((x - dmin) / step), bins - 1).astype(np.int64)
        return np.bincount(bucket, minlength=bins) / x.size

    return float(jensenshannon(percents(r), percents(c)))


def js_sturges(r: np.ndarray, c: np.ndarray) -> float:
    """Evidently's pandas JS definition: Sturges bins over both sides (more than 20 distinct
    reference values), else the distinct values (evidently/legacy/calculations/stattests)."""
    from scipy.spatial.distance import jensenshannon

    if np.unique(r).size > 20:
        edges = np.histogram_bin_edges(np.concatenate((r, c)), bins="sturges")
        p, q = np.histogram(r, edges)[0] / r.size, np.histogram(c, edges)[0] / c.size
    else:
        keys = np.union1d(r, c)
        p = np.array([np.count_nonzero(r == k) for k in keys]) / r.size
        q = np.array([np.count_nonzero(c == k) for k in keys]) / c.size
    return float(jensenshannon(p, q))


def _rel(x: float | None, exact: float) -> str:
    if x is None:
        return "-"
    return f"{abs(x - exact) / abs(exact):.1e}" if exact else f"{abs(x - exact):.1e} (abs)"


def _score(run: Run | None, name: str) -> float | None:
    if run is None:
        return None
    value = run.doc.get("columns", {}).get(name, {}).get("score")
    return None if value is None else float(value)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6f}"


def value_table(
    method: str,
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    ev: Run | None,
    ours: Run,
    spark: Run | None,
) -> list[str]:
    """Markdown rows: Evidently-Spark's score, the exact value of its definition, the error,
    and ours (numpy engine; the largest difference of our Spark engine's is printed apart)."""
    if method == "wasserstein":
        head = [
            "column",
            "Evidently-Spark W",
            "exact W (scipy / ref std)",
            "rel. error",
            "ours (exact)",
            "ours - exact",
        ]
    else:
        head = [
            "column",
            "Evidently-Spark JS",
            "exact JS, its Doane bins",
            "rel. error",
            "JS, Sturges bins (Evidently pandas)",
            "rel. diff. to Sturges",
            "ours (reference deciles)",
        ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, (r, c) in data.items():
        got, mine = _score(ev, name), _score(ours, name)
        if method == "wasserstein":
            exact = wasserstein_exact(r, c)
            gap = "-" if mine is None else f"{mine - exact:.1e}"
            cells = [_fmt(got), _fmt(exact), _rel(got, exact), _fmt(mine), gap]
        else:
            exact, sturges = js_doane(r, c), js_sturges(r, c)
            cells = [
                _fmt(got),
                _fmt(exact),
                _rel(got, exact),
                _fmt(sturges),
                _rel(got, sturges),
                _fmt(mine),
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if spark is not None:
        diffs = [
            abs(a - b) / max(abs(a), abs(b), 1e-300)
            for n in data
            if (a := _score(spark, n)) is not None and (b := _score(ours, n)) is not None
        ]
        lines.append("")
        lines.append(
            f"our Spark engine vs our numpy engine, largest relative difference: "
            f"{max(diffs, default=float('nan')):.1e}"
        )
    return lines


def timing_table(runs: list[Run], evidently: dict[str, Run]) -> list[str]:
    head = [
        "run",
        "wall s",
        "CPU s (tree)",
        "peak RSS MiB (tree)",
        "phases s",
        "Evidently-Spark ÷ this, wall",
        "÷ this, CPU",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        method = next((m for m in METHODS if m in run.label), "wasserstein")
        ev = None if run.label.startswith("(where") else evidently.get(method)
        phases = ", ".join(f"{k} {v:.1f}" for k, v in run.doc.get("phases", {}).items()) or "-"
        failed = f" (exit {run.code}: {run.stderr.strip().splitlines()[-1:]})" if run.code else ""
        ratio = f"{ev.wall / run.wall:.1f}x" if ev and not run.code and not ev.code else "-"
        cpu_ratio = f"{ev.cpu / run.cpu:.1f}x" if ev and not run.code and not ev.code else "-"
        lines.append(
            f"| {run.label}{failed} | {run.wall:.1f} | {run.cpu:.1f} | "
            f"{run.peak_mib:,.0f} | {phases} | {ratio} | {cpu_ratio} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cols", type=int, default=10)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--evidently", type=Path, help="a Python with evidently and pyspark")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--no-cli", action="store_true", help="skip the `mlops-bot report` run")
    ap.add_argument("--worker", nargs=5, metavar=("ENGINE", "METHOD", "REF", "CUR", "OUT"))
    args = ap.parse_args()
    if args.worker:
        our_worker(*args.worker)
        return
    methods = [m for m in args.methods.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="evidently-spark-") as tmp_name:
        tmp = Path(tmp_name)
        ref, cur = write_data(tmp, args.cols, args.rows)
        mib = (ref.stat().st_size + cur.stat().st_size) / 2**20
        print(
            f"{args.cols} cols x {args.rows:,} rows per side, Parquet {mib:,.0f} MiB together",
            flush=True,
        )
        runs: list[Run] = []
        evidently: dict[str, Run] = {}
        numpy_runs: dict[str, Run] = {}
        spark_runs: dict[str, Run] = {}

        def step(run: Run) -> Run:
            runs.append(run)
            print(
                f"  {run.label}: wall {run.wall:.1f} s, CPU {run.cpu:.1f} s, exit {run.code}",
                flush=True,
            )
            return run

        for method in methods:
            numpy_runs[method] = step(run_ours("numpy", method, ref, cur, tmp))
            spark_runs[method] = step(run_ours("spark", method, ref, cur, tmp))
            if method == "wasserstein" and not args.no_cli:
                step(run_cli(ref, cur, tmp))
                step(run_ours("spark-read", method, ref, cur, tmp))
            if args.evidently:
                evidently[method] = step(run_evidently(args.evidently, method, ref, cur, tmp))
        ref_data, cur_data = _clean(ref), _clean(cur)
    data = {name: (ref_data[name], cur_data[name]) for name in ref_data}
    print()
    for method in methods:
        print(f"### {method}\n")
        print(
            "\n".join(
                value_table(
                    method, data, evidently.get(method), numpy_runs[method], spark_runs[method]
                )
            )
            + "\n"
        )
    print("### end to end\n")
    print("\n".join(timing_table(runs, evidently)))
    load = load_average()
    print(
        f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} UTC, {args.cols} cols x {args.rows:,} "
        f"rows per side, on {os.cpu_count()} CPUs, load average at the end {load}"
    )
    for method, ev in evidently.items():
        ours = spark_runs[method]
        ok = ours.wall * SPEED_TARGET <= ev.wall
        print(
            f"{method}: our Spark path {ev.wall / ours.wall:.1f}x faster end to end than "
            f"Evidently's (target {SPEED_TARGET:g}x: {'met' if ok else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
