"""A drift report's statistics by DuckDB or Spark on local files, read where they are.

With a monitor's profile store (``ProfileContext``), the reference is profiled once per model
version and data digest (``engines.stored_profile``: its sorted value counts, category counts
and a random sample for the charts, kept under ``<data dir>/profiles/reference-tables``), and
every later report reads only the current data and merges it with the stored values. The files
of a current folder or glob (daily partitions) are each profiled once too
(``profiles/partition-tables``), so a weekly window reads only its new day: the out-of-core
counterpart of ``bot.monitoring.profiled``. The statistics are the same to 1e-9.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring.datasets import local_paths
from bot.monitoring.drift.engines.base import DriftOptions, EngineConfig, is_local
from bot.monitoring.drift.profile_store import ProfileKind, ProfileStore, file_digest
from bot.monitoring.profiled import (
    ProfileContext,
    Provenance,
    profiled_columns,
    reference_digest,
    reference_key,
)
from bot.monitoring.progress import Phase, Steps

if TYPE_CHECKING:
    import pandas as pd

    from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
    from bot.monitoring.drift.engines.spark_engine import SparkEngine
    from bot.monitoring.drift.engines.stored_profile import StoredProfile
    from bot.monitoring.drift.results import DriftResult

log = logging.getLogger(__name__)

CHART_SAMPLE_ROWS = 100_000  # rows per side drawn for the charts of an out-of-core report


@dataclass
class OutOfCoreRun:
    """What a report needs of an out-of-core comparison."""

    engine: DuckDBEngine | SparkEngine
    result: DriftResult
    sides: tuple[tuple[str, int, int], tuple[str, int, int]]  # (uri, rows, columns)
    notes: tuple[dict[str, Any], dict[str, Any]] = field(default_factory=lambda: ({}, {}))
    ref_sample: pd.DataFrame | None = None  # kept with a stored reference
    cur_sample: pd.DataFrame | None = None  # kept with stored partitions

    def samples(self, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Random rows of both sides for the charts (a picture, not a statistic)."""
        (reference, _, _), (current, _, _) = self.sides
        ref, cur = self.ref_sample, self.cur_sample
        if ref is None:
            ref = self.engine.sample(reference, names, CHART_SAMPLE_ROWS)
        if cur is None:
            cur = self.engine.sample(current, names, CHART_SAMPLE_ROWS)
        return ref, cur


def engine_for(kind: str, config: EngineConfig) -> tuple[DuckDBEngine | SparkEngine, str]:
    """The engine of ``kind`` (``duckdb`` or ``spark``) and how the progress line names it."""
    from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
    from bot.monitoring.drift.engines.memory import duckdb_share
    from bot.monitoring.drift.engines.spark_engine import SparkEngine

    if kind == "spark":
        engine = SparkEngine(
            master=config.spark_master,
            memory_limit=config.memory_limit,
            temp_directory=config.spill_dir,
        )
        return engine, f"spark, master {config.spark_master}"
    share = duckdb_share(config.memory_limit)  # the process within the limit, not only DuckDB
    what = f"duckdb, memory limit {config.memory_limit} ({share} for DuckDB)"
    return DuckDBEngine(memory_limit=share, temp_directory=config.spill_dir), what


def compare(
    kind: str,
    config: EngineConfig,
    reference: str,
    current: str,
    options: DriftOptions,
    say: Steps,
    *,
    ctx: ProfileContext | None = None,
    charts: bool = True,
) -> OutOfCoreRun:
    """Drift of ``current`` against ``reference`` by the engine of ``kind``; with ``ctx``,
    against the monitor's stored reference (profiled first when absent)."""
    engine, what = engine_for(kind, config)
    say.enter(Phase.COMPARING, f"comparing {current} with {reference} ({what})")
    if ctx is not None:
        run = _with_stored_profile(ctx, engine, reference, current, options, say, charts)
        if run is not None:
            return run
    result, ref_rows, cur_rows = engine.compute_with_rows(reference, current, options)
    width = (
        (engine.column_count(reference), engine.column_count(current))
        if not result.compared
        else (0, 0)
    )
    sides = ((reference, ref_rows, width[0]), (current, cur_rows, width[1]))
    return OutOfCoreRun(engine, result, sides)


def _with_stored_profile(
    ctx: ProfileContext,
    engine: DuckDBEngine | SparkEngine,
    reference: str,
    current: str,
    options: DriftOptions,
    say: Steps,
    charts: bool,
) -> OutOfCoreRun | None:
    """The comparison with the stored reference (built and stored when absent) and, for a
    folder or glob of several files, the files' stored profiles; None when the reference has
    no digest or the store cannot be written (the plain comparison then)."""
    from bot.monitoring.drift.engines.stored_sides import ProfileSide

    key = reference_key(ctx, reference, options)
    if key is None:
        return None
    store = ctx.store

    def build(folder: Path) -> StoredProfile:
        return _profile(engine, reference, folder, options, say, charts)

    def unchanged() -> bool:  # a reference rewritten while it was read is not stored
        return reference_digest(ctx, reference) == list(key.digest)

    with ExitStack() as stack:
        try:
            where = store.tables_path(key)
            stored, computed = stack.enter_context(
                _stored(store, ProfileKind.TABLES, where, build, unchanged)
            )
        except OSError as exc:  # the data dir cannot be written (the engines' read errors
            # are EngineErrors): the plain comparison, as a numpy report goes on
            log.warning("reference profiles cannot be written (%s): not cached", exc)
            return None
        if computed:
            store.prune(ctx.model)
        provenance = Provenance.COMPUTED if computed else Provenance.CACHED
        notes: tuple[dict[str, Any], dict[str, Any]] = ({"profile": provenance}, {})
        try:
            parts = _partitions(store, engine, current, say, charts, stack)
        except OSError as exc:  # the data dir cannot be written: the engine reads them all
            log.warning("partition profiles cannot be written (%s): not cached", exc)
            parts = None
        cur_sample = None
        if parts is not None:
            say(f"comparing {len(parts[0])} stored partition profiles with the stored reference")
            result = engine.driver.compute_from_profiles(stored, parts[0], options)
            side = ProfileSide(parts[0])
            cur_rows, cur_width = side.rows, len(side.types())
            notes[1]["partitions"] = {"files": len(parts[0]), "profiled": parts[1]}
            cur_sample = side.chart_sample(CHART_SAMPLE_ROWS) if charts else None
        else:
            say(f"comparing {current} with the stored reference ({stored.rows:,} rows)")
            result, cur_rows = engine.compute_with_reference(stored, current, options)
            cur_width = engine.column_count(current) if not result.compared else 0
        ref_sample = _sample(stored) if charts else None
    widths = (len(stored.meta.types), cur_width) if not result.compared else (0, 0)
    sides = ((reference, stored.rows, widths[0]), (current, cur_rows, widths[1]))
    return OutOfCoreRun(engine, result, sides, notes, ref_sample, cur_sample)


@contextmanager
def _stored(
    store: ProfileStore,
    kind: ProfileKind,
    path: Path,
    build: Callable[[Path], StoredProfile],
    unchanged: Callable[[], bool],
) -> Iterator[tuple[StoredProfile, bool]]:
    """The stored profile at ``path`` and False, or one built in a scratch folder, moved to
    ``path`` when its data did not change meanwhile, and True (the scratch goes at exit)."""
    found = store.load_tables(kind, path)
    if found is not None:
        yield found, False
        return
    scratch = store.scratch(path)
    try:
        built = build(scratch / "profile")
        if unchanged():
            built = store.keep_tables(kind, built, path)
        yield built, True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _partitions(
    store: ProfileStore,
    engine: DuckDBEngine | SparkEngine,
    current: str,
    say: Steps,
    charts: bool,
    stack: ExitStack,
) -> tuple[list[StoredProfile], int] | None:
    """The stored profiles of the files of a current folder or glob (each file profiled once,
    all its columns) and how many were profiled now; None for a single file, or when the
    files differ in columns or types (the engine reads them together then)."""
    from bot.monitoring.drift.engines.stored_sides import mergeable

    paths = local_paths(current) if is_local(current) else []
    if len(paths) < 2:
        return None
    parts: list[StoredProfile] = []
    computed = 0
    for path in paths:
        digest = file_digest([path])[0]

        def build(folder: Path, path: Path = path) -> StoredProfile:
            say(f"profiling {path} (stored for the next reports)")
            rows = CHART_SAMPLE_ROWS if charts else 0
            return engine.profile_reference(
                path, folder, columns=None, exclude=(), sample_rows=rows
            )

        def unchanged(path: Path = path, digest: str = digest) -> bool:
            return file_digest([path])[0] == digest

        where = store.partition_tables_path(digest)
        stored, new = stack.enter_context(
            _stored(store, ProfileKind.PARTITION_TABLES, where, build, unchanged)
        )
        parts.append(stored)
        computed += new
    if computed:  # a new day: the days that left every monitor's window go
        store.prune_partitions()
    if not mergeable(parts):
        log.info("the files of %s differ in columns or types: read together", current)
        return None
    return parts, computed


def _sample(stored: StoredProfile) -> pd.DataFrame | None:
    try:
        return stored.sample()
    except Exception as exc:  # pyarrow's errors are of several types: the data is sampled
        log.warning("the stored chart sample of %s cannot be read: %s", stored.folder, exc)
        return None


def _profile(
    engine: DuckDBEngine | SparkEngine,
    reference: str,
    folder: Path,
    options: DriftOptions,
    say: Steps,
    charts: bool,
) -> StoredProfile:
    """Profile the reference into ``folder`` (with the charts' sample when they are drawn)."""
    columns, out = profiled_columns(options)
    say(f"profiling the reference {reference} once (stored for the next reports)")
    return engine.profile_reference(
        reference,
        folder,
        columns=columns,
        exclude=out,
        sample_rows=CHART_SAMPLE_ROWS if charts else 0,
    )
