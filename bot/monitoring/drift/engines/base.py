"""The drift engine interface: which engine computes a report's statistics, and how ``auto``
chooses one.

Every engine returns the same :class:`DriftResult`; the verdicts come from the same code
(``bot.monitoring.drift.verdicts`` and the p-value functions of ``numeric``/``categorical``),
so an engine only decides *where* the exact per-column statistics are computed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from bot.monitoring.datasets import local_paths as local_paths  # re-exported for the engines
from bot.monitoring.drift.results import Correction, DriftResult, FeatureOverride
from bot.monitoring.progress import ColumnsDone

if TYPE_CHECKING:
    import pandas as pd

# Below this many decoded bytes per side (a quarter of the default report worker memory),
# ``auto`` keeps the in-memory engine: it holds the frame plus a sorted float64 copy per column
# being compared, about 2-3x the decoded size.
AUTO_NUMPY_MAX_BYTES = 1024 * 1024 * 1024


class EngineKind(StrEnum):
    """Where drift statistics are computed (``engine`` of a monitor, ``--engine``)."""

    AUTO = "auto"  # numpy when both sides fit comfortably in memory, duckdb otherwise
    NUMPY = "numpy"  # in memory, pandas frames
    DUCKDB = "duckdb"  # in process, out of core, reads files lazily
    SPARK = "spark"  # a Spark session reads the files (MLOPS_BOT_SPARK_MASTER)


class EngineError(Exception):
    """The engine cannot run on this input; the message says why in one line."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB's and Spark's run to many lines)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class DriftOptions:
    """What a drift comparison is asked for, identical for every engine."""

    features: Mapping[str, FeatureOverride] = field(default_factory=dict)
    correction: Correction | Literal["bh", "none"] = Correction.BH
    columns: Sequence[str] | None = None
    exclude: Collection[str] = frozenset()
    now: datetime | None = None  # the report time, for the age of date columns
    freshness: Sequence[str] = ()  # date columns not compared, only checked for freshness
    on_column: ColumnsDone | None = field(default=None, compare=False)  # progress: (done, total)


@dataclass(frozen=True)
class EngineConfig:
    """Settings of the out-of-core engines (MLOPS_BOT_DUCKDB_MEMORY_LIMIT, the data dir,
    MLOPS_BOT_SPARK_MASTER)."""

    memory_limit: str = "2GB"
    spill_dir: Path | None = None
    spark_master: str = "local[2]"  # MLOPS_BOT_SPARK_MASTER


class DriftEngine(Protocol):
    """Computes a :class:`DriftResult` from a reference and a current data set."""

    kind: EngineKind

    def compute(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> DriftResult: ...


class OutOfCoreEngine:
    """An engine that reads sources where they are and also reports both sides' row counts."""

    def compute(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> DriftResult:
        """Compare ``current`` with ``reference``; bad sources raise :class:`EngineError`."""
        return self.compute_with_rows(reference, current, options)[0]

    def compute_with_rows(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> tuple[DriftResult, int, int]:
        """:meth:`compute`, and the row counts of both sides (for the report document)."""
        raise NotImplementedError


def is_local(source: str) -> bool:
    """Whether ``source`` is a local path, glob or folder (not a URL or an MLflow artifact)."""
    return "://" not in source and not source.startswith("mlflow-artifact:")


def estimated_size(source: pd.DataFrame | str | Path) -> tuple[int, int]:
    """About how many bytes ``source`` takes once decoded in memory, and its rows.

    Parquet: from the footers (fixed-width columns by their width, byte arrays by their
    uncompressed pages), no page read; CSV: three times the file size (text to float64 and
    Python strings) and one row per 8 bytes (an upper bound for anything but empty lines);
    a frame: its own memory use.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return int(source.memory_usage(index=False, deep=False).sum()), len(source)
    import pyarrow.parquet as pq

    from bot.monitoring.datasets import _decoded_bytes

    size = rows = 0
    for path in local_paths(source):
        if path.name.lower().endswith((".parquet", ".pq")):
            try:
                meta = pq.read_metadata(path)
                size, rows = size + _decoded_bytes(meta), rows + meta.num_rows
                continue
            except (OSError, ValueError):  # not Parquet after all: count its size
                pass
        on_disk = path.stat().st_size
        size, rows = size + 3 * on_disk, rows + on_disk // 8
    return size, rows


def estimated_bytes(source: pd.DataFrame | str | Path) -> int:
    """:func:`estimated_size`'s bytes."""
    return estimated_size(source)[0]


def choose_engine(
    kind: EngineKind | str,
    reference: pd.DataFrame | str | Path,
    current: pd.DataFrame | str | Path,
    *,
    numpy_max_bytes: int = AUTO_NUMPY_MAX_BYTES,
    side_max_bytes: int | None = None,
    side_max_rows: int | None = None,
) -> EngineKind:
    """Resolve ``auto``: numpy when both sides together fit in ``numpy_max_bytes`` and each
    within the in-memory loader's caps (``side_max_*``, MLOPS_BOT_REPORT_MAX_MB/_ROWS)."""
    kind = EngineKind(kind)
    if kind != EngineKind.AUTO:
        return kind
    if any(isinstance(s, str) and not is_local(s) for s in (reference, current)):
        return EngineKind.NUMPY  # downloaded within the MLOPS_BOT_REPORT_MAX_* caps
    sides = [estimated_size(reference), estimated_size(current)]
    fits = sum(size for size, _ in sides) <= numpy_max_bytes and all(
        (side_max_bytes is None or size <= side_max_bytes)
        and (side_max_rows is None or rows <= side_max_rows)
        for size, rows in sides
    )
    return EngineKind.NUMPY if fits else EngineKind.DUCKDB
