"""The shared SQL of the exact statistics: the value counts the Spark engine aggregates feed
the same sorted stream, moments and bins as the rows the DuckDB engine reads; the Spark
dialect's finite test and identifier quoting."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from bot.monitoring.drift.engines import sql


def _side(rng: np.random.Generator, n: int, shift: float) -> pa.Table:
    x = np.round(rng.normal(shift, 1.0, n), 1)  # ties
    odd = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], n)
    x = np.where(rng.random(n) < 0.1, odd, x)
    mask = rng.random(n) < 0.05
    return pa.table({'we"ird': pa.array(x, mask=mask)})


def test_value_counts_are_the_grouped_sorted_union_of_the_rows() -> None:
    """What the Spark engine aggregates (value_counts) is what the DuckDB engine streams
    (sorted_union, grouped), types included: the same SortedScan input."""
    rng = np.random.default_rng(1)
    con = duckdb.connect(":memory:")
    con.register("ref", _side(rng, 5000, 0.0))
    con.register("cur", _side(rng, 4000, 0.3))
    counts = con.sql(sql.value_counts('we"ird', "ref", "cur")).to_arrow_table()
    con.register("counts", counts)
    from_counts = con.execute(sql.union_values("counts")).fetchall()
    from_rows = con.execute(sql.sorted_union('we"ird', "ref", "cur", grouped=True)).fetchall()
    assert from_counts == from_rows and len(from_rows) > 50
    assert [str(t) for t in con.table("counts").types] == ["DOUBLE", "BIGINT", "BIGINT"]


def test_moments_and_bins_from_value_counts_equal_those_of_the_rows() -> None:
    rng = np.random.default_rng(2)
    con = duckdb.connect(":memory:")
    con.register("ref", _side(rng, 3000, 0.0))
    con.register("cur", _side(rng, 2000, 0.5))
    con.register("counts", con.sql(sql.value_counts('we"ird', "ref", "cur")).to_arrow_table())
    by_counts = con.execute(sql.reference_scaled_sum("counts"), [4.0]).fetchall()[0][0]
    by_rows = con.execute(sql.side_scaled_sum('we"ird', "ref"), [4.0]).fetchall()[0][0]
    assert abs(by_counts - by_rows) <= 1e-12 * abs(by_rows)
    edges = [-1.0, 0.0, 0.5]
    bins = sorted(con.execute(sql.bin_counts("counts", 3), edges).fetchall())
    side = sorted(con.execute(sql.side_bin_counts('we"ird', "ref", "cur", 3), edges).fetchall())
    assert bins == side and sum(r[1] for r in bins) > 2000


def test_spark_dialect_quotes_with_backticks_and_has_no_isfinite() -> None:
    assert sql.ident("a`b.c", sql.SPARK) == "`a``b.c`"
    assert sql.ident('a"b') == '"a""b"'
    query = sql.side_counts([("x", True), ("t", False)], "v", sql.SPARK, dates=["t"])
    assert "isfinite" not in query and "`x`" in query and "unix_micros" in query
    # the Spark finite test reads the same in DuckDB: NaN, ±inf and NULL are not finite
    finite = sql.SPARK.finite.format(x="x")
    con = duckdb.connect(":memory:")
    values = "VALUES (1.5), (-2.0), ('nan'::DOUBLE), ('inf'::DOUBLE), ('-inf'::DOUBLE), (NULL)"
    got = con.execute(f"SELECT count(*) FILTER (WHERE {finite}) FROM ({values}) t(x)").fetchone()
    assert got == (2,)
