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
the sides (``side_*``): one external sort per column, nothing materialised. The union table
``u(v, rc, cc, cr, ccum, nxt)`` of :func:`union_table` computes the same numbers in SQL alone
(a window over all distinct values, then a scan per statistic): about 3x the CPU at 10M rows
a side and a temp table of 48 bytes per distinct value, so it is no longer the DuckDB path.

Only standard SQL (window functions, FILTER, CASE) so that a Spark engine can reuse it.
Identifiers are quoted here; values are always bound parameters (``?``).
"""

from __future__ import annotations

from collections.abc import Sequence

FINITE = "isfinite({x})"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def as_double(column: str) -> str:
    return f"CAST({ident(column)} AS DOUBLE)"


def side_counts(columns: Sequence[tuple[str, bool]], table: str) -> str:
    """One row: the row count, then per column its usable count (finite for numeric columns,
    non-null for the others). ``columns`` pairs a name with whether it is numeric."""
    parts = ["count(*)"]
    for name, numeric in columns:
        if numeric:
            parts.append(f"count(*) FILTER (WHERE {FINITE.format(x=as_double(name))})")
        else:
            parts.append(f"count({ident(name)})")
    return f"SELECT {', '.join(parts)} FROM {table}"


def union_table(column: str, ref: str, cur: str, target: str) -> str:
    """Create ``target(v, rc, cc, cr, ccum, nxt)`` for one numeric column (see the module doc).

    One aggregation over both sides tagged by side (faster than two and a join), then one
    sort shared by the running sums and ``lead``."""
    x = as_double(column)
    finite = FINITE.format(x=x)
    return f"""
CREATE OR REPLACE TEMP TABLE {target} AS
WITH t AS (SELECT {x} AS v, 0 AS s FROM {ref} WHERE {finite}
           UNION ALL SELECT {x} AS v, 1 AS s FROM {cur} WHERE {finite}),
     j AS (SELECT v, count(*) FILTER (WHERE s = 0) AS rc, count(*) FILTER (WHERE s = 1) AS cc
           FROM t GROUP BY v)
SELECT v, rc, cc, sum(rc) OVER w AS cr, sum(cc) OVER w AS ccum, lead(v) OVER w AS nxt
FROM j
WINDOW w AS (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""


def numeric_summary(table: str) -> str:
    """Parameters: n, m (finite counts of each side). One row: KS, the unnormalised W1,
    distinct counts (reference, current, union), reference min/max and the current count
    outside them, the reference mean."""
    gap = "abs(CAST(cr AS DOUBLE) / ? - CAST(ccum AS DOUBLE) / ?)"
    return f"""
WITH g AS (SELECT v, rc, cc, nxt, {gap} AS d FROM {table}),
     lim AS (SELECT min(v) FILTER (WHERE rc > 0) AS lo, max(v) FILTER (WHERE rc > 0) AS hi
             FROM {table})
SELECT max(d), fsum(d * (nxt - v)),
       count(*) FILTER (WHERE rc > 0), count(*) FILTER (WHERE cc > 0), count(*),
       any_value(lim.lo), any_value(lim.hi),
       coalesce(sum(cc) FILTER (WHERE v < lim.lo OR v > lim.hi), 0),
       fsum(rc * v) FILTER (WHERE rc > 0)
FROM g, lim
"""


def largest_magnitude(table: str) -> str:
    """The largest absolute value of the union table."""
    return f"SELECT max(abs(v)) FROM {table}"


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


def order_statistics(table: str, k: int) -> str:
    """Parameters: ``k`` 0-based ranks, each twice. Rows (rank range start, end, value): the
    reference values whose run of ties [cr - rc, cr) holds one of the ranks (one scan)."""
    hits = " OR ".join("(cr - rc <= ? AND cr > ?)" for _ in range(k))
    return f"SELECT cr - rc, cr, v FROM {table} WHERE rc > 0 AND ({hits})"


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


def union_values(table: str) -> str:
    """Rows (v, rc, cc) of the union table, ascending: for small columns only."""
    return f"SELECT v, rc, cc FROM {table} ORDER BY v"
