"""The DuckDB drift engine: exact statistics in SQL, in process, out of core.

DuckDB reads Parquet/CSV files, globs and hive-partitioned folders lazily (only the compared
columns, row group by row group) and spills to ``temp_directory`` beyond ``memory_limit``, so
neither side has to fit in memory. Per numeric column it builds the union table of
``engines.sql`` and reads a handful of numbers from it; per categorical column, its category
counts. The verdicts then come from the numpy engine's own code (``engines.stats``).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.drift.compare import _compare, _resolve_kind
from bot.monitoring.drift.engine import ColumnOutcome, assemble, freshness_entry, unanalysed
from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import SideAggregates
from bot.monitoring.drift.engines.base import (
    DriftOptions,
    EngineError,
    EngineKind,
    OutOfCoreEngine,
    local_paths,
    one_line,
)
from bot.monitoring.drift.engines.duckdb_views import Views, _types
from bot.monitoring.drift.engines.ecdf import SortedScan
from bot.monitoring.drift.engines.stats import (
    NumericStats,
    compare_numeric,
    decile_edges,
    decile_ranks,
)
from bot.monitoring.drift.engines.stored_profile import (
    StoredProfile,
    build,
    has_values,
    profiled_names,
)
from bot.monitoring.drift.engines.stored_sides import EngineSide, ProfileSide, StoredSides
from bot.monitoring.drift.numeric import _wasserstein
from bot.monitoring.drift.profiles import ColumnProfile
from bot.monitoring.drift.results import Correction, DriftResult, FeatureDrift

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = "2GB"
_READ_FAILED = "DuckDB could not read the data"
_CSV_TYPES = ["BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR"]  # what pandas.read_csv infers
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
        self._scratch: Path | None = None  # CSV sources as Parquet, for one session
        self._depth = 0

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
            con = duckdb.connect(":memory:", config=config)
            # the prefetch reads a row group's column chunks in one allocation: a 1M-row group
            # of 60 columns needs ~380 MiB at once and fails under a 700 MiB limit (a setting
            # of the parquet extension, which loads with the connection, not in its config)
            con.execute("SET disable_parquet_prefetching = true")
            return con
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB cannot start: {one_line(exc)}") from exc

    @contextmanager
    def session(self, failure: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, closed after; DuckDB's errors become one-line :class:`EngineError`s:
        running out of memory names the limit, any other error reads ``failure: <why>``."""
        import duckdb

        con = self.connect()
        self._depth += 1
        try:
            yield con
        except duckdb.OutOfMemoryException as exc:
            raise EngineError(
                f"DuckDB ran out of memory within its limit of {self.memory_limit} "
                f"(MLOPS_BOT_DUCKDB_MEMORY_LIMIT): {one_line(exc)}"
            ) from exc
        except duckdb.Error as exc:
            raise EngineError(f"{failure}: {one_line(exc)}") from exc
        finally:
            con.close()
            self._depth -= 1
            if not self._depth and self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def scratch(self) -> Path:
        """A folder for the current session's CSV sources converted to Parquet (in the spill
        directory, else the system's temporary folder), removed when the session ends."""
        if self._scratch is None:
            base = self.temp_directory or Path(tempfile.gettempdir())
            base.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix="csv-", dir=base))
        return self._scratch

    def compute_with_rows(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> tuple[DriftResult, int, int]:
        """:meth:`compute`, and the row counts of both sides (for the report document)."""
        with self.session(_READ_FAILED) as con:
            ref_parts = _view(con, "ref", reference, self.scratch)
            cur_parts = _view(con, "cur", current, self.scratch)
            result = _compute(con, options, exclude=ref_parts | cur_parts)
            rows = [con.execute(f"SELECT count(*) FROM {v}").fetchone() for v in ("ref", "cur")]
            assert rows[0] is not None and rows[1] is not None
            return result, int(rows[0][0]), int(rows[1][0])

    def profile_reference(
        self,
        reference: str | Path,
        folder: Path,
        *,
        columns: Collection[str] | None,
        exclude: Collection[str],
        sample_rows: int = 0,
    ) -> StoredProfile:
        """Profile ``reference`` into ``folder`` (``stored_profile.build``), with a random
        sample of ``sample_rows`` rows for the charts when > 0."""
        with self.session(_READ_FAILED) as con:
            parts = _view(con, "ref", reference, self.scratch)
            types = _types(con, "ref")
            names = profiled_names(types, columns, exclude, parts)
            sample = _reservoir(con, "ref", names, sample_rows) if sample_rows > 0 else None
            con.execute(f"CREATE VIEW cur AS {sql.empty_doubles(_value_columns(types))}")
            return build(
                Views(con), con, folder, columns=names, exclude=(), partitions=parts, sample=sample
            )

    def compute_with_reference(
        self, stored: StoredProfile, current: str | Path, options: DriftOptions
    ) -> tuple[DriftResult, int]:
        """The drift of ``current`` against a stored reference, and the current row count."""
        with self.session(_READ_FAILED) as con:
            cur_parts = _view(con, "cur", current, self.scratch)
            con.execute(f"CREATE VIEW ref AS {sql.empty_doubles(stored.value_columns)}")
            sides = StoredSides(ProfileSide([stored]), EngineSide(Views(con)), con)
            result = _compute(con, options, exclude=set(stored.partitions) | cur_parts, sides=sides)
            (rows,) = con.execute("SELECT count(*) FROM cur").fetchall()[0]
            return result, int(rows)

    def compute_from_profiles(
        self, stored: StoredProfile, current: Sequence[StoredProfile], options: DriftOptions
    ) -> DriftResult:
        """The drift of the stored profiles of the current files against a stored reference:
        no data is read, DuckDB only sums the stored values (``stored_sides``)."""
        cur = ProfileSide(current)
        with self.session("the stored profiles could not be compared") as con:
            sides = StoredSides(ProfileSide([stored]), cur, con)
            exclude = set(stored.partitions) | cur.partitions
            return _compute(con, options, exclude=exclude, sides=sides)

    @property
    def driver(self) -> DuckDBEngine:
        """The DuckDB that combines aggregates (this engine itself)."""
        return self

    def column_count(self, source: pd.DataFrame | str | Path) -> int:
        """How many columns ``source`` has (for the message of a report with none in common)."""
        with self.session(_READ_FAILED) as con:
            _view(con, "src", source)
            return len(_types(con, "src"))

    def sample(
        self, source: pd.DataFrame | str | Path, columns: Sequence[str], rows: int
    ) -> pd.DataFrame:
        """Up to ``rows`` random rows of ``columns`` (the charts of an out-of-core report)."""
        with self.session(_READ_FAILED) as con:
            _view(con, "src", source)
            return _reservoir(con, "src", columns, rows)


def _reservoir(
    con: duckdb.DuckDBPyConnection, view: str, columns: Sequence[str], rows: int
) -> pd.DataFrame:
    """Up to ``rows`` random rows of those ``columns`` that ``view`` has."""
    present = set(_types(con, view))
    names = ", ".join(sql.ident(c) for c in columns if c in present) or "1 AS _"
    query = f"SELECT {names} FROM {view} USING SAMPLE reservoir({int(rows)} ROWS)"
    return con.execute(query).df()


def _value_columns(types: dict[str, str]) -> list[str]:
    return [c for c, t in types.items() if has_values(t)]


def _view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: pd.DataFrame | str | Path,
    scratch: Callable[[], Path] | None = None,
) -> set[str]:
    """Expose ``source`` as view ``name``; returns its hive partition columns (not compared:
    a window's partition key differs from the reference's by construction). With ``scratch``,
    CSV files are converted to one Parquet file there first: every query over a CSV view
    parses (and sniffs) the text again, and a comparison runs several queries per column."""
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
        if scratch is not None:
            target = scratch() / f"{name}.parquet"
            rel.write_parquet(str(target))  # streamed: parsed once, within the memory limit
            rel = con.read_parquet(str(target))
    else:
        raise EngineError(f"`{source}` must be Parquet or CSV files, not a mix or another format")
    rel.create_view(name)
    return parts


def _compute(
    con: duckdb.DuckDBPyConnection,
    options: DriftOptions,
    *,
    exclude: Collection[str],
    sides: SideAggregates | None = None,
) -> DriftResult:
    """The result from both sides' aggregates (``sides``: by default the views of ``con``)."""
    import duckdb

    sides = Views(con) if sides is None else sides
    ref_types = sides.types("ref")
    cur_types = sides.types("cur")
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
    ref_counts = sides.usable_counts("ref", list(dict.fromkeys(common + ref_fresh)), ref_types)
    cur_counts = sides.usable_counts("cur", list(dict.fromkeys(common + fresh_names)), cur_types)
    columns: list[ColumnOutcome] = []
    for name in common:
        ref = sides.profile("ref", name, ref_types[name], ref_counts)
        cur = sides.profile("cur", name, cur_types[name], cur_counts)
        try:
            feature, quality = _column(ref, cur, options, sides)
        except (duckdb.Error, EngineError):  # out of memory, a broken file, a failed Spark job:
            raise  # the report fails, saying why
        except Exception as exc:  # a bug on one column must not sink the whole report
            logger.exception("drift (duckdb): column %r could not be analysed", name)
            feature, quality = unanalysed(name, exc)
        kinds = ""
        if ref.kind is not None and cur.kind is not None and ref.kind != cur.kind:
            kinds = f"{ref.kind}>{cur.kind}"
        columns.append(ColumnOutcome(name, ref.dtype, cur.dtype, feature, quality, kinds))
        if options.on_column is not None:
            options.on_column(len(columns), len(common))
    fresh = []
    for name in fresh_names:
        cur = sides.profile("cur", name, cur_types[name], cur_counts)
        ref_p = (
            sides.profile("ref", name, ref_types[name], ref_counts) if name in ref_types else None
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


def _column(
    ref: ColumnProfile, cur: ColumnProfile, options: DriftOptions, sides: SideAggregates
) -> tuple[FeatureDrift | None, dict[str, Any]]:
    override = options.features.get(ref.name)
    kind, reason = _resolve_kind(ref, cur)
    if kind == "numeric" and reason is None:
        stats = _numeric_stats(sides, ref.name, ref.n, cur.n)
        return compare_numeric(ref, cur, stats, override, lambda: sides.samples(ref.name))
    numeric_override = override is not None and override.method in ("ks", "wasserstein")
    if ref.dtype == cur.dtype == "bool" and numeric_override and ref.n and cur.n:
        stats = _numeric_stats(sides, ref.name, ref.n, cur.n)  # on 0/1, as numpy does
        return compare_numeric(
            ref, cur, stats, override, lambda: sides.samples(ref.name), boolean=True
        )
    if kind in ("categorical", None) and reason is None:
        for side, prof in (("ref", ref), ("cur", cur)):
            prof.counts = {} if prof.kind is None else sides.category_counts(ref.name, side)
    return _compare(ref, cur, override, options.now)


def _numeric_stats(sides: SideAggregates, name: str, n: int, m: int) -> NumericStats:
    """A numeric column's exact statistics: one pass over the sorted union of both sides
    (:class:`SortedScan`), then the reference moments and the bin counts of its deciles."""
    stats = NumericStats(n=n, m=m)
    if n + m == 0:
        return stats
    lo_rank, hi_rank, t = decile_ranks(n) if n else (_NO_RANKS, _NO_RANKS, _NO_RANKS)
    scan = SortedScan(n=n, m=m, ranks=np.unique(np.concatenate((lo_rank, hi_rank))))
    for v, rc, cc in sides.sorted_counts(name, n, m):
        scan.feed(v, rc, cc)
    scan = scan.finish()
    stats.ks, stats.w1 = scan.ks, scan.w1
    assert scan.union_min is not None and scan.union_max is not None
    if max(abs(scan.union_min), abs(scan.union_max)) > _OVERFLOW_RISK:
        # numpy's W1 pairs quantiles, and a gap between values near ±1e308 overflows to a
        # "not finite" verdict; the ECDF area may not: take numpy's own arithmetic then
        with np.errstate(all="ignore"):  # as the numpy engine: overflow -> not finite
            stats.w1 = _wasserstein(*sides.samples(name))
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
    stats.std = sides.reference_std(name, n, max(abs(scan.ref_min), abs(scan.ref_max)))
    edges = decile_edges(scan.order_stats, lo_rank, hi_rank, t)
    bins = sides.bin_counts(name, edges)
    stats.ref_bins = np.zeros(edges.size + 1)
    stats.cur_bins = np.zeros(edges.size + 1)
    for b, in_ref, in_cur in bins:
        stats.ref_bins[int(b)] = in_ref
        stats.cur_bins[int(b)] = in_cur
    return stats
