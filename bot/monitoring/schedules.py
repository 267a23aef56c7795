"""Scheduled reports, stored in the database (the source of truth for every replica).

File-defined monitors are synced in as source "file" (shown, not removable from Slack);
schedules made with `/mlops schedule add` are source "slack". Each fire is claimed by inserting
(schedule id, fire time): the primary key lets exactly one replica post it.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot import audit, metrics
from bot.clock import as_utc
from bot.monitoring.document import ReportKind
from bot.policy.file import check_cron
from bot.policy.permissions import Action, Permissions
from bot.storage import db
from bot.storage.tables import ReportSchedule, ScheduleFire

if TYPE_CHECKING:
    from bot.runtime import Runtime

KINDS = tuple(ReportKind)
CATCH_UP = timedelta(hours=24)  # after downtime, the latest missed fire in this window runs once
_WHO = f"{socket.gethostname()}:{os.getpid()}"


class ScheduleError(Exception):
    """A schedule that cannot be added or removed; the message says why."""


def all_schedules(rt: Runtime) -> list[ReportSchedule]:
    with db.session(rt.engine) as s:
        return list(s.exec(select(ReportSchedule).order_by(col(ReportSchedule.id))).all())


def add(
    rt: Runtime,
    kind: str,
    model: str,
    cron: str,
    channel: str,
    user: str,
    alias: str | None = None,
    *,
    permissions: Permissions,
) -> ReportSchedule:
    """Validate and store a Slack-made schedule; audited as `schedule_changed`."""
    refusal = permissions.can(user, Action.SCHEDULE_ADD, model, channel)
    if refusal is not None:
        raise ScheduleError(refusal.reason)
    if kind not in KINDS:
        raise ScheduleError(f"the report kind must be drift or perf, not `{kind[:20]}`")
    kind = ReportKind(kind)
    try:
        check_cron(cron)
    except ValueError as exc:
        raise ScheduleError(str(exc)) from None
    limits = permissions.limits
    gap = shortest_gap(cron)
    if gap < timedelta(minutes=limits.schedule_min_interval_minutes):
        raise ScheduleError(
            f"`{cron}` fires every {_minutes(gap)}; scheduled reports run at most once every "
            f"{_minutes(timedelta(minutes=limits.schedule_min_interval_minutes))}."
        )
    rt.registry.get_model(model)  # unknown model → NotFoundError with suggestions
    sched = ReportSchedule(
        id=f"s{uuid.uuid4().hex[:7]}",
        kind=kind,
        model_name=model,
        alias=alias,
        cron=cron,
        channel=channel,
        source="slack",
        created_by=user,
        created_at=rt.clock.now(),
    )
    with db.session(rt.engine, write=True) as s:
        made = s.exec(
            select(ReportSchedule.id).where(
                ReportSchedule.model_name == model, ReportSchedule.source == "slack"
            )
        ).all()
        if len(made) >= limits.schedules_per_model:
            raise ScheduleError(
                f"`{model}` already has {len(made)} scheduled reports made in Slack (the most "
                "the policy allows); remove one first (`/mlops schedule list`)."
            )
        s.add(sched)
        audit.append(
            s,
            "schedule_changed",
            user,
            model_name=model,
            alias=alias,
            details={"op": "add", "id": sched.id, "kind": kind, "cron": cron, "channel": channel},
        )
        s.commit()
    return sched


def remove(rt: Runtime, schedule_id: str, user: str, *, permissions: Permissions) -> ReportSchedule:
    with db.session(rt.engine, write=True) as s:
        sched = s.get(ReportSchedule, schedule_id[:64])
        if sched is None:
            raise ScheduleError(f"no schedule `{schedule_id[:64]}`; see `/mlops schedule list`")
        refusal = permissions.can(user, Action.SCHEDULE_REMOVE, sched.model_name, sched.channel)
        if refusal is not None:
            raise ScheduleError(refusal.reason)
        if sched.source == "file":
            raise ScheduleError(
                f"`{sched.id}` comes from the policy file; change it there, not in Slack"
            )
        s.delete(sched)
        audit.append(
            s,
            "schedule_changed",
            user,
            model_name=sched.model_name,
            alias=sched.alias,
            details={"op": "remove", "id": sched.id},
        )
        s.commit()
    return sched


def shortest_gap(cron: str, fires: int = 500) -> timedelta:
    """The shortest time between two fires of a 5-field cron expression (UTC), over its next
    `fires` fires from a fixed date; a year's gap when it fires at most once in that span."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    previous = trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=UTC))
    shortest = timedelta(days=366)
    for _ in range(fires):
        if previous is None:
            break
        nxt = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
        if nxt is None:
            break
        shortest = min(shortest, nxt - previous)
        previous = nxt
    return shortest


def next_fire(cron: str, timezone: str, now: datetime) -> datetime | None:
    """The first fire of a 5-field cron expression in `timezone` after `now` (None: never)."""
    from apscheduler.triggers.cron import CronTrigger

    nxt: datetime | None = CronTrigger.from_crontab(cron, timezone=timezone).get_next_fire_time(
        None, now
    )
    return nxt


def _minutes(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


def sync_file_monitors(rt: Runtime) -> None:
    """Make the "file" schedules match the policy file's monitors (idempotent, any replica)."""
    wanted: dict[str, ReportSchedule] = {}
    for model, monitor in rt.policy.monitors().items():
        channel = monitor.channel or rt.settings.mlops_bot_report_channel
        if not monitor.schedule or not channel:
            continue
        kinds = [ReportKind.DRIFT]
        if monitor.target and monitor.prediction:
            kinds.append(ReportKind.PERF)
        for kind in kinds:
            sid = f"file-{model}-{kind}"[:64]
            wanted[sid] = ReportSchedule(
                id=sid,
                kind=kind,
                model_name=model,
                alias=monitor.alias,
                cron=monitor.schedule,
                channel=channel,
                source="file",
                created_by="system",
                created_at=rt.clock.now(),
            )
    with db.session(rt.engine, write=True) as s:
        current = {
            r.id: r
            for r in s.exec(select(ReportSchedule).where(ReportSchedule.source == "file")).all()
        }
        changed = False
        for sid, row in current.items():
            new = wanted.get(sid)
            if new is None or _key(new) != _key(row):
                s.delete(row)
                changed = True
        s.flush()
        for sid, row in wanted.items():
            if sid not in current or _key(current[sid]) != _key(row):
                s.add(row)
                changed = True
        if changed:
            s.commit()


def _key(r: ReportSchedule) -> tuple[Any, ...]:
    return (r.kind, r.model_name, r.alias, r.cron, r.channel)


def claim(rt: Runtime, schedule_id: str, fire_time: datetime) -> bool:
    """True for exactly one caller per (schedule, fire time), across all replicas."""
    try:
        with db.session(rt.engine, write=True) as s:
            s.add(
                ScheduleFire(
                    schedule_id=schedule_id,
                    fire_time=as_utc(fire_time),
                    claimed_by=_WHO,
                    claimed_at=rt.clock.now(),
                )
            )
            s.commit()
    except IntegrityError:
        return False
    metrics.FIRES_CLAIMED.inc()
    return True


def last_fire(trigger: Any, now: datetime, lookback: timedelta = CATCH_UP) -> datetime | None:
    """The latest fire time of a cron trigger at or before `now` (within `lookback`)."""
    fire = trigger.get_next_fire_time(None, now - lookback)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest


def prune_fires(rt: Runtime, older_than: timedelta = timedelta(days=30)) -> None:
    with db.session(rt.engine, write=True) as s:
        s.execute(
            delete(ScheduleFire).where(col(ScheduleFire.fire_time) < rt.clock.now() - older_than)
        )
        s.commit()
