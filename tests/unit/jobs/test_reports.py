"""Scheduled reports on a fixed clock: each due fire submitted once, the latest missed one after
downtime, nothing before the schedule existed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.clock import FixedClock
from bot.monitoring import schedules
from bot.monitoring.runner import ReportJob
from bot.policy.file import Policy
from bot.policy.permissions import Permissions
from bot.runtime import Runtime
from jobs.reports import next_runs, tick

START = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


class CollectingRunner:
    """Stands in for the report runner: keeps the jobs instead of computing them."""

    def __init__(self) -> None:
        self.jobs: list[ReportJob] = []

    def submit(self, job: ReportJob) -> None:
        self.jobs.append(job)


class NoGroups:
    """A user-group directory with no groups."""

    def group_members(self, group_id: str) -> set[str]:
        return set()


def add(rt: Runtime, kind: str, cron: str) -> str:
    permissions = Permissions(Policy(env_approvers=("U0REQ",)), NoGroups())  # may schedule
    sched = schedules.add(rt, kind, "churn", cron, "C0MLOPS", "U0REQ", permissions=permissions)
    return sched.id


def on_clock(runtime: Runtime) -> tuple[Runtime, FixedClock]:
    clock = FixedClock(START)
    return dataclasses.replace(runtime, clock=clock), clock


def test_each_hourly_fire_is_submitted_once(runtime: Runtime) -> None:
    rt, clock = on_clock(runtime)
    sched = add(rt, "drift", "0 * * * *")
    runner = CollectingRunner()
    assert tick(rt, runner) == []  # created at 9:10: the 9:00 fire came before it existed
    clock.advance(timedelta(minutes=50))  # 10:00
    assert tick(rt, runner) == [sched]
    clock.advance(timedelta(minutes=5))
    assert tick(rt, runner) == []  # 10:00 was claimed
    clock.advance(timedelta(hours=1))
    assert tick(rt, runner) == [sched]
    assert [(j.kind, j.model, j.channel, j.schedule_id) for j in runner.jobs] == [
        ("drift", "churn", "C0MLOPS", sched)
    ] * 2


def test_after_downtime_only_the_latest_missed_fire_runs(runtime: Runtime) -> None:
    rt, clock = on_clock(runtime)
    sched = add(rt, "perf", "0 * * * *")
    clock.advance(timedelta(hours=7))  # seven fires missed
    runner = CollectingRunner()
    assert tick(rt, runner) == [sched] and len(runner.jobs) == 1


def test_next_runs_name_each_schedule(runtime: Runtime) -> None:
    rt, _ = on_clock(runtime)
    sched = add(rt, "drift", "30 6 * * *")
    assert next_runs(rt) == [f"• `{sched}` drift churn: 2026-03-03 06:30 UTC"]
