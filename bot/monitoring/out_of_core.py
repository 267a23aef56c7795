"""A drift report's statistics by DuckDB or Spark on local files, read where they are.

With a monitor's profile store (``ProfileContext``), the reference is profiled once per model
version and data digest (``engines.stored_profile``: its sorted value counts, category counts
and a random sample for the charts, kept under ``<data dir>/profiles/reference-tables``), and
every later report reads only the current data and merges it with the stored values: the
out-of-core counterpart of ``bot.monitoring.profiled``. The statistics are the same to 1e-9.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring.drift.engines.base import DriftOptions, EngineConfig, EngineError
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

    def samples(self, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Random rows of both sides for the charts (a picture, not a statistic)."""
        (reference, _, _), (current, _, _) = self.sides
        ref = self.ref_sample
        if ref is None:
            ref = self.engine.sample(reference, names, CHART_SAMPLE_ROWS)
        return ref, self.engine.sample(current, names, CHART_SAMPLE_ROWS)


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
    """The comparison with the stored reference (built and stored when absent); None when the
    reference has no digest or the store cannot be written (the plain comparison then)."""
    key = reference_key(ctx, reference, options)
    if key is None:
        return None
    store = ctx.store
    path = store.tables_path(key)
    stored = store.load_tables(path)
    provenance = Provenance.CACHED
    scratch: Path | None = None
    try:
        if stored is None:
            provenance = Provenance.COMPUTED
            try:
                scratch = store.scratch(ctx.model)
            except OSError as exc:
                log.warning("reference profiles cannot be written (%s): not cached", exc)
                return None
            stored = _profile(engine, reference, scratch / "profile", options, say, charts)
            # a reference rewritten while it was read is not stored under the old digest
            if reference_digest(ctx, reference) == list(key.digest):
                stored = store.keep_tables(stored, path)
                store.prune(ctx.model)
        say(f"comparing {current} with the stored reference ({stored.rows:,} rows)")
        result, cur_rows = engine.compute_with_reference(stored, current, options)
        sample = _sample(stored) if charts else None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    width = (
        (len(stored.meta.types), engine.column_count(current)) if not result.compared else (0, 0)
    )
    sides = ((reference, stored.rows, width[0]), (current, cur_rows, width[1]))
    return OutOfCoreRun(engine, result, sides, ({"profile": provenance}, {}), sample)


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
    try:
        return engine.profile_reference(
            reference,
            folder,
            columns=columns,
            exclude=out,
            sample_rows=CHART_SAMPLE_ROWS if charts else 0,
        )
    except EngineError:
        raise
    except OSError as exc:  # the scratch folder is full or gone: the report says so
        raise EngineError(f"the reference profile could not be written: {exc}") from exc
