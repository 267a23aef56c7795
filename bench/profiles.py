"""A monitor's drift report with a cold and a warm profile store (issue 15, item 4).

    .venv/bin/python bench/profiles.py                   # 50+10 cols x 200k, best of 3
    .venv/bin/python bench/profiles.py --rows 20000 --repeat 1
    .venv/bin/python bench/profiles.py --engine duckdb --rows 2000000 --repeat 1 --formats parquet

Writes the reference and the current data of bench/drift.py's 50+10 columns (Parquet; the
current also as 7 daily partition files, in Parquet and in CSV) and a seeded MLflow store with
a monitor on `churn`, then times `make_report` in this process, side by side: without a store
(both sides read and profiled, as before), with a cold store (the reference read, profiled and
written), a warm one (the stored profile read); then, per partition format, no store, a cold
store and the next day's window (the first day out, a new one in: 6 stored partitions, 1 new,
a single run). Charts are off (they cost the same in every row). Wall and CPU seconds are the
best of ``--repeat`` runs; each cold run starts from an empty store. The load average is
printed: other jobs share the machine, so compare ratios measured in one run.

``--engine duckdb`` (or ``spark``) runs the monitor on that engine: its stored profiles are
folders of value and category counts (``engines.stored_profile``), and a warm report reads no
reference and, over stored partitions, no data at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from _common import load_average  # also puts the repository root on sys.path

DAYS = 7


def write_data(folder: Path, rows: int, formats: list[str]) -> tuple[Path, Path]:
    """reference.parquet, current.parquet, and the current's DAYS daily partitions plus
    tomorrow's (a slice of the reference), as Parquet in ``parquet/`` and CSV in ``csv/``."""
    from drift import Size, make_frames

    ref, cur, _ = make_frames(Size("bench", 50, 10, rows))
    ref.to_parquet(folder / "reference.parquet", index=False)
    cur.to_parquet(folder / "current.parquet", index=False)
    per_day = rows // DAYS
    for day in range(DAYS + 1):  # day DAYS is "tomorrow"
        source = cur if day < DAYS else ref
        part = source.iloc[(day % DAYS) * per_day : (day % DAYS + 1) * per_day]
        for fmt in formats:
            path = folder / fmt / f"date=2026-11-{day + 1:02d}" / f"part-0.{fmt}"
            path.parent.mkdir(parents=True)
            part.to_parquet(path, index=False) if fmt == "parquet" else part.to_csv(
                path, index=False
            )
    return folder / "reference.parquet", folder / "current.parquet"


class Window:
    """A folder of daily partitions whose window moves one day on (`next_day`)."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.root = folder / fmt
        self.glob = self.root / "date=*" / f"part-0.{fmt}"
        self.held = folder / f"held-{fmt}"  # tomorrow's file, out of the window until then
        shutil.move(self.root / f"date=2026-11-{DAYS + 1:02d}", self.held)

    def next_day(self) -> None:
        """The first day leaves the window, tomorrow's enters."""
        shutil.move(self.root / "date=2026-11-01", self.held.with_name(self.held.name + "-gone"))
        shutil.move(self.held, self.root / f"date=2026-11-{DAYS + 1:02d}")


def setup(folder: Path, engine: str) -> tuple[object, object]:
    """A seeded MLflow store and a policy with a monitor on `churn`."""
    from bot.config import Settings
    from bot.policy.file import load_policy
    from bot.registry.gateway import Registry
    from tests.helpers import seed_mlflow

    uri = seed_mlflow(folder / "mlflow")
    policy = folder / "policy.toml"
    policy.write_text(
        f'[models.churn.monitor]\nreference = "{folder / "reference.parquet"}"\n'
        f'current = "{folder / "current.parquet"}"\nengine = "{engine}"\n'
    )
    settings = Settings(_env_file=None, mlflow_tracking_uri=uri, mlops_bot_config=policy)  # type: ignore[call-arg]
    return Registry(uri), load_policy(settings)


def timed(fn: Callable[[], object], repeat: int, before: Callable[[], None]) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs, ``before`` untimed ahead of each."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        before()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=["numpy", "duckdb", "spark"], default="numpy")
    parser.add_argument("--formats", default="parquet,csv", help="of the daily partitions")
    args = parser.parse_args()

    from bot.monitoring.document import DriftDocument, ReportKind
    from bot.monitoring.drift.engines import EngineConfig
    from bot.monitoring.drift.profile_store import ProfileStore
    from bot.monitoring.report import make_report

    with tempfile.TemporaryDirectory(prefix="bench-profiles-") as tmp:
        folder = Path(tmp)
        _ref, current = write_data(folder, args.rows, args.formats.split(","))
        windows = {fmt: Window(folder, fmt) for fmt in args.formats.split(",")}
        registry, policy = setup(folder, args.engine)
        kind = "partitions" if args.engine == "numpy" else "partition-tables"
        store_dir = folder / "profiles"
        now = datetime(2026, 11, 30, tzinfo=UTC)
        stores: list[ProfileStore] = []

        def report(store: ProfileStore | None, cur: Path) -> DriftDocument:
            rep = make_report(
                ReportKind.DRIFT,
                registry,  # type: ignore[arg-type]
                policy,  # type: ignore[arg-type]
                model="churn",
                current=str(cur),
                charts=False,
                now=now,
                profiles=store,
                engine_config=EngineConfig(spill_dir=folder / "spill"),  # as the bot's data dir
            )
            assert isinstance(rep.document, DriftDocument)
            return rep.document

        def empty() -> None:
            shutil.rmtree(store_dir, ignore_errors=True)
            stores[:] = [ProfileStore(store_dir)]

        def warm() -> None:
            stores[:] = [ProfileStore(store_dir)]

        def nothing() -> None:
            pass

        report(None, current)  # warm-up: imports, first-call caches
        runs: list[tuple[str, float, float, str, tuple[float, float]]] = []
        plain = timed(lambda: report(None, current), args.repeat, nothing)
        runs.append(("no store (both sides read)", *plain, "-", plain))
        cold = timed(lambda: report(stores[0], current), args.repeat, empty)
        runs.append(("cold store (reference profiled, written)", *cold, "computed", plain))
        hot = timed(lambda: report(stores[0], current), args.repeat, warm)
        runs.append(("warm store (reference profile read)", *hot, "cached", plain))
        for fmt, window in windows.items():
            what = f"{DAYS} {fmt} partitions"
            glob = window.glob
            base = timed(lambda g=glob: report(None, g), args.repeat, nothing)
            runs.append((f"{what}, no store", *base, "-", base))
            cold_parts = timed(lambda g=glob: report(stores[0], g), args.repeat, empty)
            runs.append((f"{what}, cold store", *cold_parts, f"computed, {DAYS} of {DAYS}", base))

            def tomorrow(window: Window = window) -> None:
                window.next_day()
                warm()

            next_day = timed(lambda g=glob: report(stores[0], g), 1, tomorrow)
            new = stores[0].writes[kind]
            runs.append((f"{what}, next day", *next_day, f"cached, {new} of {DAYS} new", base))

        print(
            f"\nmonitor drift report, 50+10 cols x {args.rows:,} rows, {args.engine} engine,"
            " charts off"
        )
        print("| report | wall s | CPU s | vs no store: wall | CPU | profiles |")
        print("|---|---|---|---|---|---|")
        for label, wall, cpu, note, (wall0, cpu0) in runs:
            print(
                f"| {label} | {wall:.2f} | {cpu:.2f} | {wall0 / wall:.2f}x | {cpu0 / cpu:.2f}x "
                f"| {note} |"
            )
        size = sum(p.stat().st_size for p in store_dir.rglob("*.parquet"))
        print(f"\nstore on disk at the end: {size / 2**20:,.0f} MiB ({store_dir.name}/)")
    load = load_average()
    print(f"load average at the end: {load} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
