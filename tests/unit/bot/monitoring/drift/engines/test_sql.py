"""The shared SQL of the exact statistics: the union table built from per-side value counts
(as the Spark engine feeds it) is the union table built from the rows, types included; the
Spark dialect's finite test and identifier quoting."""

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


def test_union_from_value_counts_equals_union_from_rows() -> None:
    rng = np.random.default_rng(1)
    con = duckdb.connect(":memory:")
    con.register("ref", _side(rng, 5000, 0.0))
    con.register("cur", _side(rng, 4000, 0.3))
    con.execute(sql.union_table('we"ird', "ref", "cur", "from_rows"))
    con.register("counts", con.sql(sql.value_counts('we"ird', "ref", "cur")).to_arrow_table())
    con.execute(sql.union_table_from_counts("counts", "from_counts"))

    def table(name: str) -> tuple[list[tuple[object, ...]], list[str]]:
        rows = con.execute(f"SELECT * FROM {name} ORDER BY v").fetchall()
        return rows, [str(t) for t in con.table(name).types]

    from_rows, from_counts = table("from_rows"), table("from_counts")
    assert from_counts == from_rows
    assert len(from_rows[0]) > 50 and from_rows[1][:3] == ["DOUBLE", "BIGINT", "BIGINT"]
    row = con.execute(sql.numeric_summary("from_counts"), [5000, 4000]).fetchone()
    assert row is not None and 0 < row[0] < 1  # KS of a shifted column


def test_union_from_counts_of_values_on_one_side() -> None:
    con = duckdb.connect(":memory:")
    counts = {"v": [2.0, 1.0], "rc": [1, 3], "cc": [0, 0]}
    con.register(
        "counts",
        pa.table(counts, pa.schema({"v": pa.float64(), "rc": pa.int64(), "cc": pa.int64()})),
    )
    con.execute(sql.union_table_from_counts("counts", "u"))
    rows = con.execute("SELECT v, rc, cc, cr, ccum, nxt FROM u ORDER BY v").fetchall()
    assert rows == [(1.0, 3, 0, 3, 0, 2.0), (2.0, 1, 0, 4, 0, None)]


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
