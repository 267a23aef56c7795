"""The DuckDB engine's reads of its own views ``ref`` and ``cur`` (the raw data): column
types and profiles, category counts, and per numeric column the sorted union streamed in
batches, the reference moments and the PSI bin counts (:class:`Views`, the default
:class:`~bot.monitoring.drift.engines.aggregates.SideAggregates`). The Spark engine gets the
same aggregates from Spark instead (``spark_aggregates``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.profiles import _ISO_DATE, ColumnProfile, _Kind

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$"
)
_INTEGER_DTYPES = {
    "TINYINT": "int8",
    "SMALLINT": "int16",
    "INTEGER": "int32",
    "BIGINT": "int64",
    "UTINYINT": "uint8",
    "USMALLINT": "uint16",
    "UINTEGER": "uint32",
    "UBIGINT": "uint64",
}
_DTYPES = {
    "DOUBLE": "float64",
    "FLOAT": "float32",
    "VARCHAR": "str",
    "DATE": "object",
    '"NULL"': "object",
    "TIMESTAMP": "datetime64[us]",
    "TIMESTAMP_NS": "datetime64[ns]",
    "TIMESTAMP_MS": "datetime64[ms]",
    "TIMESTAMP_S": "datetime64[s]",
    "TIMESTAMP WITH TIME ZONE": "datetime64[us, UTC]",
}
_BATCH_ROWS = 1 << 20  # rows of the sorted union per batch handed to Python (~10 MB)
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, reference counts, current counts


class Views:
    """The aggregates of the views ``ref`` and ``cur`` of ``con`` (DuckDB reads the data)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def types(self, side: str) -> dict[str, str]:
        return _types(self.con, side)

    def usable_counts(
        self, side: str, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        return _usable_counts(self.con, side, names, types)

    def profile(
        self, side: str, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        return _profile(self.con, side, name, sql_type, counts)

    def category_counts(self, name: str, side: str) -> dict[Any, int]:
        return _category_counts(self.con, name, side)

    def sorted_counts(self, name: str, n: int, m: int) -> Iterator[Batch]:
        return _sorted_counts(self.con, name, n, m)

    def reference_std(self, name: str, n: int, scale: float) -> float:
        return _reference_std(self.con, name, n, scale)

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        query = sql.side_bin_counts(name, "ref", "cur", edges.size)
        return [tuple(r) for r in self.con.execute(query, edges.tolist()).fetchall()]

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return _samples(self.con, name)


def _types(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in con.execute(f"DESCRIBE {view}").fetchall():
        out.setdefault(str(row[0]), str(row[1]))
    return out


def _kind(sql_type: str) -> _Kind | None:
    if _NUMERIC.match(sql_type):
        return "numeric"
    if sql_type.startswith("TIMESTAMP"):
        return "datetime"
    if sql_type in ("BOOLEAN", "VARCHAR", "DATE") or sql_type.startswith("ENUM("):
        return "categorical"  # pandas reads a Parquet date as objects: compared as categories
    if sql_type == '"NULL"':
        return None  # an all-null column of unknown type, as pandas' object
    return "unsupported"


def _usable_counts(
    con: duckdb.DuckDBPyConnection, view: str, names: Sequence[str], types: dict[str, str]
) -> dict[str, tuple[int, int]]:
    """Column -> (rows, usable values): finite for numeric columns, non-null otherwise."""
    cols = [(n, _kind(types[n]) == "numeric") for n in names]
    row = con.execute(sql.side_counts(cols, view)).fetchone()
    assert row is not None
    rows = int(row[0])
    return {n: (rows, int(c)) for n, c in zip(names, row[1:], strict=True)}


def bare_profile(name: str, sql_type: str, counts: dict[str, tuple[int, int]]) -> ColumnProfile:
    """A column's profile from its SQL type and (rows, usable values): dtype as pandas reads
    it, kind, missing; no values (the engines compute statistics, not arrays)."""
    rows, usable = counts[name]
    missing = rows - usable
    return ColumnProfile(
        name=name,
        dtype=_pandas_dtype(sql_type, missing),
        kind=_kind(sql_type),
        rows=rows,
        missing=missing,
    )


def _profile(
    con: duckdb.DuckDBPyConnection,
    view: str,
    name: str,
    sql_type: str,
    counts: dict[str, tuple[int, int]],
) -> ColumnProfile:
    prof = bare_profile(name, sql_type, counts)
    if prof.kind == "datetime" or (sql_type == "VARCHAR" and prof.n):
        _dates(con, view, prof, text=sql_type == "VARCHAR")
    return prof


def _dates(con: duckdb.DuckDBPyConnection, view: str, prof: ColumnProfile, *, text: bool) -> None:
    """Newest and oldest value (UTC) of a date column; a text column becomes one when every
    value is an ISO 8601 date (``profiles._as_dates``, which decides on a sample first and
    then needs every value to parse: the same columns, unless the sample misleads it)."""
    params = [_ISO_DATE.pattern] if text else []
    row = con.execute(sql.newest_oldest(prof.name, view, text), params).fetchone()
    assert row is not None
    usable, newest, oldest, dates = row
    if text and (not usable or dates != usable):
        return
    prof.kind = "datetime"
    if usable:
        prof.newest, prof.oldest = _utc(newest), _utc(oldest)


def _utc(micros: int) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(int(micros), unit="us", tz="UTC")


def _pandas_dtype(sql_type: str, missing: int) -> str:
    """The dtype pandas gives the column when it reads the same Parquet file, so a report's
    ``changed_types`` read the same whichever engine ran."""
    if sql_type in _INTEGER_DTYPES:
        return "float64" if missing else _INTEGER_DTYPES[sql_type]
    if sql_type == "BOOLEAN":
        return "object" if missing else "bool"
    return _DTYPES.get(sql_type, sql_type.lower())


def _category_counts(con: duckdb.DuckDBPyConnection, name: str, view: str) -> dict[Any, int]:
    rows = con.execute(sql.category_counts(name, view)).fetchall()
    return {key: int(count) for key, count in rows}


def _sorted_counts(
    con: duckdb.DuckDBPyConnection, name: str, n: int, m: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The union of both sides' finite values in ascending order, in batches of (value,
    reference count, current count); DuckDB spills the sort. Columns with many ties are
    grouped first, others streamed as rows (counts 0/1)."""
    # fetchall: a result left open (fetchone) blocks con.sql on the same connection
    (estimate,) = con.execute(sql.distinct_estimate(name, "ref", "cur")).fetchall()[0]
    grouped = int(estimate) <= (n + m) // 2
    reader = con.sql(sql.sorted_union(name, "ref", "cur", grouped=grouped))
    for batch in reader.to_arrow_reader(_BATCH_ROWS):
        v = batch.column(0).to_numpy()
        if grouped:
            yield v, batch.column(1).to_numpy(), batch.column(2).to_numpy()
        else:
            s = batch.column(1).to_numpy()
            yield v, 1 - s, s


def _reference_std(con: duckdb.DuckDBPyConnection, name: str, n: int, scale: float) -> float:
    """The reference's population std, scaled by its largest magnitude first and in two passes,
    as ``profiles._add_reference_stats`` computes it."""
    if not (scale > 0 and math.isfinite(scale)):
        return 0.0 if scale == 0 else math.nan
    total = con.execute(sql.side_scaled_sum(name, "ref"), [scale]).fetchone()
    assert total is not None
    mean = float(total[0]) / n
    sq = con.execute(sql.side_sq_dev(name, "ref"), [scale, mean, scale, mean]).fetchone()
    assert sq is not None
    return scale * math.sqrt(float(sq[0]) / n)


def _samples(con: duckdb.DuckDBPyConnection, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' sorted finite values (small columns only)."""
    return tuple(  # type: ignore[return-value]
        np.array([r[0] for r in con.execute(sql.sorted_values(name, side)).fetchall()], np.float64)
        for side in ("ref", "cur")
    )
