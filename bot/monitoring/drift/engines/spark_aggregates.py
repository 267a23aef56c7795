"""Each side's aggregates computed by Spark, for the exact statistics on the driver.

Spark runs the distributed part in Spark SQL over the temp views of both sides (the per-side
SQL of ``engines.sql`` in its Spark dialect): one pass per side for the row count, each
column's usable count and the newest/oldest of timestamp columns; per numeric column the
value counts ``(v DOUBLE, rc BIGINT, cc BIGINT)`` of its finite values on each side (one GROUP
BY the value over both sides tagged by side: one shuffle, one job); per text or categorical
column its category counts. Only these aggregates reach the driver (as Arrow), one column at a
time, where DuckDB streams them in order to the same one-pass statistics (``ecdf.SortedScan``)
and computes the reference moments and bin counts from them with the SQL of ``engines.sql``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import Batch, std_of_counts
from bot.monitoring.drift.engines.base import EngineError, one_line
from bot.monitoring.drift.engines.duckdb_views import _dates, _kind, _utc, bare_profile
from bot.monitoring.drift.profiles import ColumnProfile

_VALUE_COUNTS = "drift_value_counts"
_BATCH_ROWS = 1 << 20

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyspark.sql import SparkSession


class SparkAggregates:
    """:class:`~bot.monitoring.drift.engines.aggregates.SideAggregates` computed by ``spark``
    over the temp views ``views`` (side -> view name); ``types`` are each side's column types
    as DuckDB names them; ``con`` is the driver's DuckDB, which receives the aggregates."""

    def __init__(
        self,
        spark: SparkSession,
        con: duckdb.DuckDBPyConnection,
        views: dict[str, str],
        types: dict[str, dict[str, str]],
    ) -> None:
        self.spark, self.con, self.views, self._types = spark, con, views, types
        self._rows: dict[str, int] = {}
        self._extremes: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        self._categories: dict[tuple[str, str], str] = {}  # (side, column) -> DuckDB table
        self._counted: str | None = None  # the column whose value counts are registered

    def types(self, side: str) -> dict[str, str]:
        return self._types[side]

    def rows(self, side: str) -> int:
        """The side's row count (from :meth:`usable_counts` when it ran)."""
        if side not in self._rows:
            self.usable_counts(side, [], self._types[side])
        return self._rows[side]

    def usable_counts(
        self, side: str, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        """One Spark pass: rows, usable counts, and timestamp columns' newest and oldest."""
        cols = [(n, _kind(types[n]) == "numeric") for n in names]
        dates = [n for n in names if _kind(types[n]) == "datetime"]
        query = sql.side_counts(cols, self.views[side], sql.SPARK, dates)
        row = self._collect(query, "count the rows")[0]
        rows = self._rows[side] = int(row[0])
        for i, name in enumerate(dates):
            at = 1 + len(names) + 2 * i
            self._extremes[(side, name)] = (row[at], row[at + 1])
        return {n: (rows, int(c)) for n, c in zip(names, row[1 : 1 + len(names)], strict=True)}

    def profile(
        self, side: str, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        """As ``duckdb_engine._profile``; a text column's ISO date check runs in DuckDB on its
        category counts (every distinct value parses iff every value does)."""
        prof = bare_profile(name, sql_type, counts)
        usable = prof.n
        if prof.kind == "datetime" and usable:
            newest, oldest = self._extremes[(side, name)]
            assert newest is not None and oldest is not None
            prof.newest, prof.oldest = _utc(newest), _utc(oldest)
        elif sql_type == "VARCHAR" and usable:
            _dates(self.con, self._category_table(side, name), prof, text=True)
        return prof

    def category_counts(self, name: str, side: str) -> dict[Any, int]:
        """Category -> count, ordered by DuckDB as ``sql.category_counts`` orders them."""
        table = self._category_table(side, name)
        c = sql.ident(name)
        rows = self.con.execute(f"SELECT {c}, n FROM {table} ORDER BY 1").fetchall()
        return {key: int(n) for key, n in rows}

    def sorted_counts(self, name: str, n: int, m: int) -> Iterator[Batch]:
        """The column's value counts in ascending order, streamed from the driver's DuckDB."""
        reader = self.con.sql(f"SELECT v, rc, cc FROM {self._value_counts(name)} ORDER BY v")
        for batch in reader.to_arrow_reader(_BATCH_ROWS):
            yield tuple(batch.column(i).to_numpy() for i in range(3))  # type: ignore[misc]

    def reference_std(self, name: str, n: int, scale: float) -> float:
        if not (scale > 0 and math.isfinite(scale)):
            return 0.0 if scale == 0 else math.nan  # no Spark job for it
        return std_of_counts(self.con, self._value_counts(name), n, scale)

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        query = sql.bin_counts(self._value_counts(name), edges.size)
        return [tuple(r) for r in self.con.execute(query, edges.tolist()).fetchall()]

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.con.execute(sql.union_values(self._value_counts(name))).fetchall()
        v = np.array([r[0] for r in rows], dtype=np.float64)
        rc = np.array([r[1] for r in rows], dtype=np.int64)
        cc = np.array([r[2] for r in rows], dtype=np.int64)
        return np.repeat(v, rc), np.repeat(v, cc)

    def _value_counts(self, name: str) -> str:
        """The DuckDB table (v, rc, cc) of one numeric column's value counts on both sides,
        from one Spark job; the driver holds one column's at a time."""
        if self._counted != name:
            query = sql.value_counts(name, self.views["ref"], self.views["cur"], sql.SPARK)
            table = self._arrow(query, f"count the values of `{name}`")
            if self._counted is not None:
                self.con.unregister(_VALUE_COUNTS)
            self._counted = None
            self._register(_VALUE_COUNTS, table)
            self._counted = name
        return _VALUE_COUNTS

    def _category_table(self, side: str, name: str) -> str:
        """A DuckDB table (``name``, n) of the column's category counts, fetched once; those
        of the other columns are dropped (the driver holds one column's at a time)."""
        for key in [k for k in self._categories if k[1] != name]:
            self.con.unregister(self._categories.pop(key))
        key = (side, name)
        if key not in self._categories:
            query = sql.category_counts_unordered(name, self.views[side], sql.SPARK)
            counts = self._arrow(query, f"count the categories of `{name}`")
            table = f"drift_{side}_categories"
            self._register(table, counts.rename_columns([name, "n"]))
            self._categories[key] = table
        return self._categories[key]

    def _register(self, name: str, table: pa.Table) -> None:
        complete = getattr(self.con, "complete", None)
        if complete is not None:  # DuckDB 2 refuses while a fetchone() result is pending
            complete()
        self.con.register(name, table)

    def _arrow(self, query: str, what: str) -> pa.Table:
        try:
            return self.spark.sql(query).toArrow()
        except Exception as exc:  # Py4J or Connect errors of many kinds: one line
            raise EngineError(f"Spark could not {what}: {one_line(exc)}") from exc

    def _collect(self, query: str, what: str) -> list[Any]:
        try:
            return list(self.spark.sql(query).collect())
        except Exception as exc:
            raise EngineError(f"Spark could not {what}: {one_line(exc)}") from exc
