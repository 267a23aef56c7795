"""Evidently's own Spark engine (``evidently.legacy.spark``) on two Parquet files: one data drift
table with one stattest for every column, its per-column drift scores written as JSON.

Runs in Evidently's venv, not ours (it imports nothing of this repository); started by
bench/evidently_spark.py:

    python _evidently_spark_worker.py REF.parquet CUR.parquet wasserstein|jensenshannon OUT.json

The session has the settings of our Spark engine's (``spark_session`` in
bot/monitoring/drift/engines/spark_engine.py): local[2], UI off, two shuffle partitions, driver
on 127.0.0.1, Arrow on, driver memory 1g. Every column is declared numerical in the column
mapping, so Evidently does not count each column's distinct values to infer its type (its
fastest setting). The phases are timed from the first line of this script.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

from _laps import Laps  # noqa: E402

CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.log.level": "WARN",
    "spark.driver.memory": "1g",
}


def main() -> None:
    ref_path, cur_path, method, out = sys.argv[1:5]
    laps = Laps(STARTED)
    lap, phases = laps.lap, laps.phases

    from evidently.legacy.metrics import DataDriftTable
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report
    from evidently.legacy.spark import SparkEngine
    from pyspark.sql import SparkSession

    lap("imports")
    builder = SparkSession.builder.master("local[2]").appName("evidently drift")
    for key, value in CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    lap("session start")
    ref = spark.read.parquet(ref_path)
    cur = spark.read.parquet(cur_path)
    columns = list(ref.columns)
    metric = DataDriftTable(num_stattest=method)
    report = Report(metrics=[metric])
    mapping = ColumnMapping(numerical_features=columns, categorical_features=[])
    report.run(reference_data=ref, current_data=cur, column_mapping=mapping, engine=SparkEngine)
    result = metric.get_result()
    lap("report (reads, statistics)")
    scores = {
        name: {
            "score": float(col.drift_score),
            "drifted": bool(col.drift_detected),
            "stattest": col.stattest_name,
        }
        for name, col in result.drift_by_columns.items()
    }
    with open(out, "w") as fh:
        json.dump({"phases": phases, "columns": scores}, fh)
    spark.stop()


if __name__ == "__main__":
    main()
