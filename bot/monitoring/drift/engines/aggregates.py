"""Where the DuckDB engine's statistics read each side's aggregates from.

``duckdb_engine._compute`` turns per-side aggregates into a :class:`DriftResult`: column types,
usable counts, column profiles (dates' newest/oldest), category counts, and per numeric column
the sorted union of both sides (streamed), the reference moments and the bin counts. By
default DuckDB computes them from its views of the raw data (``duckdb_views.Views``); the
Spark engine has Spark compute them instead (``spark_aggregates.SparkAggregates``) and hands
DuckDB only the aggregated rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.profiles import ColumnProfile

if TYPE_CHECKING:
    import duckdb

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, reference counts, current counts


class SideAggregates(Protocol):
    """The aggregates of both sides; ``side`` is ``"ref"`` or ``"cur"``."""

    def types(self, side: str) -> dict[str, str]:
        """Column -> its DuckDB type name."""
        ...

    def usable_counts(
        self, side: str, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        """Column -> (rows, usable values): finite for numeric columns, non-null otherwise."""
        ...

    def profile(
        self, side: str, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        """The column's profile without values: dtype, kind, missing, newest/oldest."""
        ...

    def category_counts(self, name: str, side: str) -> dict[Any, int]:
        """Category -> count of the non-null values, in DuckDB's order of the categories."""
        ...

    def sorted_counts(self, name: str, n: int, m: int) -> Iterator[Batch]:
        """One numeric column's finite values of both sides in ascending order, in batches of
        (value, reference count, current count); a value may repeat across rows and batches."""
        ...

    def reference_std(self, name: str, n: int, scale: float) -> float:
        """The reference's population std, its values divided by ``scale`` first (two passes,
        as ``profiles._add_reference_stats``)."""
        ...

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        """Rows (bin, reference count, current count) of the bins (-inf, e0), [e0, e1), …,
        [e_last, +inf) that hold a value."""
        ...

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Both sides' sorted finite values (small columns only: scipy's exact KS)."""
        ...


def std_of_counts(con: duckdb.DuckDBPyConnection, table: str, n: int, scale: float) -> float:
    """The population std of the reference values of a DuckDB ``table`` (v, rc, cc) of value
    counts: scaled by ``scale`` first and in two passes of exactly rounded sums, as
    ``profiles._add_reference_stats`` computes it from the values."""
    if not (scale > 0 and math.isfinite(scale)):
        return 0.0 if scale == 0 else math.nan
    total = con.execute(sql.reference_scaled_sum(table), [scale]).fetchall()[0][0]
    mean = float(total) / n
    params = [scale, mean, scale, mean]
    sq = con.execute(sql.reference_sq_dev(table), params).fetchall()[0][0]
    return scale * math.sqrt(float(sq) / n)
