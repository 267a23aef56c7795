"""Anchors of the audit chain written by a real promotion: the MLflow version tag and the audit
channel's message; truncating the log past them is caught by the verify the CLI runs."""

from __future__ import annotations

import json

from sqlalchemy import text

from bot import audit, audit_anchors
from handlers import action_ids as ids
from jobs import audit as audit_jobs
from tests.helpers import BotServer, policy_bot, wait_until
from tests.integration.test_approvals import click, events, holder, mlflow, request

POLICY = """
[defaults]
approvers = ["U0APPROVER1"]
required_approvals = 1
"""
AUDIT_CHANNEL = "C0AUDIT"
KEY = "k3y-held-outside-the-database"


kbot = policy_bot(POLICY, mlops_bot_audit_key=KEY, mlops_bot_audit_channel=AUDIT_CHANNEL)


def test_protected_promotion_anchors_the_chain_and_truncation_is_named(kbot: BotServer) -> None:
    rid, card = request(kbot, "promote churn 3 champion better recall on the Q3 data")
    click(kbot, ids.APPROVE, rid, "U0APPROVER1", card)
    wait_until(lambda: holder(kbot) == "3")
    applied = wait_until(lambda: [e for e in events(kbot) if e.action == "promotion_applied"])[0]
    anchor = f"{applied.id}:{applied.hash}"

    tagged = wait_until(
        lambda: mlflow(kbot).get_model_version("churn", "3").tags.get(audit_anchors.ANCHOR_TAG)
    )
    assert tagged == anchor
    posted = wait_until(lambda: kbot.fake.messages(AUDIT_CHANNEL))
    assert anchor in posted[-1]["text"] and "`churn` v3" in posted[-1]["text"]

    engine, registry = kbot.runtime.engine, kbot.runtime.registry
    result = audit_anchors.verify(engine, audit_anchors.from_registry(registry))
    assert result.ok and result.warnings == ()  # keyed from the first event
    assert KEY not in json.dumps([c.params for c in kbot.fake.calls])
    assert KEY not in repr(kbot.runtime.settings)

    audit.record(engine, "report_posted", "system")  # the log goes on after the anchor
    with engine.begin() as conn:  # a database writer deletes the newest rows
        conn.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": applied.id})
    assert audit.verify(engine).ok  # the table alone cannot tell
    result = audit_anchors.verify(engine, audit_anchors.from_registry(registry))
    assert not result.ok and result.bad_id == applied.id
    assert "MLflow `churn` v3, tag mlops_bot.audit_anchor" in result.reason
    assert "truncated" in result.reason


def test_daily_anchor_posts_the_head_to_the_audit_channel(kbot: BotServer) -> None:
    audit.record(kbot.runtime.engine, "report_posted", "system")
    head = audit_anchors.head(kbot.runtime.engine)
    assert head is not None
    assert audit_jobs.anchor(kbot.runtime, kbot.app.client) == head
    posted = wait_until(lambda: kbot.fake.messages(AUDIT_CHANNEL))
    assert f"--anchor {head}" in posted[-1]["text"] and "daily" in posted[-1]["text"]
