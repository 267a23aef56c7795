"""`/mlops history` and App Home's alias history, through signed HTTP requests against a real
MLflow store and audit log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bot.approvals import history as hist
from tests.helpers import BotServer, app_home_opened, policy_bot, signed_headers

POLICY = """
[models.churn]
owners = ["U0OWNER"]
approvers = ["U0APPROVER1", "U0APPROVER2"]
required_approvals = 2
"""
hbot = policy_bot(POLICY)


def everything(msg: dict[str, Any]) -> str:
    return msg.get("text", "") + json.dumps(msg.get("blocks") or [], ensure_ascii=False)


def promoted(bot: BotServer, version: str = "3") -> str:
    """churn v`version` → @champion, asked by U0REQ, approved by both approvers."""
    svc = bot.services.approvals
    req = svc.request_promotion(
        "churn", version, "champion", "U0REQ", "better recall on Q3", "C0MLOPS"
    ).request
    assert req is not None
    svc.approve(req.id, "U0APPROVER1")
    assert svc.approve(req.id, "U0APPROVER2").kind == "applied"
    return req.id


def test_history_lists_each_holder_with_who_requested_and_approved(hbot: BotServer) -> None:
    rid = promoted(hbot)
    shown = everything(hbot.ask("history churn @champion"))
    assert "History of churn @champion" in shown
    v3, v1 = shown.index("*v3*"), shown.index("*v1*")
    assert v3 < v1  # newest first
    assert "requested by <@U0REQ>" in shown and "better recall on Q3" in shown
    assert "approved by <@U0APPROVER1>" in shown and "<@U0APPROVER2>" in shown
    assert f"request `{rid}`" in shown and "held before the first recorded move" in shown
    v3_line = shown[v3 : shown.index("\n", v3)]
    assert "held before" not in v3_line and ":warning:" not in v3_line
    assert "Checked against the audit chain" in shown and "events intact" in shown


def test_history_at_a_time_names_the_version_that_held_the_alias(hbot: BotServer) -> None:
    promoted(hbot)
    held, move = hist.history(hbot.runtime, "churn", "champion").aliases["champion"]
    assert held.seen_at is not None and move.since is not None
    asked = held.seen_at.isoformat()  # when v3 was requested: v1 held it, v3 was not approved
    shown = everything(hbot.ask(f"history churn @champion at {asked}"))
    assert "was held by *v1*" in shown and "*v3*" not in shown and "first shows" not in shown
    earlier = (held.seen_at - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    shown = everything(hbot.ask(f"history churn @champion at {earlier}"))
    assert "was held by *v1*" in shown and "the last holder the log knows of" in shown
    shown = everything(hbot.ask(f"history churn @champion at {move.since.isoformat()}"))
    assert "was held by *v3*" in shown and "approved by <@U0APPROVER1>" in shown
    shown = everything(hbot.ask("history churn at 0 minutes ago"))  # every alias
    assert "`@champion` of `churn` was held by *v3*" in shown


def test_bad_input_gets_one_clear_line(hbot: BotServer) -> None:
    assert "is not a time: use ISO 8601" in everything(hbot.ask("history churn at last tuesday"))
    assert "is in the future" in everything(hbot.ask("history churn at 2999-01-01"))
    assert "`history` needs a model" in everything(hbot.ask("history"))
    assert "Unexpected `yesterday`" in everything(hbot.ask("history churn @champion yesterday"))
    assert "churn" in everything(hbot.ask("history chrun"))  # did you mean
    assert "no moves of `@champion` of `churn`" in everything(hbot.ask("history churn @champion"))


def test_a_tampered_chain_is_flagged_and_refuses_answers_at_a_time(hbot: BotServer) -> None:
    promoted(hbot)
    with hbot.runtime.engine.begin() as conn:  # a database writer moves the record to v2
        conn.execute(
            text("UPDATE audit_event SET model_version = '2' WHERE action = 'promotion_applied'")
        )
    shown = everything(hbot.ask("history churn @champion"))
    assert "The audit log fails verification at event" in shown
    assert ":warning: _unverified_ *v2*" in shown
    shown = everything(hbot.ask("history churn @champion at 0 minutes ago"))
    assert "fails verification" in shown and "can't vouch" in shown and "was held by" not in shown


def test_app_home_shows_the_timeline_of_models_the_viewer_owns_or_approves(
    hbot: BotServer,
) -> None:
    promoted(hbot)

    def home_of(user: str, n: int, visit: int = 1) -> str:
        body = app_home_opened(user, f"Ev0HIST{n}")
        assert hbot.post(body, signed_headers(body, content_type="application/json")).is_success
        calls = hbot.fake.wait_for(
            "views.publish", lambda c: c.decoded.get("user_id") == user, count=visit
        )
        return json.dumps(calls[visit - 1].decoded["view"], ensure_ascii=False)

    owner = home_of("U0OWNER", 1)
    assert "Alias history of your models" in owner and "*churn*" in owner
    assert "*v3*" in owner and "approved by <@U0APPROVER1>" in owner
    assert "Alias history" not in home_of("U0STRANGER", 2)
    with hbot.runtime.engine.begin() as conn:  # a database writer swaps the approver
        conn.execute(text("UPDATE audit_event SET actor = 'U0MALLORY' WHERE id = 2"))
    owner = home_of("U0OWNER", 3, visit=2)
    assert "fails the chain check" in owner and ":warning: _unverified_ *v3*" in owner
