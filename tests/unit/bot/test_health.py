"""Health checks: each part named, a failing part says why, answers reused for a few seconds."""

from __future__ import annotations

from bot.health import Health
from bot.redact import redact
from bot.runtime import Runtime


def test_each_part_is_checked_and_reused(runtime: Runtime) -> None:
    calls = []

    def scheduler() -> tuple[bool, str]:
        calls.append(1)
        return True, "running 5 jobs"

    health = Health(runtime.engine, runtime.registry, scheduler)
    items = {i.name: i for i in health.check()}
    assert items["database"].ok and items["database"].detail == "sqlite"
    assert items["mlflow"].ok and items["scheduler"].detail == "running 5 jobs"
    health.check()
    assert len(calls) == 1  # the second check within the TTL reuses the first


def test_without_a_scheduler_it_says_so(runtime: Runtime) -> None:
    items = {i.name: i for i in Health(runtime.engine, runtime.registry).check()}
    assert items["scheduler"].ok and "not running" in items["scheduler"].detail


def test_credentials_never_show() -> None:
    assert redact("http://user:pw@mlflow:5000") == "http://***@mlflow:5000"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"
