"""Reminders on a fixed clock: approvers who have not voted at half the lifetime and in the
last hour, requester and owners on expiry; each claimed once, also by two replicas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.approvals import reminders
from bot.approvals.reminders import ReminderKind
from bot.approvals.service import ApprovalService
from bot.clock import FixedClock
from bot.runtime import Runtime
from bot.storage.tables import PromotionRequest
from tests.unit.bot.approvals.conftest import POLICY, make_runtime, service

OPENED = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)  # years from the wall clock
TTL = timedelta(hours=72)
OWNED = POLICY.replace("[models.churn]\n", '[models.churn]\nowners = ["U0OWNER"]\n')
PG = pytest.mark.postgres
APPROVERS = ("U0APPROVER1", "U0APPROVER2", "U0LEAD")  # U0LEAD through the S0LEADS group


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(OPENED)


@pytest.fixture
def rt(mlflow_store: str, tmp_path: Path, clock: FixedClock) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path, mlflow_store, clock, OWNED)
    yield runtime
    runtime.engine.dispose()


def opened(svc: ApprovalService) -> PromotionRequest:
    outcome = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall", "C0M")
    assert outcome.request is not None
    return outcome.request


def sent(svc: ApprovalService) -> list[tuple[ReminderKind, tuple[str, ...]]]:
    return [(r.kind, r.recipients) for r in reminders.due(svc.rt, svc.permissions)]


def test_half_way_then_last_hour_to_approvers_who_have_not_voted(
    rt: Runtime, clock: FixedClock
) -> None:
    svc = service(rt)
    opened(svc)
    clock.advance(TTL / 2 - timedelta(microseconds=1))
    assert sent(svc) == []
    clock.advance(timedelta(microseconds=1))
    assert sent(svc) == [(ReminderKind.HALFWAY, APPROVERS)]
    assert sent(svc) == []  # once
    clock.advance(timedelta(hours=20))
    assert sent(svc) == []
    req = svc.pending()[0][0]
    svc.approve(req.id, "U0APPROVER2")
    clock.at = OPENED + TTL - timedelta(hours=1)
    assert sent(svc) == [(ReminderKind.LAST_HOUR, ("U0APPROVER1", "U0LEAD"))]
    assert sent(svc) == []


def test_expiry_tells_requester_and_owners_once(rt: Runtime, clock: FixedClock) -> None:
    svc = service(rt)
    req = opened(svc)
    clock.advance(TTL + timedelta(seconds=1))
    assert sent(svc) == []  # pending past its time: the expiry job's first
    assert [r.id for r in svc.expire_due()] == [req.id]
    assert sent(svc) == [(ReminderKind.EXPIRED, ("U0REQ", "U0OWNER"))]
    assert sent(svc) == []


def test_a_bot_down_for_days_sends_only_the_last_hour_one(rt: Runtime, clock: FixedClock) -> None:
    svc = service(rt)
    opened(svc)
    clock.advance(TTL - timedelta(minutes=30))
    assert sent(svc) == [(ReminderKind.LAST_HOUR, APPROVERS)]
    assert sent(svc) == []  # the half-way one is never sent after it


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=PG)])
def test_two_replicas_claim_each_reminder_once(
    backend: str,
    clock: FixedClock,
    mlflow_store: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("pg_database") if backend == "postgresql" else None
    replicas = [make_runtime(tmp_path, mlflow_store, clock, OWNED, url) for _ in range(2)]
    try:  # one database, an engine each
        svc, svc2 = (service(r) for r in replicas)
        opened(svc)
        clock.advance(TTL / 2)
        both = sent(svc2) + sent(svc)
        assert both == [(ReminderKind.HALFWAY, APPROVERS)]
        clock.advance(TTL / 2 + timedelta(seconds=1))
        assert len(svc2.expire_due()) == 1
        both = sent(svc) + sent(svc2)
        assert both == [(ReminderKind.EXPIRED, ("U0REQ", "U0OWNER"))]
    finally:
        for r in replicas:
            r.engine.dispose()


@pytest.mark.parametrize(
    ("lifetime", "after", "kind"),
    [
        (timedelta(hours=72), timedelta(hours=36), ReminderKind.HALFWAY),
        (timedelta(hours=72), timedelta(hours=71), ReminderKind.LAST_HOUR),
        (timedelta(hours=72), timedelta(hours=72), None),  # expired: not a reminder
        (timedelta(hours=1), timedelta(minutes=30), ReminderKind.HALFWAY),
        (timedelta(hours=1), timedelta(minutes=1), None),  # no last-hour one at the start
        (timedelta(hours=2), timedelta(hours=1, minutes=30), ReminderKind.HALFWAY),
    ],
)
def test_which_reminder_is_due(
    lifetime: timedelta, after: timedelta, kind: ReminderKind | None
) -> None:
    req = PromotionRequest(
        id="r1", model_name="m", version="2", alias="champion", requester="U0REQ",
        required_approvals=1, created_at=OPENED, expires_at=OPENED + lifetime,
    )  # fmt: skip
    assert reminders.due_kind(req, OPENED + after) == kind
