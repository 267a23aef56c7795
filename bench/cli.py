"""Benchmark of `mlops-bot report drift` as a pipeline step: whole processes, end to end.

    .venv/bin/python bench/cli.py                       # every row, Evidently if it installs
    .venv/bin/python bench/cli.py --quick               # start-up and 50+10 x 200k only
    .venv/bin/python bench/cli.py --evidently /tmp/ev/bin/python --readme

Each row is one process run on the same Parquet files (the frames of bench/drift.py: every 5th
column shifted), timed from start to exit by this script: wall seconds, CPU seconds and peak
RSS (the child's own ru_maxrss, from wait4). "RSS / frames" divides the peak by the in-memory
bytes of both frames (`memory_usage(deep=True)`). Rows:

* `mlops-bot report drift` — the CLI as shipped: Parquet read with pyarrow, buffers released;
* the same with `pd.read_parquet` (how it read files before), for the memory comparison;
* Evidently's DataDriftPreset in its own venv and process, end to end (imports, Parquet reads,
  the report as a dict; its HTML is not rendered, while the CLI draws its eleven PNGs);
* start-up: `mlops-bot --help`, and a report on 3 columns x 100 rows (the fixed cost: imports,
  runtime, reading, three small charts), with the heavy modules each one imported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, load_average  # puts the repository root on sys.path
from drift import Size, evidently_python, input_bytes, make_frames

CACHE = ROOT / "bench" / ".cache" / "cli"
README = ROOT / "bench" / "README.md"
SECTION = "## The report CLI"
MLOPS_BOT = Path(sys.executable).parent / "mlops-bot"
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
HEAVY = ("mlflow", "matplotlib", "scipy", "sqlalchemy", "pandas")
# the CLI, with datasets._read_parquet put back to what it was (pd.read_parquet; no prefetch)
BEFORE = (
    "import sys, pandas as pd, bot.monitoring.datasets as d; d._read_parquet = pd.read_parquet; "
    "import bot.monitoring.prefetch as p; p.start = lambda *a, **k: None; "
    "from bot.cli import main; sys.argv[0] = 'mlops-bot'; main()"
)
# which heavy modules a command imported (printed at exit)
IMPORTS = (
    "import atexit, sys; from bot.cli import main; sys.argv[0] = 'mlops-bot'; "
    f"atexit.register(lambda: print('IMPORTED', [m for m in {HEAVY!r} if m in sys.modules], "
    "file=sys.stderr)); main()"
)
# Evidently end to end: imports, both Parquet reads, DataDriftPreset, then (argv[3] == "html")
# its HTML report, the counterpart of the CLI's charts, or its result as a dict (no charts)
EVIDENTLY = r"""
import sys
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
num = [c for c in ref.columns if c.startswith("num_")]
cat = [c for c in ref.columns if c.startswith("cat_")]
dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
snap = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
)
snap.save_html(sys.argv[4]) if sys.argv[3] == "html" else snap.dict()
"""
SIZES = [Size("50+10 cols x 200k", 50, 10, 200_000), Size("100 cols x 1M", 100, 0, 1_000_000)]


@dataclass
class Run:
    wall: float
    cpu: float
    peak: int  # bytes
    code: int
    stderr: str
    first: float | None  # seconds from the start to the first progress line ("… ")


def run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None, *, stop_at_first: bool = False
) -> Run:
    """One process to its exit: wall and CPU seconds (wait4), its peak RSS, and when its first
    progress line came (the start-up before any data is read); `stop_at_first`: kill it
    there (run without GNU time: no peak), so its CPU seconds are those of the start-up
    alone, whatever the machine's load.

    The peak comes from GNU time's own child: a child forked from this process would count
    this process's pages, held at the fork, in its ru_maxrss."""
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv if stop_at_first else [TIME, "-f", "%M", "-o", rss.name, *argv],
            cwd=cwd, env=env or os.environ.copy(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: list[str] = []
        first: list[float] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if not first and line.startswith("… "):
                    first.append(time.perf_counter() - t0)
                    if stop_at_first:
                        proc.kill()
                lines.append(line)

        reader = threading.Thread(target=read)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        reader.join()
        peak = 0 if stop_at_first else int(rss.read().strip().splitlines()[-1]) * 1024
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, peak, code, "".join(lines), next(iter(first), None))


def cli_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLOPS_BOT_DATA_DIR": str(tmp / "data"),
        "MLOPS_BOT_CONFIG": "",
        "MLOPS_BOT_REPORT_MAX_MB": "4096",
    }


def report_argv(tmp: Path, out: str) -> list[str]:
    return ["report", "drift", "--reference", str(tmp / "ref.parquet"), "--current",
            str(tmp / "cur.parquet"), "--out", str(tmp / out), "--force"]  # fmt: skip


def write_files(size: Size, tmp: Path) -> int:
    ref, cur, _ = make_frames(size)
    nbytes = input_bytes(ref, cur)
    ref.to_parquet(tmp / "ref.parquet")
    cur.to_parquet(tmp / "cur.parquet")
    return nbytes


def row(size: str, label: str, r: Run, nbytes: int | None, versus: Run | None) -> dict[str, str]:
    """One table row; `versus`: the Evidently run this one is compared with."""
    failed = r.code not in (0, 3, -9)  # -9: killed at its first progress line, on purpose
    why = f" (exit {r.code}: {r.stderr.strip().splitlines()[-1:]})" if failed else ""
    return {
        "size": size,
        "run": label + why,
        "wall s": f"{r.wall:.2f}",
        "CPU s": f"{r.cpu:.2f}",
        "to first progress s": "-" if r.first is None else f"{r.first:.2f}",
        "peak RSS MiB": f"{r.peak / 2**20:,.0f}",
        "RSS / frames": f"{r.peak / nbytes:.2f}" if nbytes else "-",
        "Evidently ÷ this, wall": f"{versus.wall / r.wall:.1f}x" if versus else "-",
        "Evidently ÷ this, CPU": f"{versus.cpu / r.cpu:.1f}x" if versus else "-",
    }


def startup_rows(tmp: Path) -> list[dict[str, str]]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    frame["c"] = rng.choice(["x", "y"], 100)
    frame.to_parquet(tmp / "ref.parquet")
    frame.assign(a=frame["a"] + 1).to_parquet(tmp / "cur.parquet")
    env = cli_env(tmp)
    rows = []
    for label, argv in [
        ("`mlops-bot --help`", ["--help"]),
        ("`mlops-bot report drift`, 3 cols x 100 rows", report_argv(tmp, "out")),
    ]:
        best = min((run([str(MLOPS_BOT), *argv], tmp, env) for _ in range(3)), key=lambda r: r.wall)
        imports = run([sys.executable, "-c", IMPORTS, *argv], tmp, env).stderr
        heavy = next((ln for ln in imports.splitlines() if ln.startswith("IMPORTED")), "?")
        r = row("start-up", f"{label}, best of 3; imports {heavy[9:]}", best, None, None)
        rows.append(r)
        print("  " + " | ".join(r.values()), flush=True)
    argv = [str(MLOPS_BOT), *report_argv(tmp, "out")]
    best = min((run(argv, tmp, env, stop_at_first=True) for _ in range(3)), key=lambda r: r.cpu)
    label = "`mlops-bot report drift` killed at its first progress line (the fixed cost), best of 3"
    rows.append(row("start-up", label, best, None, None) | {"peak RSS MiB": "-"})
    print("  " + " | ".join(rows[-1].values()), flush=True)
    return rows


def size_rows(size: Size, tmp: Path, evidently: Path | None, why: str) -> list[dict[str, str]]:
    nbytes = write_files(size, tmp)
    env = cli_env(tmp)
    runs = {
        "`mlops-bot report drift`": run([str(MLOPS_BOT), *report_argv(tmp, "out")], tmp, env),
        "same, `pd.read_parquet` (before)": run(
            [sys.executable, "-c", BEFORE, *report_argv(tmp, "out-before")], tmp, env
        ),
    }
    ev: dict[str, Run] = {}
    if evidently is not None and size.rows * (size.numeric + size.categorical) <= 20_000_000:
        files = [str(tmp / "ref.parquet"), str(tmp / "cur.parquet")]
        ev["html"] = run(
            [str(evidently), "-c", EVIDENTLY, *files, "html", str(tmp / "ev.html")], tmp
        )
        ev["dict"] = run([str(evidently), "-c", EVIDENTLY, *files, "dict"], tmp)
    runs["`mlops-bot report drift --no-charts`"] = run(
        [str(MLOPS_BOT), *report_argv(tmp, "out-nocharts"), "--no-charts"], tmp, env
    )
    rows = []
    for label, r in runs.items():
        versus = ev.get("dict" if "no-charts" in label else "html")
        rows.append(row(size.name, label, r, nbytes, versus))
        print("  " + " | ".join(rows[-1].values()), flush=True)
    if ev:
        for kind, label in [("html", "its HTML report"), ("dict", "its result as a dict")]:
            name = f"Evidently, own venv and process, end to end: {label}"
            rows.append(row(size.name, name, ev[kind], nbytes, ev[kind]))
            print("  " + " | ".join(rows[-1].values()), flush=True)
    else:
        skipped = why if evidently is None else "over 20M cells (many minutes, GBs)"
        rows.append({k: "-" for k in rows[0]} | {"size": size.name,
                     "run": f"Evidently: skipped ({skipped})"})  # fmt: skip
        print("  " + " | ".join(rows[-1].values()), flush=True)
    return rows


def markdown(rows: list[dict[str, str]], notes: list[str]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r[h] for h in head) + " |" for r in rows]
    return "\n".join(lines + [""] + notes)


def write_readme(table: str) -> None:
    """Replace the table (from its first line to the end of its notes) in this section."""
    text = README.read_text()
    start = text.find(SECTION)
    if start == -1:
        raise SystemExit(f"{README} has no section {SECTION!r}")
    end = text.find("\n## ", start + len(SECTION))
    end = len(text) if end == -1 else end + 1
    section = text[start:end]
    first = section.find("\n| size |")
    last = section.find("\n\n", section.find("Measured ", max(first, 0)))
    if first == -1 or last == -1:
        section = section.rstrip("\n") + "\n\n" + table + "\n\n"
    else:
        section = section[: first + 1] + table + section[last:]
    README.write_text(text[:start] + section + text[end:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="start-up and the 200k size only")
    ap.add_argument("--evidently", type=Path, help="a Python that has evidently installed")
    ap.add_argument("--no-evidently", action="store_true", help="skip Evidently")
    ap.add_argument("--readme", action="store_true", help="write the table to bench/README.md")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    why = "--no-evidently"
    evidently: Path | None = None
    if not args.no_evidently:
        evidently, why = (args.evidently, "") if args.evidently else evidently_python()
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rows += startup_rows(Path(tmp))
    for size in SIZES[:1] if args.quick else SIZES:
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            rows += size_rows(size, Path(tmp), evidently, why)
    load = load_average()
    notes = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {os.cpu_count()} CPUs, load average "
        f"at the end {load} (other jobs shared the machine: compare CPU s as well as wall s), "
        f"Python {sys.version.split()[0]}, pandas {pd.__version__}.",
    ]
    table = markdown(rows, notes)
    print("\n" + table)
    if args.readme:
        write_readme(table)
        print(f"\nwrote {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
