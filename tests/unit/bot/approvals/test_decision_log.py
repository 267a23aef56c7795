"""Each decision is one INFO line an operator can act on: what, which request, who, why."""

from __future__ import annotations

import logging

import pytest

from bot.runtime import Runtime
from tests.unit.bot.approvals.conftest import service


def test_each_decision_is_logged_once_at_info(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(rt)
    caplog.set_level(logging.INFO, logger="bot.approvals")
    req = svc.request_promotion("churn", "3", "champion", "U0REQ", reason="Q3 data").request
    assert req is not None
    svc.approve(req.id, "U0REQ")  # refused: own request
    svc.approve(req.id, "U0APPROVER1")
    svc.approve(req.id, "U0APPROVER2")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    what = f"churn v3 → @champion (request {req.id})"
    assert lines == [
        f"decision requested: {what} by U0REQ: Request opened.",
        f"decision denied: {what} by U0REQ: You can't approve or reject your own request.",
        f"decision voted: {what} by U0APPROVER1: Approval recorded (1/2).",
        f"decision applied: {what} by U0APPROVER2: `@champion` of `churn` moved to v3 (was v1).",
    ]
