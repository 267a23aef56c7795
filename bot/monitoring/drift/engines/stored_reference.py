"""A reference profiled once for the out-of-core engines (issue 15, item 4).

:func:`build` writes a reference's aggregates to a folder (by DuckDB or Spark, whichever read
it): per numeric or boolean column its sorted distinct finite values with their counts
(``values-<i>.parquet``, columns ``v``, ``rc``), per categorical column its category counts
(``categories-<i>.parquet``), and ``meta.json`` (:class:`StoredMeta`: the column types, row and
usable counts, dtypes, kinds, newest/oldest dates, the hive partition columns). A random sample
of rows for the charts may sit beside them (``sample.parquet``).

:class:`StoredSides` then answers the reference half of
:class:`~bot.monitoring.drift.engines.aggregates.SideAggregates` from those files and the
current half from the engine's own aggregates of the current data (over an empty reference),
so a report reads and sorts only the current side: the stored values are merged, already in
order, with the current's sorted values (:func:`merge_sorted`). The statistics are those of
the raw reference to 1e-9 (the moments and bins as the Spark engine takes them from value
counts, in DuckDB with ``fsum``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import Batch, SideAggregates
from bot.monitoring.drift.engines.base import EngineError
from bot.monitoring.drift.engines.duckdb_views import _kind, _utc
from bot.monitoring.drift.profiles import ColumnProfile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

FORMAT = 1  # of the folder; another format is a miss, computed again
META = "meta.json"
SAMPLE = "sample.parquet"
_BATCH_ROWS = 1 << 20
_STORED_VIEW = "drift_stored_reference"
_EMPTY = np.empty(0, dtype=np.float64)
_NO_COUNTS = np.empty(0, dtype=np.int64)


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


class StoredReference:
    """A stored reference folder, read back (:func:`load`) or just written (:func:`build`)."""

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
            raise EngineError(f"the stored reference profile has no column `{name}`") from None

    def values(self, name: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The column's sorted finite values and their counts, in batches."""
        import pyarrow.parquet as pq

        file = self.column(name).values
        if file is None:
            return
        with pq.ParquetFile(self.folder / file) as reader:
            for batch in reader.iter_batches(batch_size=_BATCH_ROWS, columns=["v", "rc"]):
                v = batch.column(0).to_numpy().astype(np.float64, copy=False)
                yield v, batch.column(1).to_numpy().astype(np.int64, copy=False)

    def sample(self) -> pd.DataFrame | None:
        """The random rows kept for the charts, or None."""
        import pandas as pd

        return pd.read_parquet(self.folder / SAMPLE) if self.meta.sample else None


def load(folder: Path) -> StoredReference:
    """The stored reference in ``folder``; a missing, partial or other-format folder raises
    (``FileNotFoundError``, ``ValueError``)."""
    meta = StoredMeta.model_validate_json((folder / META).read_text())
    if meta.format != FORMAT:
        raise ValueError(f"format {meta.format}, not {FORMAT}")
    return StoredReference(folder, meta)


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
    folder: Path,
    *,
    columns: Collection[str] | None,
    exclude: Collection[str],
    partitions: Collection[str],
    sample: pd.DataFrame | None = None,
) -> StoredReference:
    """Profile the reference side of ``sides`` (whose current side is empty) into ``folder``:
    ``columns`` (None: all) less ``exclude`` and the hive ``partitions``."""
    folder.mkdir(parents=True, exist_ok=True)
    types = sides.types("ref")
    names = profiled_names(types, columns, exclude, partitions)
    counts = sides.usable_counts("ref", names, types)
    stored = [
        _store_column(sides, folder, i, name, types[name], counts) for i, name in enumerate(names)
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
    return StoredReference(folder, meta)


def _rows(sides: SideAggregates, types: dict[str, str]) -> int:
    """The reference's row count when no column is profiled."""
    counts = sides.usable_counts("ref", list(types)[:1], types)
    return next(iter(counts.values()))[0] if counts else 0


def _store_column(
    sides: SideAggregates,
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
    if prof.kind == "categorical":
        entry.categories = f"categories-{i}.parquet"
        _write_categories(sides.category_counts(name, "ref"), folder / entry.categories)
    return entry


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


def merge_sorted(
    ref: Iterator[tuple[np.ndarray, np.ndarray]], cur: Iterator[Batch]
) -> Iterator[Batch]:
    """Batches (value, reference count, current count) in ascending order from the ascending
    reference batches (value, count) and the current's (value, 0, count): each round emits
    every buffered value up to the smaller of the two buffers' last values."""
    a_v, a_c, b_v, b_c = _EMPTY, _NO_COUNTS, _EMPTY, _NO_COUNTS
    a_done = b_done = False
    while True:
        while not a_done and not a_v.size:
            try:
                a_v, a_c = next(ref)
            except StopIteration:
                a_done = True
        while not b_done and not b_v.size:
            try:
                b_v, _, b_c = next(cur)
                b_v = np.asarray(b_v, dtype=np.float64)
                b_c = np.asarray(b_c, dtype=np.int64)
            except StopIteration:
                b_done = True
        if a_done and b_done:
            return
        if b_done or a_done:
            v, c = (a_v, a_c) if b_done else (b_v, b_c)
            zeros = np.zeros(v.size, dtype=np.int64)
            yield (v, c, zeros) if b_done else (v, zeros, c)
            a_v, a_c, b_v, b_c = _EMPTY, _NO_COUNTS, _EMPTY, _NO_COUNTS
            continue
        limit = min(a_v[-1], b_v[-1])
        ia = int(np.searchsorted(a_v, limit, side="right"))
        ib = int(np.searchsorted(b_v, limit, side="right"))
        v = np.concatenate((a_v[:ia], b_v[:ib]))
        rc = np.concatenate((a_c[:ia], np.zeros(ib, dtype=np.int64)))
        cc = np.concatenate((np.zeros(ia, dtype=np.int64), b_c[:ib]))
        order = np.argsort(v, kind="stable")  # two sorted runs: a linear merge
        yield v[order], rc[order], cc[order]
        a_v, a_c, b_v, b_c = a_v[ia:], a_c[ia:], b_v[ib:], b_c[ib:]


class StoredSides:
    """:class:`SideAggregates` of a stored reference and the current side of ``inner`` (an
    engine's aggregates over an empty reference view); ``con`` is a DuckDB connection for the
    reference's moments and bins."""

    def __init__(
        self, stored: StoredReference, inner: SideAggregates, con: duckdb.DuckDBPyConnection
    ) -> None:
        self.stored, self.inner, self.con = stored, inner, con
        self._viewed: str | None = None

    def types(self, side: str) -> dict[str, str]:
        return dict(self.stored.meta.types) if side == "ref" else self.inner.types(side)

    def usable_counts(
        self, side: str, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        if side != "ref":
            return self.inner.usable_counts(side, names, types)
        found = (self.stored.column(n) for n in names)
        return {c.name: (c.rows, c.rows - c.missing) for c in found}

    def profile(
        self, side: str, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        if side != "ref":
            return self.inner.profile(side, name, sql_type, counts)
        return self.stored.column(name).profile()

    def category_counts(self, name: str, side: str) -> dict[Any, int]:
        if side != "ref":
            return self.inner.category_counts(name, side)
        file = self.stored.column(name).categories
        return {} if file is None else _read_categories(self.stored.folder / file)

    def sorted_counts(self, name: str, n: int, m: int) -> Iterator[Batch]:
        current = self.inner.sorted_counts(name, 0, m) if m else iter(())
        return merge_sorted(self.stored.values(name), current)

    def reference_std(self, name: str, n: int, scale: float) -> float:
        if not (scale > 0 and math.isfinite(scale)):
            return 0.0 if scale == 0 else math.nan
        table = self._view(name)
        total = self.con.execute(sql.reference_scaled_sum(table), [scale]).fetchall()[0][0]
        mean = float(total) / n
        params = [scale, mean, scale, mean]
        sq = self.con.execute(sql.reference_sq_dev(table), params).fetchall()[0][0]
        return scale * math.sqrt(float(sq) / n)

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        query = sql.bin_counts(self._view(name), edges.size)
        ref = {int(b): int(rc) for b, rc, _ in self.con.execute(query, edges.tolist()).fetchall()}
        cur = {int(b): int(cc) for b, _, cc in self.inner.bin_counts(name, edges)}
        return [(b, ref.get(b, 0), cur.get(b, 0)) for b in sorted(ref.keys() | cur.keys())]

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        batches = list(self.stored.values(name))
        v = np.concatenate([b[0] for b in batches]) if batches else _EMPTY
        c = np.concatenate([b[1] for b in batches]) if batches else _NO_COUNTS
        return np.repeat(v, c), self.inner.samples(name)[1]

    def _view(self, name: str) -> str:
        """A DuckDB view (v, rc, cc) of the column's stored values (cc = 0)."""
        if self._viewed != name:
            file = self.stored.column(name).values
            if file is None:
                raise EngineError(f"the stored reference profile has no values of `{name}`")
            complete = getattr(self.con, "complete", None)
            if complete is not None:  # DuckDB 2 refuses while a fetchone() result is pending
                complete()
            rel = self.con.read_parquet(str(self.stored.folder / file))
            rel.select("v, rc, 0 AS cc").create_view(_STORED_VIEW, replace=True)
            self._viewed = name
        return _STORED_VIEW
