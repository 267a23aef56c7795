"""A monitor's drift report with stored profiles: the reference is profiled once and reused
until it changes, daily partitions of the current side are each profiled once, and every
report is the one computed from the frames (document and charts)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.config import Settings
from bot.monitoring.document import DriftDocument, ReportKind
from bot.monitoring.drift.profile_store import ProfileKind, ProfileStore
from bot.monitoring.report import Report, make_report
from bot.monitoring.runner import compute
from bot.policy.file import load_policy
from bot.registry.gateway import Registry

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def day_frame(day: int, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(100 + day)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + day, 10, n).round(1),  # ties
            "income": np.where(rng.random(n) < 0.02, np.nan, rng.lognormal(10, 1, n)),
            "plan": rng.choice(["basic", "pro", "team"][day % 2 :], n),
            "visits": rng.integers(0, 4, n),
            "flag": rng.random(n) < 0.5,
            "label": rng.integers(0, 2, n),
            "ts": pd.date_range(f"2026-11-{day:02d}", periods=n, freq="1min", tz="UTC"),
        }
    )


def setup(tmp_path: Path, mlflow_store: str) -> tuple[Settings, Path]:
    reference = pd.concat([day_frame(d, 1500) for d in (1, 2)], ignore_index=True)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    policy = tmp_path / "policy.toml"
    policy.write_text(f"""
[models.churn]
owners = ["U0ALICE"]
[models.churn.monitor]
reference = "{tmp_path / "reference.parquet"}"
current = "{tmp_path / "current" / "date=*" / "part-0.parquet"}"
target = "label"
timestamp = "ts"
""")
    settings = Settings(
        _env_file=None,
        mlflow_tracking_uri=mlflow_store,  # type: ignore[call-arg]
        mlops_bot_config=policy,
        mlops_bot_data_dir=tmp_path / "data",
    )
    return settings, tmp_path / "current"


def write_day(folder: Path, day: int) -> Path:
    path = folder / f"date=2026-11-{day:02d}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    day_frame(day).to_parquet(path, index=False)
    return path


def report(settings: Settings, store: ProfileStore | None, **kwargs: Any) -> Report:
    registry = Registry(settings.mlflow_tracking_uri)
    return make_report(
        ReportKind.DRIFT,
        registry,
        load_policy(settings),
        model="churn",
        now=NOW,
        profiles=store,
        **kwargs,
    )


def body(rep: Report) -> dict[str, Any]:
    """The document without the profiles' provenance."""
    assert isinstance(rep.document, DriftDocument)
    doc = rep.document.model_dump(mode="json", exclude_unset=True, by_alias=True)
    for side in ("reference", "current"):
        doc[side].pop("profile", None)
        doc[side].pop("partitions", None)
    return doc


def provenance(rep: Report) -> tuple[str | None, Any]:
    doc = rep.document
    assert isinstance(doc, DriftDocument)
    parts = doc.current.partitions
    return doc.reference.profile, None if parts is None else (parts.files, parts.profiled)


def test_the_reference_is_profiled_once_until_it_changes(tmp_path: Path, mlflow_store: str) -> None:
    settings, folder = setup(tmp_path, mlflow_store)
    current = str(write_day(folder, 5))  # one file: read as a frame
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    fresh = report(settings, None, current=current)

    first = report(settings, store, current=current)
    assert provenance(first) == ("computed", None)
    again = report(settings, store, current=current)
    assert provenance(again) == ("cached", None)
    assert body(first) == body(again) == body(fresh)
    assert {f.name for f in fresh.document.features} == {"age", "income", "plan", "visits", "flag"}
    assert first.charts == again.charts == fresh.charts  # same PNG bytes, from the profiles
    assert (store.hits[ProfileKind.REFERENCE], store.writes[ProfileKind.REFERENCE]) == (1, 1)
    (stored,) = (tmp_path / "data" / "profiles" / "reference").rglob("*.parquet")

    # the reference changes: a new key, profiled again; the report is the new data's
    changed = day_frame(3, 3000)
    changed.to_parquet(tmp_path / "reference.parquet", index=False)
    after = report(settings, store, current=current)
    assert provenance(after) == ("computed", None)
    assert body(after) == body(report(settings, None, current=current)) != body(fresh)
    assert store.writes[ProfileKind.REFERENCE] == 2 and stored.exists()

    # a corrupt profile is computed again, and the report is the same
    (newest,) = [p for p in stored.parent.glob("*.parquet") if p != stored]
    newest.write_bytes(b"PAR1" + os.urandom(64))
    repaired = report(settings, store, current=current)
    assert provenance(repaired) == ("computed", None) and body(repaired) == body(after)
    assert provenance(report(settings, store, current=current)) == ("cached", None)


def test_daily_partitions_are_profiled_once_and_merge_exactly(
    tmp_path: Path, mlflow_store: str
) -> None:
    settings, folder = setup(tmp_path, mlflow_store)
    for day in range(1, 8):
        write_day(folder, day)
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    week = report(settings, store)
    assert provenance(week) == ("computed", (7, 7))
    assert week.document.current.rows == 7 * 800
    assert body(week) == body(report(settings, None))  # the glob read as one frame
    assert store.writes[ProfileKind.PARTITION] == 7

    # the next day: the window moves on, only the new day is read
    (folder / "date=2026-11-01" / "part-0.parquet").unlink()
    write_day(folder, 8)
    next_week = report(settings, store)
    assert provenance(next_week) == ("cached", (7, 1))
    assert store.hits[ProfileKind.PARTITION] == 6 and store.writes[ProfileKind.PARTITION] == 8
    expected = report(settings, None)
    assert body(next_week) == body(expected)
    assert next_week.charts == expected.charts

    # a folder works too (the in-memory loader alone reads globs and files)
    whole = report(settings, store, current=str(folder))
    assert (
        provenance(whole) == ("cached", (7, 0))
        and body(whole)["features"] == body(expected)["features"]
    )


def test_the_report_worker_keeps_profiles_under_the_data_dir(
    tmp_path: Path, mlflow_store: str
) -> None:
    settings, folder = setup(tmp_path, mlflow_store)
    write_day(folder, 1)
    write_day(folder, 2)
    first = compute(settings, ReportKind.DRIFT, "churn", None)  # scheduled and /mlops drift
    second = compute(settings, ReportKind.DRIFT, "churn", None)
    assert provenance(first) == ("computed", (2, 2))
    assert provenance(second) == ("cached", (2, 0))
    profiles = tmp_path / "data" / "profiles"
    assert len(list((profiles / "reference").rglob("*.parquet"))) == 1
    assert len(list((profiles / "partitions").rglob("*.parquet"))) == 2


def test_partitions_that_disagree_are_read_as_one_frame(tmp_path: Path, mlflow_store: str) -> None:
    settings, folder = setup(tmp_path, mlflow_store)
    write_day(folder, 1)
    odd = write_day(folder, 2)
    day_frame(2).assign(visits=lambda f: f["visits"] * 0.5).to_parquet(odd, index=False)
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    rep = report(settings, store)
    assert provenance(rep) == ("computed", None)  # int64 and float64 visits: no merge
    assert body(rep) == body(report(settings, None))


def test_an_artifact_reference_is_keyed_by_its_run(tmp_path: Path, mlflow_store: str) -> None:
    from mlflow.tracking import MlflowClient

    settings, folder = setup(tmp_path, mlflow_store)
    current = str(write_day(folder, 4))
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    for version in ("1", "2"):  # the same file name, other data, on each version's run
        run_id = client.get_model_version("churn", version).run_id
        src = tmp_path / version / "reference.parquet"
        src.parent.mkdir()
        day_frame(int(version), 2000).to_parquet(src, index=False)
        client.log_artifact(run_id, str(src))
    policy = settings.mlops_bot_config
    assert policy is not None
    text = policy.read_text().replace(
        str(tmp_path / "reference.parquet"), "mlflow-artifact:reference.parquet"
    )
    policy.write_text(text)
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    first = report(settings, store, current=current)
    assert provenance(first) == ("computed", None)
    assert provenance(report(settings, store, current=current)) == ("cached", None)
    assert body(first) == body(report(settings, None, current=current))
    client.set_registered_model_alias("churn", "champion", "2")  # another run: another key
    moved = report(settings, store, current=current)
    assert provenance(moved) == ("computed", None)
    assert body(moved) == body(report(settings, None, current=current)) != body(first)


def close_bodies(a: Report, b: Report) -> None:
    """Two documents whose statistics agree to 1e-9 (one engine's, another's)."""
    from tests.unit.bot.monitoring.drift.engines.test_duckdb_engine import _close

    da, db = body(a), body(b)
    da.pop("engine"), db.pop("engine")
    assert _close(da, db), (da, db)


def test_duckdb_reads_a_stored_profile_instead_of_the_reference(
    tmp_path: Path, mlflow_store: str
) -> None:
    """The out-of-core engines profile the reference once too (sorted value counts, category
    counts, a chart sample), and each daily file of the current glob: the next report reads
    nothing but the new day."""
    settings, folder = setup(tmp_path, mlflow_store)
    for day in range(1, 4):
        write_day(folder, day)
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    fresh = report(settings, None, engine="duckdb")
    numpy = report(settings, None, engine="numpy")
    first = report(settings, store, engine="duckdb")
    again = report(settings, store, engine="duckdb")
    assert (provenance(first), provenance(again)) == (("computed", (3, 3)), ("cached", (3, 0)))
    assert first.document.engine == again.document.engine == "duckdb"
    assert body(first) == body(fresh)  # the stored values are the reference's, to the bit here
    close_bodies(again, numpy)
    assert again.document.reference.rows == 3000 and again.document.current.rows == 3 * 800
    assert len(again.charts) == len(fresh.charts) > 0
    assert (store.hits[ProfileKind.TABLES], store.writes[ProfileKind.TABLES]) == (1, 1)
    assert store.writes[ProfileKind.PARTITION_TABLES] == 3

    # the next day: the window moves on, only the new day is read
    (folder / "date=2026-11-01" / "part-0.parquet").unlink()
    write_day(folder, 4)
    next_day = report(settings, store, engine="duckdb")
    assert provenance(next_day) == ("cached", (3, 1))
    close_bodies(next_day, report(settings, None, engine="numpy"))
    assert store.writes[ProfileKind.PARTITION_TABLES] == 4

    tables = tmp_path / "data" / "profiles" / "reference-tables"
    (meta,) = tables.rglob("meta.json")
    assert {p.name for p in meta.parent.iterdir()} >= {"sample.parquet", "values-0.parquet"}

    # the reference changes: profiled again; a corrupt meta.json is a miss, not a failure
    day_frame(6, 2000).to_parquet(tmp_path / "reference.parquet", index=False)
    after = report(settings, store, engine="duckdb")
    assert after.document.reference.profile == "computed"
    close_bodies(after, report(settings, None, engine="numpy"))
    newest = max(tables.rglob("meta.json"), key=lambda p: p.stat().st_mtime_ns)
    newest.write_text("{not json")
    assert report(settings, store, engine="duckdb").document.reference.profile == "computed"
    assert report(settings, store, engine="duckdb").document.reference.profile == "cached"
    assert not [p for p in tables.rglob("*") if p.name.startswith(".tmp-")]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_a_stored_profile_too(
    tmp_path: Path, mlflow_store: str, spark_master: str
) -> None:
    from bot.monitoring.drift.engines import EngineConfig

    settings, folder = setup(tmp_path, mlflow_store)
    write_day(folder, 1)
    write_day(folder, 2)
    store = ProfileStore.in_data_dir(settings.mlops_bot_data_dir)
    config = EngineConfig(spark_master=spark_master, spill_dir=tmp_path / "spill")
    first = report(settings, store, engine="spark", engine_config=config, charts=False)
    again = report(settings, store, engine="spark", engine_config=config, charts=False)
    assert (provenance(first), provenance(again)) == (("computed", (2, 2)), ("cached", (2, 0)))
    assert again.document.engine == "spark"
    close_bodies(again, report(settings, None, engine="numpy", charts=False))


def test_a_store_that_cannot_be_written_leaves_the_out_of_core_report_whole(
    tmp_path: Path, mlflow_store: str
) -> None:
    settings, folder = setup(tmp_path, mlflow_store)
    write_day(folder, 1)
    write_day(folder, 2)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the store's folder should be")
    rep = report(settings, ProfileStore(blocked), engine="duckdb")
    assert provenance(rep) == (None, None)
    close_bodies(rep, report(settings, None, engine="numpy"))
