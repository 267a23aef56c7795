"""The approval rules take "now" from the runtime's clock, never from the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.approvals.outcomes import OutcomeKind, RequestStatus
from bot.clock import FixedClock, as_utc
from bot.policy.permissions import Action
from tests.unit.bot.approvals.conftest import make_runtime, service

TTL = timedelta(hours=72)  # request_ttl_hours of churn in the test policy


def test_a_request_expires_exactly_at_its_ttl_on_a_fixed_clock(
    mlflow_store: str, tmp_path: Path
) -> None:
    # Years away from the wall clock: a rule reading the wall clock would decide otherwise.
    opened_at = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    clock = FixedClock(opened_at)
    rt = make_runtime(tmp_path, mlflow_store, clock)
    try:
        svc = service(rt)
        req = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall").request
        assert req is not None
        stored, votes = svc.get(req.id)
        assert stored is not None
        assert as_utc(stored.created_at) == opened_at
        assert as_utc(stored.expires_at) == opened_at + TTL

        clock.advance(TTL)  # exactly at the TTL: still open
        assert svc.refusal(stored, votes, "U0APPROVER1", Action.APPROVE) is None
        assert svc.expire_due() == []

        clock.advance(timedelta(microseconds=1))  # just past it: expired
        assert svc.refusal(stored, votes, "U0APPROVER1", Action.APPROVE) == (
            "This request has expired."
        )
        expired = svc.expire_due()
        assert [r.id for r in expired] == [req.id]
        assert expired[0].status == RequestStatus.EXPIRED
        assert expired[0].decided_at is not None
        assert as_utc(expired[0].decided_at) == opened_at + TTL + timedelta(microseconds=1)
        assert svc.expire_due() == []  # never twice

        outcome = svc.approve(req.id, "U0APPROVER1")
        assert outcome.kind == OutcomeKind.DENIED
        assert outcome.message == "This request is already expired."
    finally:
        rt.engine.dispose()
