"""Drift reports by engine: the DuckDB engine reads local files out of core, beyond the
in-memory caps, and its report matches the numpy engine's; the document names the engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.config import Settings
from bot.monitoring.datasets import DatasetError, Limits
from bot.monitoring.document import DriftDocument
from bot.monitoring.drift.engines import EngineConfig
from bot.monitoring.report import ReportError, make_report
from bot.policy.file import PolicyError, load_policy
from bot.registry.gateway import Registry
from tests.helpers import cli_env, run_mlops_bot


def _data(tmp_path: Path) -> tuple[str, str]:
    """A reference file and a hive-partitioned current folder (two days)."""
    rng = np.random.default_rng(11)
    n = 4000
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "visits": rng.integers(0, 4, n),
        }
    )
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur = ref.copy()
    cur["age"] += 8
    for day in (1, 2):
        folder = tmp_path / "cur" / f"day={day}"
        folder.mkdir(parents=True)
        cur.iloc[(day - 1) * 2000 : day * 2000].to_parquet(folder / "p.parquet", index=False)
    return str(tmp_path / "ref.parquet"), str(tmp_path / "cur")


def _report(tmp_path: Path, **kwargs: object) -> DriftDocument:
    rep = make_report(
        "drift",  # type: ignore[arg-type]
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        engine_config=EngineConfig(memory_limit="256MB", spill_dir=tmp_path / "spill"),
        **kwargs,  # type: ignore[arg-type]
    )
    assert isinstance(rep.document, DriftDocument)
    return rep.document


def test_duckdb_report_reads_beyond_the_in_memory_caps_and_matches_numpy(
    tmp_path: Path,
) -> None:
    ref, cur = _data(tmp_path)
    small = Limits(max_rows=1000)
    with pytest.raises(DatasetError, match="more than 1,000 rows|at most 1,000"):
        _report(tmp_path, reference=ref, current=cur + "/*/*.parquet", limits=small, engine="numpy")
    out_of_core = _report(tmp_path, reference=ref, current=cur, limits=small, engine="duckdb")
    in_memory = _report(tmp_path, reference=ref, current=cur + "/*/*.parquet", engine="numpy")
    assert (out_of_core.engine, in_memory.engine) == ("duckdb", "numpy")
    assert (out_of_core.reference.rows, out_of_core.current.rows) == (4000, 4000)
    assert [f.name for f in out_of_core.features] == ["age", "income", "plan", "visits"]
    for a, b in zip(out_of_core.features, in_memory.features, strict=True):
        assert (a.method, a.drifted, a.type) == (b.method, b.drifted, b.type)
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9, abs=1e-12)
    assert {f.name for f in out_of_core.features if f.drifted} == {"age"}
    # auto: what the in-memory loader would refuse goes to DuckDB instead of failing
    assert _report(tmp_path, reference=ref, current=cur, limits=small).engine == "duckdb"


def test_auto_keeps_small_data_in_memory_and_charts_come_with_duckdb(tmp_path: Path) -> None:
    ref, cur = _data(tmp_path)
    assert _report(tmp_path, reference=ref, current=cur + "/*/*.parquet").engine == "numpy"
    rep = make_report(
        "drift",  # type: ignore[arg-type]
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        reference=ref,
        current=cur,
        engine="duckdb",
    )
    names = [name for name, _ in rep.charts]
    assert names[0] == "drift_summary.png" and len(names) == 5  # summary + the 4 features
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for _, png in rep.charts)


def test_bad_sources_and_engines_are_one_line_report_errors(tmp_path: Path) -> None:
    ref, _ = _data(tmp_path)
    (tmp_path / "bad.parquet").write_bytes(b"garbage")
    cases = {
        str(tmp_path / "bad.parquet"): "DuckDB could not read the data",
        str(tmp_path / "none" / "*.parquet"): "no file matches",
    }
    for source, message in cases.items():
        with pytest.raises(ReportError, match=message) as info:
            _report(tmp_path, reference=ref, current=source, engine="duckdb")
        assert "\n" not in str(info.value)
    with pytest.raises(ReportError, match="unknown engine 'gpu'; use auto, numpy, duckdb or spark"):
        _report(tmp_path, reference=ref, current=ref, engine="gpu")


@pytest.mark.slow
@pytest.mark.spark
def test_spark_report_matches_duckdb_and_says_spark(tmp_path: Path, spark_master: str) -> None:
    ref, cur = _data(tmp_path)
    config = EngineConfig(spill_dir=tmp_path / "spill", spark_master=spark_master)
    kwargs: dict[str, object] = {"reference": ref, "current": cur, "engine_config": config}
    spark = make_report(
        "drift",  # type: ignore[arg-type]
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        engine="spark",
        **kwargs,  # type: ignore[arg-type]
    )
    duck = _report(tmp_path, reference=ref, current=cur, engine="duckdb")
    assert isinstance(spark.document, DriftDocument)
    assert (spark.document.engine, spark.document.current.rows) == ("spark", 4000)
    assert [f.name for f in spark.document.features] == ["age", "income", "plan", "visits"]
    for a, b in zip(spark.document.features, duck.features, strict=True):
        assert (a.method, a.drifted, a.type) == (b.method, b.drifted, b.type)
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9, abs=1e-12)
    assert [name for name, _ in spark.charts][0] == "drift_summary.png"


def test_the_monitor_chooses_its_engine_in_the_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    monitor = (
        '[models.churn]\nowners = ["U0ALICE"]\n[models.churn.monitor]\ncurrent = "c.parquet"\n'
    )
    policy.write_text(monitor + 'engine = "duckdb"\n')
    settings = Settings(_env_file=None, mlops_bot_config=policy)  # type: ignore[call-arg]
    assert load_policy(settings).for_model("churn").monitor.engine == "duckdb"  # type: ignore[union-attr]
    policy.write_text(monitor + 'engine = "gpu"\n')
    with pytest.raises(PolicyError, match="engine"):
        load_policy(settings)


@pytest.mark.slow
def test_cli_engine_option(tmp_path: Path) -> None:
    ref, cur = _data(tmp_path)
    env = cli_env(tmp_path, MLOPS_BOT_DUCKDB_MEMORY_LIMIT="300MB")
    args = ["drift", "--reference", ref, "--current", cur, "--out", "out", "--engine", "duckdb"]
    res = run_mlops_bot(tmp_path, "report", *args, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "duckdb, memory limit 300MB" in res.stderr
    body = json.loads((tmp_path / "out" / "report.json").read_text())
    assert body["engine"] == "duckdb" and body["current"]["rows"] == 4000
    bad = run_mlops_bot(tmp_path, "report", *args[:-1], "gpu", env=env, timeout=120)
    assert bad.returncode == 1 and "--engine must be auto, numpy, duckdb or spark" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("correction", ["bh", "none"])
def test_duckdb_and_numpy_reports_are_the_same_document(tmp_path: Path, correction: str) -> None:
    """Verdicts, raw and adjusted p, schema changes, quality and the CSV table, whichever engine."""
    from datetime import UTC, datetime

    rng = np.random.default_rng(12)
    n = 600
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "member": rng.choice(["yes", "no"], n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "gone": rng.normal(size=n),
            "seen": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    cur = ref.drop(columns=["gone"]).assign(age=ref["age"] + 3, added=1.0)
    cur["member"] = rng.choice(["yes", "no"], n, p=[0.6, 0.4])
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    now = datetime(2024, 3, 1, tzinfo=UTC)
    reports = [
        make_report(
            "drift",  # type: ignore[arg-type]
            Registry("sqlite:///unused.db"),
            load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
            reference=str(tmp_path / "ref.parquet"),
            current=str(tmp_path / "cur.parquet"),
            engine=engine,
            correction=correction,
            now=now,
            charts=False,
        )
        for engine in ("numpy", "duckdb")
    ]
    bodies = [json.loads(r.document.to_json()) for r in reports]
    assert [b.pop("engine") for b in bodies] == ["numpy", "duckdb"]
    numpy_body, duckdb_body = bodies
    assert duckdb_body["correction"] == correction
    assert duckdb_body["schema"]["missing"] == ["gone"] and duckdb_body["schema"]["new"] == [
        "added"
    ]
    assert duckdb_body["generated_at"] == "2024-03-01T00:00:00Z"
    for fa, fb in zip(numpy_body.pop("features"), duckdb_body.pop("features"), strict=True):
        assert fa.keys() == fb.keys()
        for key, value in fa.items():
            if isinstance(value, float):
                assert fb[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (fa["name"], key)
            else:
                assert fb[key] == value, (fa["name"], key)
    assert numpy_body == duckdb_body
    assert {f.name for f in reports[1].document.features if f.drifted} == {"age", "member"}
    assert reports[0].files == reports[1].files  # drift_features.csv, byte for byte
    assert reports[0].alert and reports[1].alert  # the schema changed


def test_no_common_column_is_a_one_line_error_on_duckdb_too(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(tmp_path / "ref.parquet", index=False)
    pd.DataFrame({"b": [1.0, 2.0], "c": [3, 4]}).to_parquet(tmp_path / "cur.parquet", index=False)
    for engine in ("numpy", "duckdb"):
        with pytest.raises(ReportError) as info:
            _report(
                tmp_path,
                reference=str(tmp_path / "ref.parquet"),
                current=str(tmp_path / "cur.parquet"),
                engine=engine,
            )
        assert str(info.value) == (
            "no column to compare: the reference has 1 column(s), the current data 2, "
            "and none is in both"
        )


@pytest.mark.slow
@pytest.mark.spark
def test_cli_engine_spark_uses_the_master_setting(tmp_path: Path, spark_master: str) -> None:
    ref, cur = _data(tmp_path)
    env = cli_env(tmp_path, MLOPS_BOT_SPARK_MASTER="local[1]")
    args = ["drift", "--reference", ref, "--current", cur, "--out", "out", "--no-charts"]
    res = run_mlops_bot(tmp_path, "report", *args, "--engine", "spark", env=env, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "(spark, master local[1])" in res.stderr and "Traceback" not in res.stderr
    body = json.loads((tmp_path / "out" / "report.json").read_text())
    assert body["engine"] == "spark" and body["current"]["rows"] == 4000
