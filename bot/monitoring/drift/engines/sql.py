"""The SQL text of the exact drift statistics, shared by the SQL engines.

The statistics are those of the sorted distinct finite values of the union of both sides, with
their count on each side (rc, cc) and the cumulative counts (cr, ccum):

* KS = max |cr/n - ccum/m| (the ECDFs at the end of each run of ties, as scipy evaluates them);
* W1 = sum |cr/n - ccum/m| * (v_next - v) (the area between the ECDFs);
* the reference order statistics the PSI deciles interpolate: s[k] = min v with cr > k;
* the PSI bin counts: sums of rc and cc per bin of the reference edges;
* the out-of-range count and the reference moments (two passes, as numpy).

The DuckDB engine streams :func:`sorted_union` once through ``engines.ecdf.SortedScan`` (KS,
W1, distinct counts, order statistics) and takes the bins and moments from streaming scans of
the sides (``side_*``): one external sort per column, nothing materialised. (A union table
with window functions computes the same in SQL alone, at about 3x the CPU at 10M rows a side
and a temp table of 48 bytes per distinct value: measured, not used.)

Only standard SQL (window functions, FILTER, CASE) so that a Spark engine can reuse it.
Identifiers are quoted here; values are always bound parameters (``?``).

The aggregates over the raw rows (:func:`side_counts`, :func:`value_counts`,
:func:`category_counts_unordered`) also come in Spark SQL (:data:`SPARK`): the Spark engine
runs them on Spark; on the driver, DuckDB streams the value counts in order through the same
``SortedScan`` and takes the moments and bins from them (:func:`reference_scaled_sum`,
:func:`reference_sq_dev`, :func:`bin_counts` on a table ``(v, rc, cc)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FINITE = "isfinite({x})"


@dataclass(frozen=True)
class Dialect:
    """What differs between DuckDB's SQL and Spark's in the per-side aggregates."""

    quote: str  # the identifier quote
    finite: str  # "{x} is a finite number" (false for NULL, NaN, ±inf)
    epoch_us: str  # microseconds since the epoch (UTC) of the timestamp {x}


DUCKDB = Dialect('"', FINITE, "epoch_us({x})")
# Spark has no isfinite; NaN sorts above +inf there, so |x| < inf is false for NaN and ±inf
SPARK = Dialect("`", "abs({x}) < CAST('Infinity' AS DOUBLE)", "unix_micros(CAST({x} AS TIMESTAMP))")


def ident(name: str, dialect: Dialect = DUCKDB) -> str:
    """``name`` as a quoted SQL identifier."""
    q = dialect.quote
    return q + name.replace(q, q + q) + q


def as_double(column: str, dialect: Dialect = DUCKDB) -> str:
    return f"CAST({ident(column, dialect)} AS DOUBLE)"


def side_counts(
    columns: Sequence[tuple[str, bool]],
    table: str,
    dialect: Dialect = DUCKDB,
    dates: Sequence[str] = (),
) -> str:
    """One row: the row count, then per column its usable count (finite for numeric columns,
    non-null for the others), then per ``dates`` column its newest and oldest value (as in
    :func:`newest_oldest`). ``columns`` pairs a name with whether it is numeric."""
    parts = ["count(*)"]
    for name, numeric in columns:
        if numeric:
            finite = dialect.finite.format(x=as_double(name, dialect))
            parts.append(f"count(*) FILTER (WHERE {finite})")
        else:
            parts.append(f"count({ident(name, dialect)})")
    for name in dates:
        c = ident(name, dialect)
        parts.append(dialect.epoch_us.format(x=f"max({c})"))
        parts.append(dialect.epoch_us.format(x=f"min({c})"))
    return f"SELECT {', '.join(parts)} FROM {table}"


def value_counts(column: str, ref: str, cur: str, dialect: Dialect = DUCKDB) -> str:
    """Rows (v, rc, cc): the distinct finite values of one numeric column as doubles, with
    their count on each side; one aggregation over both sides tagged by side."""
    x = as_double(column, dialect)
    finite = dialect.finite.format(x=x)
    return f"""
WITH t AS (SELECT {x} AS v, 0 AS s FROM {ref} WHERE {finite}
           UNION ALL SELECT {x} AS v, 1 AS s FROM {cur} WHERE {finite})
SELECT v, count(*) FILTER (WHERE s = 0) AS rc, count(*) FILTER (WHERE s = 1) AS cc
FROM t GROUP BY v
"""


def reference_scaled_sum(table: str) -> str:
    """Parameter: a scale. Sum of the reference values divided by it (no overflow near 1e308)."""
    return f"SELECT fsum(rc * (v / ?)) FROM {table} WHERE rc > 0"


def reference_sq_dev(table: str) -> str:
    """Parameters: the scale, the scaled reference mean, twice each. Sum of squared deviations
    of the scaled reference values."""
    return f"SELECT fsum(rc * (v / ? - ?) * (v / ? - ?)) FROM {table} WHERE rc > 0"


def _finite_union(column: str, ref: str, cur: str) -> str:
    """Rows (v, s) of both sides' finite values, tagged by side (0 reference, 1 current)."""
    x = as_double(column)
    finite = FINITE.format(x=x)
    return (
        f"SELECT {x} AS v, CAST(0 AS TINYINT) AS s FROM {ref} WHERE {finite} "
        f"UNION ALL SELECT {x} AS v, CAST(1 AS TINYINT) AS s FROM {cur} WHERE {finite}"
    )


def distinct_estimate(column: str, ref: str, cur: str) -> str:
    """One row: about how many distinct finite values both sides hold (a HyperLogLog sketch,
    one streaming pass; it only chooses between the two forms of :func:`sorted_union`)."""
    return f"SELECT approx_count_distinct(v) FROM ({_finite_union(column, ref, cur)})"


def sorted_union(column: str, ref: str, cur: str, *, grouped: bool) -> str:
    """The finite values of both sides in ascending order, for a one-pass scan.

    ``grouped``: rows (v, rc, cc), one per distinct value with its count on each side (for
    columns with many ties). Otherwise rows (v, s), one per value tagged by side: when almost
    every value is distinct, a sort alone costs half of a hash aggregation and then a sort."""
    union = _finite_union(column, ref, cur)
    if grouped:
        return (
            "SELECT v, count(*) FILTER (WHERE s = 0) AS rc, count(*) FILTER (WHERE s = 1) AS cc "
            f"FROM ({union}) GROUP BY v ORDER BY v"
        )
    return f"SELECT v, s FROM ({union}) ORDER BY v"


def side_scaled_sum(column: str, table: str) -> str:
    """Parameter: a scale. Sum of the finite values divided by it (no overflow near 1e308)."""
    x = as_double(column)
    return f"SELECT fsum({x} / ?) FROM {table} WHERE {FINITE.format(x=x)}"


def side_sq_dev(column: str, table: str) -> str:
    """Parameters: the scale, the scaled mean, twice each. Sum of squared deviations of the
    scaled finite values."""
    x = as_double(column)
    return f"SELECT fsum(({x} / ? - ?) * ({x} / ? - ?)) FROM {table} WHERE {FINITE.format(x=x)}"


def side_bin_counts(column: str, ref: str, cur: str, edges: int) -> str:
    """Parameters: the ``edges`` inner edges, ascending. Rows (bin, ref count, cur count) of
    the finite values of both sides, as :func:`bin_counts` (one streaming pass, no sort)."""
    cases = " ".join(f"WHEN v < ? THEN {i}" for i in range(edges))
    case = f"CASE {cases} ELSE {edges} END" if edges else "0"
    return (
        f"SELECT {case} AS b, count(*) FILTER (WHERE s = 0), count(*) FILTER (WHERE s = 1) "
        f"FROM ({_finite_union(column, ref, cur)}) GROUP BY 1"
    )


def sorted_values(column: str, table: str) -> str:
    """The finite values of one side, ascending: for small sides only."""
    x = as_double(column)
    return f"SELECT {x} FROM {table} WHERE {FINITE.format(x=x)} ORDER BY 1"


def newest_oldest(column: str, table: str, text: bool) -> str:
    """One row: the non-null count, the newest and oldest value of a date column (in
    microseconds since the epoch, UTC; naive values read as UTC) and, for ``text`` columns, how
    many values are ISO 8601 dates that parse. Parameter (``text`` only): the ISO pattern."""
    c = ident(column)
    if not text:
        return f"SELECT count({c}), epoch_us(max({c})), epoch_us(min({c})), count({c}) FROM {table}"
    x = f"try_cast({c} AS TIMESTAMPTZ)"
    ok = f"regexp_full_match({c}, ?) AND {x} IS NOT NULL"
    return (
        f"SELECT count({c}), epoch_us(max({x})), epoch_us(min({x})),"
        f" count(*) FILTER (WHERE {ok}) FROM {table}"
    )


def bin_counts(table: str, edges: int) -> str:
    """Parameters: the ``edges`` inner edges, ascending. Rows (bin, ref count, cur count) for
    the bins (-inf, e0), [e0, e1), ..., [e_last, +inf) that hold any value."""
    cases = " ".join(f"WHEN v < ? THEN {i}" for i in range(edges))
    case = f"CASE {cases} ELSE {edges} END" if edges else "0"
    return f"SELECT {case} AS b, sum(rc), sum(cc) FROM {table} GROUP BY 1"


def category_counts(column: str, table: str) -> str:
    """Rows (category, count) of the non-null values of one column, by category."""
    c = ident(column)
    return f"SELECT {c}, count(*) FROM {table} WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY 1"


def category_counts_unordered(column: str, table: str, dialect: Dialect = DUCKDB) -> str:
    """Rows (v, n): :func:`category_counts` without the order (sorted where they are used)."""
    c = ident(column, dialect)
    return f"SELECT {c} AS v, count(*) AS n FROM {table} WHERE {c} IS NOT NULL GROUP BY {c}"


def empty_doubles(columns: Sequence[str], dialect: Dialect = DUCKDB) -> str:
    """No rows, with ``columns`` as doubles: the side a stored profile stands for (the
    union queries then see only the other side's values)."""
    cols = ", ".join(f"CAST(NULL AS DOUBLE) AS {ident(c, dialect)}" for c in columns)
    return f"SELECT {cols or 'CAST(NULL AS DOUBLE) AS _'} WHERE 1 = 0"


def union_values(table: str) -> str:
    """Rows (v, rc, cc) of the union table, ascending: for small columns only."""
    return f"SELECT v, rc, cc FROM {table} ORDER BY v"
