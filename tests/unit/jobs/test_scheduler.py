"""The scheduler's housekeeping: the delivery table (webhook, event and command IDs) is pruned."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FixedClock
from bot.registry.gateway import Registry
from bot.runtime import Runtime
from bot.storage import db
from bot.storage.deliveries import first_delivery
from bot.storage.tables import WebhookDelivery
from jobs.scheduler import Scheduler


def test_deliveries_older_than_a_day_are_pruned_by_a_daily_job(runtime: Runtime) -> None:
    for delivery in ("old-webhook", "slack-command:old", "recent-webhook"):
        assert first_delivery(runtime.engine, delivery)
    now = datetime.now(UTC)
    with db.session(runtime.engine, write=True) as s:
        for row in s.exec(select(WebhookDelivery)).all():
            if row.delivery_id != "recent-webhook":
                row.received_at = now - timedelta(days=1, minutes=1)
        s.commit()
    rt = dataclasses.replace(runtime, clock=FixedClock(now))
    sched = Scheduler(rt, None, None, None)  # type: ignore[arg-type]
    job = sched._sched.get_job("prune deliveries")
    assert job is not None and job.trigger.interval == timedelta(days=1)
    job.func()  # what the scheduler runs
    with db.session(runtime.engine) as s:
        kept = {row.delivery_id for row in s.exec(select(WebhookDelivery)).all()}
    assert kept == {"recent-webhook"}
    assert not first_delivery(runtime.engine, "recent-webhook")  # still refused as a replay


def test_a_job_failing_on_a_dependency_that_is_down_logs_one_line(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import free_port

    down = dataclasses.replace(runtime, registry=Registry(f"http://127.0.0.1:{free_port()}"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    sched = Scheduler(down, None, None, None)  # type: ignore[arg-type]
    job = sched._sched.get_job("reconcile protected aliases")
    assert job is not None
    job.func()  # what the scheduler runs
    [record] = [r for r in caplog.records if r.name == "jobs.scheduler"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage().startswith(
        "job 'reconcile protected aliases' failed: MLflow could not list models: "
    )
