"""A monitor's drift report with a cold and a warm profile store (issue 15, item 4).

    .venv/bin/python bench/profiles.py                   # 50+10 cols x 200k, best of 3
    .venv/bin/python bench/profiles.py --rows 20000 --repeat 1

Writes the reference and the current data of bench/drift.py's 50+10 columns (Parquet; the
current also as 7 daily partition files) and a seeded MLflow store with a monitor on `churn`,
then times `make_report` in this process, side by side: without a store (today: both sides
read and profiled), with a cold store (the reference read, profiled and written), a warm one
(the stored profile read), and, on the 7 partitions, a cold store and the next day's window
(6 stored partitions, 1 new). Charts are off (they cost the same in every row). Wall and CPU
seconds are the best of ``--repeat`` runs; each cold run starts from an empty store. The load
average is printed: other jobs share the machine, so compare ratios measured in one run.
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

import _common  # noqa: F401  (puts the repository root on sys.path)

DAYS = 7


def write_data(folder: Path, rows: int) -> tuple[Path, Path, Path]:
    """reference.parquet, current.parquet and current/date=*/part-0.parquet (DAYS + 1 days)."""
    from drift import Size, make_frames

    ref, cur, _ = make_frames(Size("bench", 50, 10, rows))
    ref.to_parquet(folder / "reference.parquet", index=False)
    cur.to_parquet(folder / "current.parquet", index=False)
    per_day = rows // DAYS
    for day in range(DAYS + 1):  # day DAYS is "tomorrow": a slice of the reference
        part = folder / "current" / f"date=2026-11-{day + 1:02d}" / "part-0.parquet"
        part.parent.mkdir(parents=True)
        source = cur if day < DAYS else ref
        source.iloc[(day % DAYS) * per_day : (day % DAYS + 1) * per_day].to_parquet(
            part, index=False
        )
    return folder / "reference.parquet", folder / "current.parquet", folder / "current"


def setup(folder: Path) -> tuple[object, object]:
    """A seeded MLflow store and a policy with a monitor on `churn`."""
    from bot.config import Settings
    from bot.policy.file import load_policy
    from bot.registry.gateway import Registry
    from tests.helpers import seed_mlflow

    uri = seed_mlflow(folder / "mlflow")
    policy = folder / "policy.toml"
    policy.write_text(
        f'[models.churn.monitor]\nreference = "{folder / "reference.parquet"}"\n'
        f'current = "{folder / "current.parquet"}"\nengine = "numpy"\n'
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
    args = parser.parse_args()

    from bot.monitoring.document import DriftDocument, ReportKind
    from bot.monitoring.drift.profile_store import ProfileStore
    from bot.monitoring.report import make_report

    with tempfile.TemporaryDirectory(prefix="bench-profiles-") as tmp:
        folder = Path(tmp)
        _ref, current, parts = write_data(folder, args.rows)
        registry, policy = setup(folder)
        store_dir = folder / "profiles"
        now = datetime(2026, 11, 30, tzinfo=UTC)
        tomorrow = folder / "current" / f"date=2026-11-{DAYS + 1:02d}"
        held = folder / "held"  # tomorrow's file, out of the window until "tomorrow"
        shutil.move(tomorrow, held)
        first_day = folder / "current" / "date=2026-11-01"
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
            )
            assert isinstance(rep.document, DriftDocument)
            return rep.document

        def empty() -> None:
            shutil.rmtree(store_dir, ignore_errors=True)
            stores[:] = [ProfileStore(store_dir)]

        def warm() -> None:
            stores[:] = [ProfileStore(store_dir)]

        def window(moved: bool) -> Callable[[], None]:
            def arrange() -> None:  # today's window, or tomorrow's (the first day out)
                if moved and held.exists():
                    shutil.move(first_day, folder / "gone")
                    shutil.move(held, tomorrow)
                warm()

            return arrange

        report(None, current)  # warm-up: imports, first-call caches
        glob = parts / "date=*" / "part-0.parquet"
        runs: list[tuple[str, float, float, str]] = []
        plain = timed(lambda: report(None, current), args.repeat, lambda: None)
        runs.append(("no store (both sides read)", *plain, "-"))
        cold = timed(lambda: report(stores[0], current), args.repeat, empty)
        runs.append(("cold store (reference profiled, written)", *cold, "computed"))
        hot = timed(lambda: report(stores[0], current), args.repeat, warm)
        runs.append(("warm store (reference profile read)", *hot, "cached"))
        seven = timed(lambda: report(None, glob), args.repeat, lambda: None)
        runs.append((f"{DAYS} partitions, no store", *seven, "-"))
        cold_parts = timed(lambda: report(stores[0], glob), args.repeat, empty)
        runs.append((f"{DAYS} partitions, cold store", *cold_parts, "computed, 7 of 7"))
        warm()
        report(stores[0], glob)  # today's window stored
        next_day = timed(lambda: report(stores[0], glob), 1, window(True))
        written = stores[0].writes["partitions"]
        runs.append((f"{DAYS} partitions, next day", *next_day, f"cached, {written} of {DAYS} new"))

        print(f"\nmonitor drift report, 50+10 cols x {args.rows:,} rows, charts off")
        print("| report | wall s | CPU s | vs no store: wall | CPU | profiles |")
        print("|---|---|---|---|---|---|")
        for label, wall, cpu, note in runs:
            wall0, cpu0 = seven if "partitions" in label else plain
            print(
                f"| {label} | {wall:.2f} | {cpu:.2f} | {wall0 / wall:.2f}x | {cpu0 / cpu:.2f}x "
                f"| {note} |"
            )
        size = sum(p.stat().st_size for p in store_dir.rglob("*.parquet"))
        print(f"\nstore on disk: {size / 2**20:,.0f} MiB ({store_dir.name}/)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
