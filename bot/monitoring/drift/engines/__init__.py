"""Drift engines: where the exact per-column statistics are computed (issue 15).

* ``base``: EngineKind, DriftOptions, the DriftEngine protocol, ``auto``'s choice;
* ``numpy_engine``: the in-memory engine of ``bot.monitoring.drift.engine``;
* ``sql``: the SQL text of the statistics (shared by SQL engines);
* ``stats``: from exact statistics to the numpy engine's FeatureDrift and verdicts;
* ``aggregates``: the per-side aggregates the SQL statistics start from (the seam between
  where they are computed and the exact combination);
* ``duckdb_engine``: DuckDB in process, out of core;
* ``spark_engine``, ``spark_aggregates``: a Spark session reads the data and aggregates each
  side; the driver combines the aggregates with the same SQL, exactly;
* ``stored_profile``, ``stored_sides``: a side profiled once into a folder by either engine
  (a monitor's reference, a daily file), and the comparison from such folders.
"""

from __future__ import annotations

from bot.monitoring.drift.engines.base import (
    DriftEngine,
    DriftOptions,
    EngineConfig,
    EngineError,
    EngineKind,
    choose_engine,
)

__all__ = [
    "DriftEngine",
    "DriftOptions",
    "EngineConfig",
    "EngineError",
    "EngineKind",
    "choose_engine",
    "make_engine",
]


def make_engine(kind: EngineKind | str, config: EngineConfig | None = None) -> DriftEngine:
    """The engine of ``kind`` (resolve ``auto`` with :func:`choose_engine` first)."""
    kind = EngineKind(kind)
    if kind == EngineKind.NUMPY:
        from bot.monitoring.drift.engines.numpy_engine import NumpyEngine

        return NumpyEngine()
    if kind == EngineKind.DUCKDB:
        from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
        from bot.monitoring.drift.engines.memory import duckdb_share

        config = config or EngineConfig()
        share = duckdb_share(
            config.memory_limit
        )  # the process within MLOPS_BOT_DUCKDB_MEMORY_LIMIT
        return DuckDBEngine(memory_limit=share, temp_directory=config.spill_dir)
    if kind == EngineKind.SPARK:
        from bot.monitoring.drift.engines.spark_engine import SparkEngine

        config = config or EngineConfig()
        return SparkEngine(
            master=config.spark_master,
            memory_limit=config.memory_limit,
            temp_directory=config.spill_dir,
        )
    raise EngineError(f"the {kind} engine is not available; use numpy, duckdb or spark")
