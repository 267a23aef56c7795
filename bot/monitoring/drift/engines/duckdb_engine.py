"""The DuckDB drift engine: exact statistics in SQL, in process, out of core.

DuckDB reads Parquet/CSV files, globs and hive-partitioned folders lazily (only the compared
columns, row group by row group) and spills to ``temp_directory`` beyond ``memory_limit``, so
neither side has to fit in memory. Per numeric column it builds the union table of
``engines.sql`` and reads a handful of numbers from it; per categorical column, its category
counts. The verdicts then come from the numpy engine's own code (``engines.stats``).
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.drift.compare import _compare, _resolve_kind
from bot.monitoring.drift.engine import ColumnOutcome, assemble, freshness_entry
from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.base import (
    DriftOptions,
    EngineError,
    EngineKind,
    OutOfCoreEngine,
    local_paths,
)
from bot.monitoring.drift.engines.ecdf import SortedScan
from bot.monitoring.drift.engines.stats import (
    NumericStats,
    compare_numeric,
    decile_edges,
    decile_ranks,
)
from bot.monitoring.drift.numeric import _wasserstein
from bot.monitoring.drift.profiles import (
    _ISO_DATE,
    ColumnProfile,
    _Kind,
)
from bot.monitoring.drift.results import Correction, DriftResult, FeatureDrift

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = "2GB"
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
_CSV_TYPES = ["BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR"]  # what pandas.read_csv infers
_BATCH_ROWS = 1 << 20  # rows of the sorted union per batch handed to Python (~10 MB)
_NO_RANKS = np.empty(0, dtype=np.intp)
_OVERFLOW_RISK = sys.float_info.max / 2  # beyond it a difference of two values can overflow


class DuckDBEngine(OutOfCoreEngine):
    """Drift statistics computed by an in-process DuckDB, within ``memory_limit``, spilling
    to ``temp_directory`` (None: no spilling, a query beyond the limit fails)."""

    kind = EngineKind.DUCKDB

    def __init__(
        self,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        temp_directory: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.temp_directory = temp_directory
        self.threads = threads

    def connect(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        config: dict[str, Any] = {
            "memory_limit": self.memory_limit,
            "preserve_insertion_order": False,  # lets aggregates stream and spill
        }
        if self.temp_directory is not None:
            self.temp_directory.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(self.temp_directory)
        else:  # DuckDB's default would be ./.tmp under whatever the working directory is
            config["temp_directory"] = ""
        if self.threads is not None:
            config["threads"] = self.threads
        try:
            return duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB cannot start: {_one_line(exc)}") from exc

    def compute_with_rows(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> tuple[DriftResult, int, int]:
        """:meth:`compute`, and the row counts of both sides (for the report document)."""
        import duckdb

        con = self.connect()
        try:
            ref_parts = _view(con, "ref", reference)
            cur_parts = _view(con, "cur", current)
            result = _compute(con, options, exclude=ref_parts | cur_parts)
            rows = [con.execute(f"SELECT count(*) FROM {v}").fetchone() for v in ("ref", "cur")]
            assert rows[0] is not None and rows[1] is not None
            return result, int(rows[0][0]), int(rows[1][0])
        except duckdb.OutOfMemoryException as exc:
            raise EngineError(
                f"DuckDB ran out of memory within its limit of {self.memory_limit} "
                f"(MLOPS_BOT_DUCKDB_MEMORY_LIMIT): {_one_line(exc)}"
            ) from exc
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB could not read the data: {_one_line(exc)}") from exc
        finally:
            con.close()

    def column_count(self, source: pd.DataFrame | str | Path) -> int:
        """How many columns ``source`` has (for the message of a report with none in common)."""
        import duckdb

        con = self.connect()
        try:
            _view(con, "src", source)
            return len(_types(con, "src"))
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB could not read the data: {_one_line(exc)}") from exc
        finally:
            con.close()

    def sample(
        self, source: pd.DataFrame | str | Path, columns: Sequence[str], rows: int
    ) -> pd.DataFrame:
        """Up to ``rows`` random rows of ``columns`` (the charts of an out-of-core report)."""
        import duckdb

        con = self.connect()
        try:
            _view(con, "src", source)
            present = set(_types(con, "src"))
            names = ", ".join(sql.ident(c) for c in columns if c in present) or "1 AS _"
            query = f"SELECT {names} FROM src USING SAMPLE reservoir({int(rows)} ROWS)"
            return con.execute(query).df()
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB could not read the data: {_one_line(exc)}") from exc
        finally:
            con.close()


def _view(con: duckdb.DuckDBPyConnection, name: str, source: pd.DataFrame | str | Path) -> set[str]:
    """Expose ``source`` as view ``name``; returns its hive partition columns (not compared:
    a window's partition key differs from the reference's by construction)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        con.register(f"{name}_frame", source)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_frame")
        return set()
    paths = local_paths(source)
    if not paths:
        raise EngineError(f"no file matches `{source}`")
    files = [str(p) for p in paths]
    lowered = [f.lower() for f in files]
    if all(f.endswith((".parquet", ".pq")) for f in lowered):
        hive = Path(str(source)).expanduser().is_dir()
        rel = con.read_parquet(files, hive_partitioning=hive, union_by_name=True)
        parts = set(rel.columns) - set(con.read_parquet(files, union_by_name=True).columns)
    elif all(f.endswith((".csv", ".csv.gz", ".tsv")) for f in lowered):
        rel = con.read_csv(files, union_by_name=True, auto_type_candidates=_CSV_TYPES)
        parts = set()
    else:
        raise EngineError(f"`{source}` must be Parquet or CSV files, not a mix or another format")
    rel.create_view(name)
    return parts


def _compute(
    con: duckdb.DuckDBPyConnection, options: DriftOptions, *, exclude: Collection[str]
) -> DriftResult:
    import duckdb

    ref_types = _types(con, "ref")
    cur_types = _types(con, "cur")
    excluded = {str(c) for c in options.exclude} | set(exclude)
    ref_names = list(ref_types)
    if options.columns is not None:
        wanted = [str(c) for c in options.columns]
        unknown = [c for c in wanted if c not in ref_types and c not in cur_types]
    else:
        wanted = ref_names + [c for c in cur_types if c not in ref_types]
        unknown = []
    wanted = [c for c in dict.fromkeys(wanted) if c not in excluded]
    common = [c for c in wanted if c in ref_types and c in cur_types]

    try:
        fix = Correction(options.correction)
    except ValueError:
        raise EngineError(f"unknown correction {options.correction!r}; use bh or none") from None
    fresh_names = [str(c) for c in dict.fromkeys(options.freshness) if str(c) in cur_types]
    ref_fresh = [c for c in fresh_names if c in ref_types]
    ref_counts = _usable_counts(con, "ref", list(dict.fromkeys(common + ref_fresh)), ref_types)
    cur_counts = _usable_counts(con, "cur", list(dict.fromkeys(common + fresh_names)), cur_types)
    columns: list[ColumnOutcome] = []
    for name in common:
        ref = _profile(con, "ref", name, ref_types[name], ref_counts)
        cur = _profile(con, "cur", name, cur_types[name], cur_counts)
        try:
            feature, quality = _column(con, ref, cur, options)
        except duckdb.Error:  # out of memory, a broken file: the report fails, saying why
            raise
        except Exception as exc:  # a bug on one column must not sink the whole report
            logger.exception("drift (duckdb): column %r could not be analysed", name)
            feature = FeatureDrift(
                name=name,
                type="numeric",
                missing_reference=0,
                missing_current=0,
                reason=f"could not be analysed ({type(exc).__name__})",
            )
            quality = {"name": name}
        kinds = ""
        if ref.kind is not None and cur.kind is not None and ref.kind != cur.kind:
            kinds = f"{ref.kind}>{cur.kind}"
        columns.append(ColumnOutcome(name, ref.dtype, cur.dtype, feature, quality, kinds))
        if options.on_column is not None:
            options.on_column(len(columns), len(common))
    fresh = []
    for name in fresh_names:
        cur = _profile(con, "cur", name, cur_types[name], cur_counts)
        ref_p = (
            _profile(con, "ref", name, ref_types[name], ref_counts) if name in ref_types else None
        )
        entry = freshness_entry(ref_p, cur, options.now)
        if entry is not None:
            fresh.append(entry)
    return assemble(
        columns,
        wanted=wanted,
        ref_names=set(ref_types),
        cur_names=set(cur_types),
        unknown=unknown,
        correction=fix,
        freshness=fresh,
    )


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


def _profile(
    con: duckdb.DuckDBPyConnection,
    view: str,
    name: str,
    sql_type: str,
    counts: dict[str, tuple[int, int]],
) -> ColumnProfile:
    rows, usable = counts[name]
    missing = rows - usable
    prof = ColumnProfile(
        name=name,
        dtype=_pandas_dtype(sql_type, missing),
        kind=_kind(sql_type),
        rows=rows,
        missing=missing,
    )
    if prof.kind == "datetime" or (sql_type == "VARCHAR" and usable):
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


def _column(
    con: duckdb.DuckDBPyConnection, ref: ColumnProfile, cur: ColumnProfile, options: DriftOptions
) -> tuple[FeatureDrift | None, dict[str, Any]]:
    override = options.features.get(ref.name)
    kind, reason = _resolve_kind(ref, cur)
    if kind == "numeric" and reason is None:
        stats = _numeric_stats(con, ref.name, ref.n, cur.n)
        return compare_numeric(ref, cur, stats, override, lambda: _samples(con, ref.name))
    numeric_override = override is not None and override.method in ("ks", "wasserstein")
    if ref.dtype == cur.dtype == "bool" and numeric_override and ref.n and cur.n:
        stats = _numeric_stats(con, ref.name, ref.n, cur.n)  # on 0/1, as numpy does
        return compare_numeric(
            ref, cur, stats, override, lambda: _samples(con, ref.name), boolean=True
        )
    if kind in ("categorical", None) and reason is None:
        for side, prof in (("ref", ref), ("cur", cur)):
            prof.counts = {} if prof.kind is None else _category_counts(con, ref.name, side)
    return _compare(ref, cur, override, options.now)


def _category_counts(con: duckdb.DuckDBPyConnection, name: str, view: str) -> dict[Any, int]:
    rows = con.execute(sql.category_counts(name, view)).fetchall()
    return {key: int(count) for key, count in rows}


def _numeric_stats(con: duckdb.DuckDBPyConnection, name: str, n: int, m: int) -> NumericStats:
    stats = NumericStats(n=n, m=m)
    if n + m == 0:
        return stats
    lo_rank, hi_rank, t = decile_ranks(n) if n else (_NO_RANKS, _NO_RANKS, _NO_RANKS)
    scan = _sorted_scan(con, name, n, m, np.unique(np.concatenate((lo_rank, hi_rank))))
    stats.ks, stats.w1 = scan.ks, scan.w1
    assert scan.union_min is not None and scan.union_max is not None
    if max(abs(scan.union_min), abs(scan.union_max)) > _OVERFLOW_RISK:
        # numpy's W1 pairs quantiles, and a gap between values near ±1e308 overflows to a
        # "not finite" verdict; the ECDF area may not: take numpy's own arithmetic then
        with np.errstate(all="ignore"):  # as the numpy engine: overflow -> not finite
            stats.w1 = _wasserstein(*_samples(con, name))
    stats.ref_distinct, stats.cur_distinct = scan.ref_distinct, scan.cur_distinct
    stats.union_distinct = scan.union_distinct
    stats.ref_min, stats.ref_max, stats.out_of_range = scan.ref_min, scan.ref_max, scan.out_of_range
    if scan.keys is not None:
        stats.keys = [v for v, _, _ in scan.keys]
        stats.ref_key_counts = np.array([rc for _, rc, _ in scan.keys], dtype=np.float64)
        stats.cur_key_counts = np.array([cc for _, _, cc in scan.keys], dtype=np.float64)
    if n == 0:
        return stats
    assert scan.ref_min is not None and scan.ref_max is not None
    stats.std = _reference_std(con, name, n, max(abs(scan.ref_min), abs(scan.ref_max)))
    found = scan.order_stats
    edges = decile_edges(
        np.array([found[int(r)] for r in lo_rank], dtype=np.float64),
        np.array([found[int(r)] for r in hi_rank], dtype=np.float64),
        t,
    )
    bins = con.execute(sql.side_bin_counts(name, "ref", "cur", edges.size), edges.tolist())
    stats.ref_bins = np.zeros(edges.size + 1)
    stats.cur_bins = np.zeros(edges.size + 1)
    for b, rc, cc in bins.fetchall():
        stats.ref_bins[int(b)] = rc
        stats.cur_bins[int(b)] = cc
    return stats


def _sorted_scan(
    con: duckdb.DuckDBPyConnection, name: str, n: int, m: int, ranks: np.ndarray
) -> SortedScan:
    """KS, W1, distinct counts and the reference order statistics at ``ranks``, from one
    sorted pass over the union of both sides streamed in batches (DuckDB spills the sort)."""
    # fetchall: a result left open (fetchone) blocks con.sql on the same connection
    (estimate,) = con.execute(sql.distinct_estimate(name, "ref", "cur")).fetchall()[0]
    grouped = int(estimate) <= (n + m) // 2
    scan = SortedScan(n=n, m=m, ranks=ranks)
    reader = con.sql(sql.sorted_union(name, "ref", "cur", grouped=grouped))
    for batch in reader.to_arrow_reader(_BATCH_ROWS):
        v = batch.column(0).to_numpy()
        if grouped:
            scan.feed(v, batch.column(1).to_numpy(), batch.column(2).to_numpy())
        else:
            s = batch.column(1).to_numpy()
            scan.feed(v, 1 - s, s)
    return scan.finish()


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


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
