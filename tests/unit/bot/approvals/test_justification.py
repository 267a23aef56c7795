"""A protected promotion needs the requester's justification; it is stored and audited."""

from __future__ import annotations

import json

import pytest

from bot import audit
from bot.approvals.outcomes import ApprovalError, snapshot_of
from bot.runtime import Runtime
from tests.unit.bot.approvals.conftest import service


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_protected_request_without_a_justification_is_refused(rt: Runtime, reason: str) -> None:
    svc = service(rt)
    with pytest.raises(ApprovalError, match="needs a justification"):
        svc.request_promotion("churn", "3", "champion", "U0REQ", reason)
    assert svc.pending() == [] and audit.recent(rt.engine) == []


def test_an_unprotected_alias_needs_none(rt: Runtime) -> None:
    outcome = service(rt).request_promotion("churn", "2", "staging", "U0APPROVER1")
    assert outcome.kind == "applied_now"


def test_the_justification_and_the_model_card_are_stored_with_the_request(rt: Runtime) -> None:
    outcome = service(rt).request_promotion("churn", "3", "champion", "U0REQ", "better recall")
    req = outcome.request
    assert req is not None and req.reason == "better recall"
    [ev] = audit.recent(rt.engine, actions={"promotion_requested"})
    assert json.loads(ev.details)["reason"] == "better recall"
    snap = snapshot_of(req)
    assert snap["candidate"]["params"] == {"n_estimators": "300"}
    assert snap["holder"]["params"] == {"n_estimators": "100"}
    assert snap["candidate"]["lineage"]["signature"] is None  # the seed logs no MLmodel
