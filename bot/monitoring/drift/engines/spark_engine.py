"""The Spark drift engine: a Spark session (``local[N]``, any master URL, or Spark Connect
``sc://…``, from MLOPS_BOT_SPARK_MASTER) reads the local Parquet/CSV files, globs and
hive-partitioned folders, and computes the heavy, distributed part of the statistics in Spark
SQL over temp views (``spark_aggregates``): per side the row and usable counts, per numeric
column the counts of each distinct finite value, per categorical column the category counts,
per date column its newest and oldest value. No row reaches the driver, only these aggregates.

The driver then combines them exactly with the SQL of ``engines.sql`` in an in-process DuckDB,
as the DuckDB engine does with its own data: the union of both sides' value counts in value
order, the running sums, KS, W1, the reference order statistics for the PSI deciles, the bin
counts and the moments. Why there and not in Spark: Spark SQL has no exactly rounded sum
(``fsum``), its sums depend on the partitioning, and the window over the union in value order
(``ORDER BY v`` without ``PARTITION BY``) runs in a single Spark task anyway. So every statistic
equals the numpy engine's to 1e-9 whatever the cluster. The driver holds one column at a time:
its distinct values with their counts (as many as its rows for a continuous column, a handful
for a tied or categorical one; the DuckDB side spills within MLOPS_BOT_DUCKDB_MEMORY_LIMIT).
Only the charts' random samples ship rows (:meth:`SparkEngine.sample`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring.drift.engines import duckdb_engine
from bot.monitoring.drift.engines.base import (
    DriftOptions,
    EngineError,
    EngineKind,
    OutOfCoreEngine,
    local_paths,
    one_line,
)
from bot.monitoring.drift.engines.spark_aggregates import SparkAggregates
from bot.monitoring.drift.engines.sql import SPARK, empty_doubles, ident
from bot.monitoring.drift.engines.stored_profile import (
    StoredProfile,
    build,
    has_values,
    profiled_names,
)
from bot.monitoring.drift.engines.stored_sides import EngineSide, ProfileSide, StoredSides
from bot.monitoring.drift.results import DriftResult

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
_SESSIONS: dict[str, SparkSession] = {}  # one session per master URL and process
_LOCK = threading.Lock()
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv")
_SPARK_TYPES = {"VARCHAR": "STRING"}  # DuckDB's CSV types by Spark's names (the rest agree)


def spark_session(master: str = DEFAULT_MASTER, *, driver_memory: str = "1g") -> SparkSession:
    """The process's Spark session for ``master`` (created once; ``driver_memory`` applies to
    the first): UI off, two shuffle partitions, driver bound to 127.0.0.1, UTC time zone."""
    with _LOCK:
        if master in _SESSIONS:
            return _SESSIONS[master]
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency
            raise EngineError("the spark engine needs the pyspark package") from exc
        try:
            if master.startswith("sc://"):
                session = SparkSession.builder.remote(master).getOrCreate()
            else:
                builder = SparkSession.builder.master(master).appName("mlops-bot drift")
                for key, value in _LOCAL_CONF.items():
                    builder = builder.config(key, value)
                builder = builder.config("spark.driver.memory", driver_memory)
                session = builder.getOrCreate()
            session.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as exc:  # Java missing, master unreachable: one line, no traceback
            raise EngineError(f"Spark cannot start on {master}: {one_line(exc)}") from exc
        _SESSIONS[master] = session
        return session


def stop_sessions() -> None:
    """Stop every session this process started (the end of a test run, of a CLI run)."""
    with _LOCK:
        for session in _SESSIONS.values():
            session.stop()
        _SESSIONS.clear()


_LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.log.level": "WARN",
}


class SparkEngine(OutOfCoreEngine):
    """Drift statistics from the aggregates Spark computes, combined exactly on the driver."""

    kind = EngineKind.SPARK

    def __init__(
        self,
        *,
        master: str = DEFAULT_MASTER,
        memory_limit: str = duckdb_engine.DEFAULT_MEMORY_LIMIT,
        temp_directory: Path | None = None,
    ) -> None:
        self.master = master
        self._sql = duckdb_engine.DuckDBEngine(
            memory_limit=memory_limit, temp_directory=temp_directory
        )

    def compute_with_rows(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> tuple[DriftResult, int, int]:
        """:meth:`compute`, and the row counts of both sides (for the report document)."""

        with self._session("the Spark data could not be compared") as (spark, con, views):
            ref, ref_parts, ref_types = _side(spark, con, reference, views)
            cur, cur_parts, cur_types = _side(spark, con, current, views)
            sides = SparkAggregates(
                spark, con, {"ref": ref, "cur": cur}, {"ref": ref_types, "cur": cur_types}
            )
            result = duckdb_engine._compute(
                con, options, exclude=ref_parts | cur_parts, sides=sides
            )
            return result, sides.rows("ref"), sides.rows("cur")

    @contextmanager
    def _session(
        self, failure: str
    ) -> Iterator[tuple[SparkSession, duckdb.DuckDBPyConnection, list[str]]]:
        """The Spark session, the driver's DuckDB connection (its errors read ``failure: <why>``,
        as ``DuckDBEngine.session``) and a list for the temp views the work creates, dropped
        after."""
        spark = spark_session(self.master)
        views: list[str] = []
        try:
            with self._sql.session(failure) as con:
                yield spark, con, views
        finally:
            for view in views:
                spark.catalog.dropTempView(view)

    def profile_reference(
        self,
        reference: str | Path,
        folder: Path,
        *,
        columns: Collection[str] | None,
        exclude: Collection[str],
        sample_rows: int = 0,
    ) -> StoredProfile:
        """Profile ``reference`` into ``folder`` from Spark's aggregates of it
        (``stored_profile.build``), with a random sample for the charts when > 0."""
        with self._session("the Spark data could not be profiled") as (spark, con, views):
            ref, parts, types = _side(spark, con, reference, views)
            names = profiled_names(types, columns, exclude, parts)
            values = [c for c, t in types.items() if has_values(t)]
            cur = _empty_view(spark, values, views)
            sides = SparkAggregates(spark, con, {"ref": ref, "cur": cur}, {"ref": types, "cur": {}})
            sample = self.sample(reference, names, sample_rows) if sample_rows > 0 else None
            return build(
                sides, con, folder, columns=names, exclude=(), partitions=parts, sample=sample
            )

    def compute_with_reference(
        self, stored: StoredProfile, current: str | Path, options: DriftOptions
    ) -> tuple[DriftResult, int]:
        """The drift of ``current`` against a stored reference, and the current row count."""
        with self._session("the Spark data could not be compared") as (spark, con, views):
            cur, cur_parts, cur_types = _side(spark, con, current, views)
            ref = _empty_view(spark, stored.value_columns, views)
            inner = SparkAggregates(
                spark, con, {"ref": ref, "cur": cur}, {"ref": {}, "cur": cur_types}
            )
            sides = StoredSides(ProfileSide([stored]), EngineSide(inner), con)
            exclude = set(stored.partitions) | cur_parts
            result = duckdb_engine._compute(con, options, exclude=exclude, sides=sides)
            return result, inner.rows("cur")

    @property
    def driver(self) -> duckdb_engine.DuckDBEngine:
        """The driver's DuckDB (it combines the aggregates Spark computes)."""
        return self._sql

    def column_count(self, source: pd.DataFrame | str | Path) -> int:
        """How many columns ``source`` has (for the message of a report with none in common)."""
        import pandas as pd

        if isinstance(source, pd.DataFrame):
            return len(source.columns)
        return len(_spark_frame(spark_session(self.master), source)[0].columns)

    def sample(
        self, source: pd.DataFrame | str | Path, columns: Sequence[str], rows: int
    ) -> pd.DataFrame:
        """Up to ``rows`` random rows of ``columns`` (the charts of an out-of-core report),
        sampled by Spark."""

        table, _, types = self._read(source, columns, rows)
        with self._sql.session("the Spark data could not be sampled") as con:
            _register(con, "src", table, types)
            return self._sql.sample(con.execute("SELECT * FROM src").df(), columns, rows)

    def _read(
        self, source: pd.DataFrame | str | Path, columns: Sequence[str], rows: int
    ) -> tuple[Any, set[str], dict[str, str]]:
        """About ``rows`` random rows of ``columns`` of ``source`` as an Arrow table read by
        Spark, its hive partition columns, and for CSV the SQL type of each column (Spark
        reads CSV cells as text, see :func:`_csv_types`)."""
        import pandas as pd
        import pyarrow as pa

        if isinstance(source, pd.DataFrame):  # already in memory (a downloaded artifact)
            return pa.Table.from_pandas(source, preserve_index=False), set(), {}
        frame, parts, types = _spark_frame(spark_session(self.master), source)
        try:
            names = frame.columns  # by position: a name may hold dots or backticks
            frame = frame.select(*[frame[names.index(c)] for c in columns if c in names])
            total = frame.count()
            if total > rows:  # Bernoulli sampling, a little more than asked, then cut
                frame = frame.sample(fraction=min(1.0, 1.1 * rows / total), seed=0)
            table = frame.limit(rows).toArrow()
        except Exception as exc:  # Spark's errors are Py4J/Connect exceptions of many kinds
            raise EngineError(f"Spark could not read `{source}`: {one_line(exc)}") from exc
        return _with_null_columns(table, source), parts, types


def _side(
    spark: SparkSession,
    con: duckdb.DuckDBPyConnection,
    source: pd.DataFrame | str | Path,
    views: list[str],
) -> tuple[str, set[str], dict[str, str]]:
    """``source`` as a Spark temp view (its names are appended to ``views``; CSV cells cast to
    the types DuckDB reads them as), its hive partition columns, and its column types as
    DuckDB names them (those the DuckDB engine gives the same data)."""
    import pandas as pd
    import pyarrow as pa

    view = f"drift_side_{uuid.uuid4().hex}"
    parts: set[str] = set()
    casts: dict[str, str] = {}
    try:
        if isinstance(source, pd.DataFrame):  # already in memory (a downloaded artifact)
            schema = pa.Table.from_pandas(source, preserve_index=False)
            frame = spark.createDataFrame(schema)
        else:
            frame, parts, casts = _spark_frame(spark, source)
            schema = _with_null_columns(frame.limit(0).toArrow(), source)
        frame.createOrReplaceTempView(view)
        views.append(view)
        if casts:
            views.append(view := _typed_view(spark, view, frame.columns, casts))
    except EngineError:
        raise
    except Exception as exc:  # Spark's errors are Py4J/Connect exceptions of many kinds
        raise EngineError(f"Spark could not read `{source}`: {one_line(exc)}") from exc
    return view, parts, _duckdb_types(con, schema, casts)


def _empty_view(spark: SparkSession, columns: Sequence[str], views: list[str]) -> str:
    """A temp view with no rows and ``columns`` as doubles (``sql.empty_doubles``)."""
    view = f"drift_empty_{uuid.uuid4().hex}"
    try:
        spark.sql(empty_doubles(columns, SPARK)).createOrReplaceTempView(view)
    except Exception as exc:  # Spark's errors are Py4J/Connect exceptions of many kinds
        raise EngineError(f"Spark could not start the comparison: {one_line(exc)}") from exc
    views.append(view)
    return view


def _typed_view(spark: SparkSession, view: str, columns: list[str], casts: dict[str, str]) -> str:
    """A temp view of ``view`` with the columns in ``casts`` cast to its (DuckDB) types."""

    def typed(column: str) -> str:
        q = ident(column, SPARK)
        if column not in casts:
            return q
        return f"CAST({q} AS {_SPARK_TYPES.get(casts[column], casts[column])}) AS {q}"

    name = f"{view}_typed"
    spark.sql(f"SELECT {', '.join(map(typed, columns))} FROM {view}").createOrReplaceTempView(name)
    return name


def _duckdb_types(
    con: duckdb.DuckDBPyConnection, schema: Any, casts: dict[str, str]
) -> dict[str, str]:
    """The DuckDB types of the (empty) Arrow table ``schema`` with ``casts`` applied."""
    from bot.monitoring.drift.engines.duckdb_views import _types

    name = f"drift_schema_{uuid.uuid4().hex}"
    _register(con, name, schema, casts)
    try:
        return _types(con, name)
    finally:
        con.execute(f"DROP VIEW {name}")
        con.unregister(f"{name}_arrow")


def _with_null_columns(table: Any, source: pd.DataFrame | str | Path) -> Any:
    """``table`` with the Parquet ``null`` columns of ``source`` typed null (see below)."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(source, pd.DataFrame):
        return table
    for name in _null_columns(local_paths(source)) & set(table.column_names):
        i = table.column_names.index(name)
        table = table.set_column(i, name, pa.nulls(table.num_rows, pa.null()))
    return table


def _spark_frame(
    spark: SparkSession, source: str | Path
) -> tuple[DataFrame, set[str], dict[str, str]]:
    paths = local_paths(source)
    if not paths:
        raise EngineError(f"no file matches `{source}`")
    files = [str(p.resolve()) for p in paths]
    lowered = [f.lower() for f in files]
    folder = Path(str(source)).expanduser()
    try:
        if all(f.endswith(_PARQUET) for f in lowered):
            reader = spark.read.option("mergeSchema", "true")
            plain = reader.parquet(*files)
            if folder.is_dir():  # hive partitions (k=v folders) become columns, as in DuckDB
                frame = reader.option("basePath", str(folder.resolve())).parquet(*files)
                return frame, set(frame.columns) - set(plain.columns), {}
            return plain, set(), {}
        if all(f.endswith(_CSV) for f in lowered):
            sep = "\t" if all(f.endswith(".tsv") for f in lowered) else ","
            types = _csv_types(files)
            reader = spark.read.options(header="true", inferSchema="false", sep=sep)
            return reader.csv(files), set(), types
    except Exception as exc:
        raise EngineError(f"Spark could not read `{source}`: {one_line(exc)}") from exc
    raise EngineError(f"`{source}` must be Parquet or CSV files, not a mix or another format")


def _null_columns(paths: list[Path]) -> set[str]:
    """Columns of Parquet type ``null`` in every file (pandas' all-None object columns): Spark
    reads them as integers, pandas and DuckDB as untyped nulls, which the reports compare."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: set[str] | None = None
    for path in paths:
        if not path.name.lower().endswith(_PARQUET):
            return set()
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError, pa.ArrowException):
            return set()  # Spark has read it: leave its types alone
        nulls = {f.name for f in schema if pa.types.is_null(f.type)}
        found = nulls if found is None else found & nulls
    return found or set()


def _csv_types(files: list[str]) -> dict[str, str]:
    """The column types DuckDB's CSV sniffer gives these files, with the candidates that match
    pandas.read_csv (as the DuckDB engine reads them). Spark's own inference differs: it reads
    ``inf`` as text and integers as int32, so the Spark reader keeps every cell as text and the
    cells are cast to these types (``CAST('inf' AS DOUBLE)`` is infinity, as in pandas)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        rel = con.read_csv(files, union_by_name=True, auto_type_candidates=duckdb_engine._CSV_TYPES)
        return {str(n): str(t) for n, t in zip(rel.columns, rel.types, strict=True)}
    except duckdb.Error as exc:
        raise EngineError(f"Spark could not read the CSV files: {one_line(exc)}") from exc
    finally:
        con.close()


def _register(con: duckdb.DuckDBPyConnection, name: str, table: Any, types: dict[str, str]) -> None:
    """View ``name`` over the Arrow ``table``, each column cast to ``types`` when given."""
    from bot.monitoring.drift.engines.sql import ident

    con.register(f"{name}_arrow", table)
    cols = ", ".join(
        f"CAST({ident(c)} AS {types[c]}) AS {ident(c)}" if c in types else ident(c)
        for c in table.column_names
    )
    con.execute(f"CREATE VIEW {name} AS SELECT {cols or '*'} FROM {name}_arrow")
