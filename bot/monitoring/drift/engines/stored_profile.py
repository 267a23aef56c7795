"""A data set profiled once into a folder, for the out-of-core engines (issue 15, item 4).

:func:`build` writes one side's aggregates to a folder (by DuckDB or Spark, whichever read it):
per numeric or boolean column its sorted distinct finite values with their counts
(``values-<i>.parquet``, columns ``v``, ``rc``), per categorical column its category counts
(``categories-<i>.parquet``), and ``meta.json`` (:class:`StoredMeta`: the column types, row and
usable counts, dtypes, kinds, newest/oldest dates, the hive partition columns). A random sample
of rows for the charts may sit beside them (``sample.parquet``). A monitor's reference is
stored so, and each file of a current folder or glob (a daily partition).

``stored_sides`` compares from these folders: the statistics are those of the raw data to
1e-9 (the moments and bins as the Spark engine takes them from value counts).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import Batch, SideAggregates, std_of_counts
from bot.monitoring.drift.engines.base import EngineError
from bot.monitoring.drift.engines.duckdb_views import _kind, _utc
from bot.monitoring.drift.engines.stats import decile_edges, decile_ranks
from bot.monitoring.drift.profiles import ColumnProfile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

FORMAT = 2  # of the folder; another format is a miss, computed again
META = "meta.json"
SAMPLE = "sample.parquet"
_BATCH_ROWS = 1 << 20


class StoredColumn(BaseModel):
    """One reference column as :meth:`StoredSides.profile` gives it back."""

    name: str
    sql_type: str
    dtype: str
    kind: str | None
    rows: int
    missing: int
    newest_us: int | None = None  # microseconds since the epoch (UTC), date columns
    oldest_us: int | None = None
    values: str | None = None  # file of the sorted value counts (numeric and boolean columns)
    categories: str | None = None  # file of the category counts (categorical columns)
    # what every comparison computes from the reference alone, the same way (:func:`_summarise`)
    scale: float | None = None  # the largest magnitude of its finite values
    std: float | None = None
    edges: list[float] | None = None  # the PSI bins' inner edges (its deciles)
    bins: dict[int, int] | None = None  # bin -> count of its values

    def profile(self) -> ColumnProfile:
        """A fresh profile (``_compute`` sets the category counts on it)."""
        prof = ColumnProfile(
            name=self.name,
            dtype=self.dtype,
            kind=self.kind,  # type: ignore[arg-type]
            rows=self.rows,
            missing=self.missing,
        )
        if self.newest_us is not None and self.oldest_us is not None:
            prof.newest, prof.oldest = _utc(self.newest_us), _utc(self.oldest_us)
        return prof


class StoredMeta(BaseModel):
    """``meta.json``: what a stored reference holds (written last: a folder without it is
    incomplete)."""

    format: int = FORMAT
    rows: int
    types: dict[str, str]  # every column of the reference, profiled or not
    partitions: list[str]  # hive partition columns (never compared)
    columns: list[StoredColumn]
    sample: bool = False


class StoredProfile:
    """A stored profile folder, read back (:func:`load`) or just written (:func:`build`)."""

    def __init__(self, folder: Path, meta: StoredMeta) -> None:
        self.folder = folder
        self.meta = meta
        self.columns = {c.name: c for c in meta.columns}

    @property
    def rows(self) -> int:
        return self.meta.rows

    @property
    def partitions(self) -> list[str]:
        return list(self.meta.partitions)

    @property
    def value_columns(self) -> list[str]:
        """The columns with stored values (the empty reference view of a comparison has them)."""
        return [c.name for c in self.meta.columns if c.values is not None]

    def column(self, name: str) -> StoredColumn:
        try:
            return self.columns[name]
        except KeyError:
            raise EngineError(f"the stored profile {self.folder} has no column `{name}`") from None

    def values(
        self, name: str, batch_rows: int = _BATCH_ROWS
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The column's sorted finite values and their counts, in batches."""

        file = self.column(name).values
        if file is not None:
            yield from _batches(self.folder / file, batch_rows)

    def value_file(self, name: str) -> Path | None:
        """The file of the column's stored values, or None (no finite value was stored)."""
        file = self.column(name).values
        return None if file is None else self.folder / file

    def categories(self, name: str) -> dict[Any, int]:
        """The column's category counts, in the order DuckDB gave them."""
        file = self.column(name).categories
        return {} if file is None else _read_categories(self.folder / file)

    def sample(self) -> pd.DataFrame | None:
        """The random rows kept for the charts, or None."""
        import pandas as pd

        return pd.read_parquet(self.folder / SAMPLE) if self.meta.sample else None


def load(folder: Path) -> StoredProfile:
    """The stored profile in ``folder``; a missing, partial or other-format folder raises
    (``FileNotFoundError``, ``ValueError``)."""
    meta = StoredMeta.model_validate_json((folder / META).read_text())
    if meta.format != FORMAT:
        raise ValueError(f"format {meta.format}, not {FORMAT}")
    return StoredProfile(folder, meta)


def has_values(sql_type: str) -> bool:
    """Whether a column's sorted values are stored (numeric columns; booleans as 0/1 for a
    KS or Wasserstein override)."""
    return _kind(sql_type) == "numeric" or sql_type == "BOOLEAN"


def profiled_names(
    types: dict[str, str],
    columns: Collection[str] | None,
    exclude: Collection[str],
    partitions: Collection[str],
) -> list[str]:
    """The reference columns a stored profile holds: ``columns`` (None: all) less ``exclude``
    and the hive ``partitions``."""
    skip = set(exclude) | set(partitions)
    return [c for c in types if (columns is None or c in columns) and c not in skip]


def build(
    sides: SideAggregates,
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    *,
    columns: Collection[str] | None,
    exclude: Collection[str],
    partitions: Collection[str],
    sample: pd.DataFrame | None = None,
) -> StoredProfile:
    """Profile the ``ref`` side of ``sides`` (whose ``cur`` side is empty) into ``folder``
    (``con``: a DuckDB connection that sums the stored values):
    ``columns`` (None: all) less ``exclude`` and the hive ``partitions``."""
    folder.mkdir(parents=True, exist_ok=True)
    types = sides.types("ref")
    names = profiled_names(types, columns, exclude, partitions)
    counts = sides.usable_counts("ref", names, types)
    stored = [
        _store_column(sides, con, folder, i, name, types[name], counts)
        for i, name in enumerate(names)
    ]
    kept = False
    if sample is not None:
        try:
            sample.to_parquet(folder / SAMPLE, index=False)
            kept = True
        except Exception:  # a dtype pyarrow cannot write: the charts sample the data instead
            (folder / SAMPLE).unlink(missing_ok=True)
    rows = counts[names[0]][0] if names else _rows(sides, types)
    meta = StoredMeta(
        rows=rows, types=types, partitions=sorted(partitions), columns=stored, sample=kept
    )
    (folder / META).write_text(meta.model_dump_json())
    return StoredProfile(folder, meta)


def _rows(sides: SideAggregates, types: dict[str, str]) -> int:
    """The reference's row count when no column is profiled."""
    counts = sides.usable_counts("ref", list(types)[:1], types)
    return next(iter(counts.values()))[0] if counts else 0


def _store_column(
    sides: SideAggregates,
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    i: int,
    name: str,
    sql_type: str,
    counts: dict[str, tuple[int, int]],
) -> StoredColumn:
    prof = sides.profile("ref", name, sql_type, counts)
    entry = StoredColumn(
        name=name,
        sql_type=sql_type,
        dtype=prof.dtype,
        kind=prof.kind,
        rows=prof.rows,
        missing=prof.missing,
    )
    if prof.newest is not None and prof.oldest is not None:
        entry.newest_us = _micros(prof.newest)
        entry.oldest_us = _micros(prof.oldest)
    if has_values(sql_type):
        entry.values = f"values-{i}.parquet"
        batches = sides.sorted_counts(name, prof.n, 0) if prof.n else iter(())
        _write_values(batches, folder / entry.values)
        if prof.n:
            _summarise(con, folder / entry.values, prof.n, entry)
    if prof.kind == "categorical":
        entry.categories = f"categories-{i}.parquet"
        _write_categories(sides.category_counts(name, "ref"), folder / entry.categories)
    return entry


def _summarise(con: duckdb.DuckDBPyConnection, path: Path, n: int, entry: StoredColumn) -> None:
    """Store what a comparison computes from the reference alone: its scale, the std (as
    ``aggregates.std_of_counts``), the PSI edges from its order statistics (as
    ``duckdb_engine._numeric_stats``) and its count in each bin. Kept only when finite (values
    near ±1e308 overflow: the comparison computes them again, and says so)."""
    lo, hi, t = decile_ranks(n)
    found = order_statistics(_batches(path), np.unique(np.concatenate((lo, hi, [0, n - 1]))))
    scale = max(abs(found[0]), abs(found[n - 1]))
    table = values_view(con, [path])
    std = std_of_counts(con, table, n, scale)
    edges = decile_edges(found, lo, hi, t)
    if not (math.isfinite(std) and np.isfinite(edges).all()):
        return
    rows = con.execute(sql.bin_counts(table, edges.size), edges.tolist()).fetchall()
    entry.scale, entry.std, entry.edges = scale, std, edges.tolist()
    entry.bins = {int(b): int(rc) for b, rc, _ in rows}


def order_statistics(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], ranks: np.ndarray
) -> dict[int, float]:
    """The values at the 0-based ``ranks`` (ascending) of ascending (value, count) batches."""
    found: dict[int, float] = {}
    offset = 0
    for v, c in batches:
        if not v.size:
            continue
        cum = offset + np.cumsum(c)
        inside = ranks[(ranks >= offset) & (ranks < cum[-1])]
        for r, at in zip(inside, np.searchsorted(cum, inside, side="right"), strict=True):
            found[int(r)] = float(v[at])
        offset = int(cum[-1])
    return found


def values_view(con: duckdb.DuckDBPyConnection, files: Sequence[Path]) -> str:
    """A DuckDB view (v, rc, cc) of stored value files (cc = 0); returns its name (one per
    connection: each call replaces it)."""
    view = "drift_stored_values"
    complete = getattr(con, "complete", None)
    if complete is not None:  # DuckDB 2 refuses while a fetchone() result is pending
        complete()
    rel = con.read_parquet([str(f) for f in files])
    rel.select("v, rc, 0 AS cc").create_view(view, replace=True)
    return view


def _batches(path: Path, batch_rows: int = _BATCH_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as reader:
        for batch in reader.iter_batches(batch_size=batch_rows, columns=["v", "rc"]):
            v = batch.column(0).to_numpy().astype(np.float64, copy=False)
            yield v, batch.column(1).to_numpy().astype(np.int64, copy=False)


def _micros(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1000)


def _write_values(batches: Iterable[Batch], path: Path) -> None:
    """The sorted (value, count) rows of one side, equal neighbours within a batch summed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("v", pa.float64()), ("rc", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for v, rc, _ in batches:
            if not v.size:
                continue
            v = np.asarray(v, dtype=np.float64)
            starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
            counts = np.add.reduceat(np.asarray(rc, dtype=np.int64), starts)
            writer.write_table(pa.table({"v": v[starts], "rc": counts}, schema=schema))


def _write_categories(counts: dict[Any, int], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = pa.array(list(counts))
    pq.write_table(pa.table({"k": keys, "n": pa.array(list(counts.values()), pa.int64())}), path)


def _read_categories(path: Path) -> dict[Any, int]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    keys = table.column("k").to_pylist()
    return dict(zip(keys, table.column("n").to_pylist(), strict=True))
