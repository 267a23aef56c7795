"""Where the DuckDB engine's statistics read each side's aggregates from.

``duckdb_engine._compute`` turns per-side aggregates into a :class:`DriftResult`: column types,
usable counts, column profiles (dates' newest/oldest), category counts, and per numeric column
the union table of ``engines.sql``. By default DuckDB computes them from its views of the raw
data (``duckdb_engine.Views``); the Spark engine has Spark compute them instead
(``spark_aggregates.SparkAggregates``) and hands DuckDB only the aggregated rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.monitoring.drift.profiles import ColumnProfile


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

    def union(self, name: str, target: str) -> None:
        """Create the union table ``target`` of one numeric column in the DuckDB connection."""
        ...
