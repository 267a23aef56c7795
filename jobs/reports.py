"""Scheduled reports: every tick, each schedule's latest due fire is claimed and computed.

One interval job instead of one APScheduler cron job per schedule: the database stays the
only source of truth (schedules added on another replica are seen at the next tick), the
latest missed fire runs once after downtime (coalescing), and the claim makes it exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.clock import as_utc
from bot.monitoring import schedules
from bot.monitoring.document import ReportKind
from bot.monitoring.runner import ReportJob, ReportRunner
from bot.runtime import Runtime
from bot.storage.tables import ReportSchedule

log = logging.getLogger(__name__)
TICK_SECONDS = 20


def trigger_of(sched: ReportSchedule, timezone: str):  # type: ignore[no-untyped-def]
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(sched.cron, timezone=timezone)


def due_fire(sched: ReportSchedule, timezone: str, now: datetime) -> datetime | None:
    """The latest fire time at or before `now`, not before the schedule existed."""
    created = as_utc(sched.created_at)
    lookback = min(schedules.CATCH_UP, max(now - created, timedelta(0)))
    return schedules.last_fire(trigger_of(sched, timezone), now, lookback)


def tick(rt: Runtime, runner: ReportRunner, now: datetime | None = None) -> list[str]:
    """Claim and submit every due fire; returns the schedule ids submitted by this replica."""
    now = now or rt.clock.now()
    tz = rt.settings.mlops_bot_timezone
    submitted = []
    for sched in schedules.all_schedules(rt):
        try:
            fire = due_fire(sched, tz, now)
        except ValueError:
            log.warning("schedule %s has an invalid cron %r", sched.id, sched.cron)
            continue
        if fire is None or not schedules.claim(rt, sched.id, fire):
            continue
        log.info(
            "running schedule %s (%s %s) for %s",
            sched.id,
            sched.kind,
            sched.model_name,
            fire.isoformat(),
        )
        runner.submit(
            ReportJob(
                ReportKind.PERF if sched.kind == ReportKind.PERF else ReportKind.DRIFT,
                sched.model_name,
                sched.alias,
                sched.channel,
                "system",
                sched.id,
            )
        )
        submitted.append(sched.id)
    return submitted


def next_runs(rt: Runtime, now: datetime | None = None) -> list[str]:
    now = now or rt.clock.now()
    lines = []
    for sched in schedules.all_schedules(rt):
        nxt = schedules.next_fire(sched.cron, rt.settings.mlops_bot_timezone, now)
        when = nxt.strftime("%Y-%m-%d %H:%M %Z") if nxt else "never"
        lines.append(f"• `{sched.id}` {sched.kind} {sched.model_name}: {when}")
    return lines
