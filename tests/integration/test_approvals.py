"""The approval workflow through signed HTTP requests against a real MLflow store (SPEC §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import Executable, update
from sqlmodel import col

from bot import audit
from bot.clock import utcnow
from bot.storage import db
from bot.storage.tables import ApprovalVote
from handlers import action_ids as ids
from tests.helpers import (
    BotServer,
    app_home_opened,
    serving_policy,
    signed_headers,
    start_bot,
    wait_until,
)
from tests.slack_fake import FakeSlack

POLICY = """
[defaults]
approvers = ["U0APPROVER1", "U0APPROVER2", "S0LEADS"]
required_approvals = 1

[models.churn]
approvers = ["U0APPROVER1", "U0APPROVER2", "S0LEADS"]
required_approvals = 2
gates = ["roc_auc >= champion - 0.005", "accuracy >= 0.80"]

[models.fraud-detector]
gates = ["roc_auc >= 0.99"]
"""
REQUESTER = "U0REQ"
CHANNEL = "C0MLOPS"


@pytest.fixture
def abot(mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotServer]:
    fake_slack.usergroups["S0LEADS"] = ["U0LEAD"]
    with serving_policy(tmp_path, fake_slack, mlflow_store, POLICY) as server:
        yield server


def mlflow(bot: BotServer) -> MlflowClient:
    uri = bot.runtime.settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def holder(bot: BotServer, model: str = "churn", alias: str = "champion") -> str | None:
    version = mlflow(bot).get_registered_model(model).aliases.get(alias)
    return None if version is None else str(version)


def everything(msg: dict[str, Any]) -> str:
    return msg.get("text", "") + json.dumps(msg.get("blocks") or [], ensure_ascii=False)


def request(bot: BotServer, text: str, user: str = REQUESTER) -> tuple[str, dict[str, Any]]:
    """Send `/mlops <text>`; return the new request id and the posted card message."""
    before = len(bot.fake.messages(CHANNEL))
    resp, url = bot.command(text, user=user)
    assert resp.status_code == 200
    reply = bot.reply_to(url)
    assert "posted" in reply["text"], reply
    card = wait_until(
        lambda: len(bot.fake.messages(CHANNEL)) > before and bot.fake.messages(CHANNEL)[-1]
    )
    button_values = [
        el["value"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    return button_values[0], card


def click(
    bot: BotServer,
    action_id: str,
    request_id: str,
    user: str,
    card: dict[str, Any] | None = None,
    n: int = 0,
) -> str:
    """Press a button on the card; returns the response_url the bot may answer on."""
    response_url = bot.fake.response_url(f"act-{user}-{action_id}-{n}")
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "x",
        "trigger_id": f"trig.{user}.{n}",
        "container": {
            "type": "message",
            "message_ts": card["ts"] if card else "1.0",
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "team": {"id": "T0TEAM", "domain": "example"},
        "channel": {"id": CHANNEL, "name": "mlops"},
        "message": card or {"ts": "1.0", "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"{ids.REQUEST_ACTIONS}:{request_id}",
                "value": request_id,
                "type": "button",
                "action_ts": "1764147612.345678",
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    resp = bot.interact(payload)
    assert resp.status_code == 200
    return response_url


def submit_reason(
    bot: BotServer, callback_id: str, request_id: str, user: str, reason: str
) -> dict[str, Any]:
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEAM", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "x",
        "trigger_id": "t.1",
        "view": {
            "id": "V0MODAL",
            "team_id": "T0TEAM",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": request_id,
            "state": {
                "values": {
                    ids.REASON_BLOCK: {
                        ids.REASON_INPUT: {"type": "plain_text_input", "value": reason}
                    }
                }
            },
            "hash": "1.abc",
            "app_id": "A0APP",
            "bot_id": "B0BOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    resp = bot.interact(payload)
    assert resp.status_code == 200
    return resp.json() if resp.content else {}


def ephemeral(bot: BotServer, response_url: str) -> str:
    return everything(bot.reply_to(response_url))


def events(bot: BotServer, **filters: Any) -> list[audit.AuditEvent]:
    return list(reversed(audit.recent(bot.runtime.engine, limit=500, **filters)))


def actions_of(bot: BotServer, request_id: str) -> list[str]:
    return [e.action for e in events(bot) if e.request_id == request_id]


def card_now(bot: BotServer, card: dict[str, Any]) -> dict[str, Any]:
    msg = bot.fake.message(CHANNEL, card["ts"])
    assert msg is not None
    return msg


def write_sql(bot: BotServer, statement: Executable) -> None:
    """A statement written straight into the bot's database (as someone with access could)."""
    with db.session(bot.runtime.engine, write=True) as s:
        s.execute(statement)
        s.commit()


def left_applying(bot: BotServer, request_id: str) -> None:
    """What a process that died right after the decision leaves: both approvers' votes with
    their `approval_granted` events, the request claimed (`applying`), and nothing more; the
    last vote five minutes ago, so the recovery job takes it."""
    svc = bot.services.approvals
    for voter in ("U0APPROVER1", "U0APPROVER2"):
        req, _ = svc.get(request_id)
        assert req is not None
        svc.store.vote(req, voter)
    req, _ = svc.get(request_id)
    assert req is not None and req.status == "applying"
    long_ago = utcnow() - timedelta(minutes=5)
    where = col(ApprovalVote.request_id) == request_id
    write_sql(bot, update(ApprovalVote).where(where).values(at=long_ago))


def test_card_shows_candidate_vs_holder_gates_requester_and_buttons(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 3 to champion better recall on Q3 data")
    text = everything(card)
    assert "Promotion request: churn v3 → @champion" in text
    assert f"<@{REQUESTER}>" in text and "better recall on Q3 data" in text
    assert "0/2" in text and "Expires" in text
    assert "`roc_auc` 0.85 vs 0.8" in text and "+0.05" in text  # candidate vs holder, delta
    assert ":white_check_mark: `roc_auc &gt;= champion - 0.005`" in text
    buttons = [
        el["action_id"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert buttons == [ids.APPROVE, ids.REJECT, ids.REQUEST_DETAILS]
    assert actions_of(abot, rid) == ["promotion_requested"]


def test_two_of_n_with_refusals_then_promotion(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")

    url = click(abot, ids.APPROVE, rid, REQUESTER, card)
    assert "can't approve or reject your own request" in ephemeral(abot, url)
    url = click(abot, ids.APPROVE, rid, "U0OUTSIDER", card)
    assert "not an approver of `churn`" in ephemeral(abot, url)

    click(abot, ids.APPROVE, rid, "U0LEAD", card)  # member of the S0LEADS group
    wait_until(lambda: "1/2" in everything(card_now(abot, card)))
    url = click(abot, ids.APPROVE, rid, "U0LEAD", card, n=1)
    assert "already approved" in ephemeral(abot, url)
    assert holder(abot) == "1"

    click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    wait_until(lambda: holder(abot) == "3")
    final = wait_until(lambda: (m := card_now(abot, card)) and "Promoted" in everything(m) and m)
    left = [
        el["action_id"] for b in final["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert left == [ids.REQUEST_DETAILS]  # the decision buttons replaced; Details stays
    thread = abot.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == card["ts"]
    )[0]
    assert f"<@{REQUESTER}>" in thread.params["text"] and "moved to v3" in thread.params["text"]

    tags = mlflow(abot).get_model_version("churn", "3").tags
    assert tags["mlops_bot.request_id"] == rid
    assert tags["mlops_bot.approved_by"] == "U0APPROVER1,U0LEAD"
    applied = [e for e in events(abot) if e.action == "promotion_applied"]
    assert len(applied) == 1 and tags["mlops_bot.audit_id"] == str(applied[0].id)
    assert actions_of(abot, rid) == [
        "promotion_requested",
        "approval_denied",
        "approval_denied",
        "approval_granted",
        "approval_denied",
        "approval_granted",
        "promotion_applied",
    ]
    url = click(abot, ids.APPROVE, rid, "U0APPROVER2", card)
    assert "already applied" in ephemeral(abot, url)
    assert audit.verify(abot.runtime.engine).ok


def test_stale_request_moves_nothing(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    mlflow(abot).set_registered_model_alias("churn", "champion", "2")  # someone moved it
    click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    click(abot, ids.APPROVE, rid, "U0APPROVER2", card)
    wait_until(lambda: "request_stale" in actions_of(abot, rid))
    assert holder(abot) == "2"
    wait_until(lambda: "Stale" in everything(card_now(abot, card)))
    assert "promotion_applied" not in actions_of(abot, rid)


def test_reject_needs_a_reason_in_a_modal(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 2 champion simpler model, easier to explain")
    click(abot, ids.REJECT, rid, "U0APPROVER2", card)
    opened = abot.fake.wait_for("views.open")[0]
    view = opened.decoded["view"]
    assert view["callback_id"] == ids.REJECT_MODAL and view["private_metadata"] == rid
    assert opened.decoded["trigger_id"] == "trig.U0APPROVER2.0"

    answer = submit_reason(abot, ids.REJECT_MODAL, rid, "U0APPROVER2", "  ")
    assert answer["response_action"] == "errors" and ids.REASON_BLOCK in answer["errors"]
    submit_reason(abot, ids.REJECT_MODAL, rid, "U0APPROVER2", "Recall dropped on the holdout")
    wait_until(lambda: "Rejected" in everything(card_now(abot, card)))
    assert "Recall dropped on the holdout" in everything(card_now(abot, card))
    rejected = [e for e in events(abot) if e.action == "promotion_rejected"]
    assert json.loads(rejected[0].details)["reason"] == "Recall dropped on the holdout"
    url = click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    assert "already rejected" in ephemeral(abot, url)
    assert holder(abot) == "1"


def test_reject_button_refuses_the_requester_without_a_modal(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 2 champion simpler model, easier to explain")
    url = click(abot, ids.REJECT, rid, REQUESTER, card)
    assert "your own request" in ephemeral(abot, url)
    assert abot.fake.calls_to("views.open") == []


def test_failing_gates_need_an_override_with_a_reason(abot: BotServer) -> None:
    mlflow(abot).delete_registered_model_alias("fraud-detector", "production")
    rid, card = request(abot, "promote fraud-detector 1 production back to the baseline")
    text = everything(card)
    assert ":x: `roc_auc &gt;= 0.99`" in text
    buttons = [
        el["action_id"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert buttons == [ids.OVERRIDE, ids.REJECT, ids.REQUEST_DETAILS]
    url = click(abot, ids.APPROVE, rid, "U0APPROVER1", card)  # a forged Approve click
    assert "Gates failed" in ephemeral(abot, url)

    click(abot, ids.OVERRIDE, rid, "U0APPROVER1", card)
    assert abot.fake.wait_for("views.open")[0].decoded["view"]["callback_id"] == ids.OVERRIDE_MODAL
    submit_reason(abot, ids.OVERRIDE_MODAL, rid, "U0APPROVER1", "Known offline metric bug")
    wait_until(lambda: holder(abot, "fraud-detector", "production") == "1")
    acts = wait_until(lambda: (a := actions_of(abot, rid)) and a[-1] == "promotion_applied" and a)
    assert acts[-3:] == ["override_used", "approval_granted", "promotion_applied"]


def test_unprotected_alias_is_set_at_once_and_audited(abot: BotServer) -> None:
    assert "not protected" in everything(abot.ask("promote churn 2 staging", user="U0APPROVER2"))
    assert holder(abot, alias="staging") == "2"
    ev = events(abot)[-1]
    assert (ev.action, ev.model_version, ev.alias) == ("promotion_applied", "2", "staging")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("promote churn 1 champion", "already holds `@champion`"),
        ("promote churn 9 champion", "no version `9`"),
        ("promote chrun 3 champion", "Did you mean `churn`"),
        ("promote churn three champion", "not a version number"),
        ("promote churn 3", "Usage"),
        ("promote churn 3 latest", "not a valid alias"),
        ("promote churn 3 <@U0BOB|bob>", "not a valid alias"),
        ("rollback churn champion", "No earlier approved holder"),
        ("rollback churn", "Usage"),
        ("audit churn 5 extra", "at most a model and a limit"),
    ],
)
def test_bad_requests_are_refused_clearly(abot: BotServer, text: str, expected: str) -> None:
    reply = abot.ask(text)
    assert reply["response_type"] == "ephemeral"
    assert expected in everything(reply)
    assert not [e for e in events(abot) if e.action == "promotion_requested"]


def test_duplicate_pending_request_is_refused(abot: BotServer) -> None:
    request(abot, "promote churn 3 champion better recall on the Q3 data")
    assert "already pending" in everything(abot.ask("promote churn 3 champion once more"))


def test_expiry_job_updates_the_card(abot: BotServer) -> None:
    from datetime import timedelta

    from bot.clock import utcnow
    from jobs.approvals import expire

    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    svc, client = abot.services.approvals, abot.app.client
    assert expire(svc, client, utcnow()) == 0
    assert expire(svc, client, utcnow() + timedelta(hours=73)) == 1
    assert expire(svc, client, utcnow() + timedelta(hours=73)) == 0  # never twice
    assert "Expired" in everything(card_now(abot, card))
    assert actions_of(abot, rid)[-1] == "request_expired"
    thread = abot.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == card["ts"]
    )[0]
    assert "expired" in thread.params["text"]
    decided = thread.decoded["metadata"]  # the bot decided: no decided_by in the payload
    assert decided["event_type"] == "mlops_bot_promotion_decided"
    assert decided["event_payload"]["outcome"] == "expired"
    assert "decided_by" not in decided["event_payload"]
    url = click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    assert "already expired" in ephemeral(abot, url)


def test_rollback_goes_back_to_the_previous_approved_holder(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    click(abot, ids.APPROVE, rid, "U0APPROVER2", card)
    wait_until(lambda: "promotion_applied" in actions_of(abot, rid))
    assert holder(abot) == "3"

    rid2, card2 = request(abot, "rollback churn champion")
    assert "Rollback request: churn v1 → @champion" in everything(card2)
    assert "not applied to a rollback" in everything(card2)
    assert actions_of(abot, rid2) == ["rollback_requested"]
    click(abot, ids.APPROVE, rid2, "U0APPROVER1", card2)
    click(abot, ids.APPROVE, rid2, "U0LEAD", card2)
    wait_until(lambda: holder(abot) == "1")


def test_pending_and_audit_commands(abot: BotServer) -> None:
    rid, _ = request(abot, "promote churn 3 champion better recall on the Q3 data")
    text = everything(abot.ask("pending", user="U0APPROVER1"))
    assert rid in text and "you can approve" in text
    assert "your request" in everything(abot.ask("pending", user=REQUESTER))
    text = everything(abot.ask("audit churn 5"))
    assert "promotion_requested" in text and "churn" in text
    assert "promotion_requested" in everything(abot.ask("audit"))


def test_app_home_lists_what_the_viewer_can_act_on(abot: BotServer) -> None:
    rid, _ = request(abot, "promote churn 3 champion better recall on the Q3 data")
    body = app_home_opened("U0LEAD", "Ev0002")
    abot.post(body, signed_headers(body, content_type="application/json"))
    view = abot.fake.wait_for("views.publish")[0].decoded["view"]
    values = [
        el.get("value") for b in view["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert rid in values


def test_forged_and_unknown_button_values_change_nothing(abot: BotServer) -> None:
    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    for value in ["", "x" * 5000, "'; DROP TABLE audit_event; --", "000000000000"]:
        url = click(abot, ids.APPROVE, value, "U0APPROVER1", card, n=hash(value) % 1000)
        assert "does not exist" in ephemeral(abot, url)
    assert holder(abot) == "1"
    assert audit.verify(abot.runtime.engine).ok
    _ = rid


def test_two_bots_on_one_sqlite_database_move_the_alias_once(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Concurrent final clicks on two app instances: one compare-and-set wins."""
    import concurrent.futures

    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    bots = [
        start_bot(
            tmp_path / f"b{i}",
            fake_slack,
            mlflow_uri=mlflow_store,
            database_url=db_url,
            policy=POLICY.replace("required_approvals = 2", "required_approvals = 1"),
        )
        for i in range(2)
    ]
    try:
        rid, card = request(bots[0], "promote churn 3 champion better recall on the Q3 data")
        voters = ["U0APPROVER1", "U0APPROVER2"] * 10
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            list(
                pool.map(
                    lambda iv: click(bots[iv[0] % 2], ids.APPROVE, rid, iv[1], card, iv[0]),
                    enumerate(voters),
                )
            )
        wait_until(lambda: holder(bots[0]) == "3")
        wait_until(lambda: len(fake_slack.calls_to("response_url")) >= 19, timeout=30)
        wait_until(lambda: "Promoted" in everything(card_now(bots[0], card)), timeout=30)
        applied = [e for e in events(bots[0]) if e.action == "promotion_applied"]
        assert len(applied) == 1
        assert audit.verify(bots[0].runtime.engine).ok
    finally:
        for b in bots:
            b.stop()


def test_promotion_interrupted_after_the_decision_is_recovered(abot: BotServer) -> None:
    """A process that claimed the request and died: the recovery job completes it once."""
    from jobs.approvals import recover

    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    svc, client = abot.services.approvals, abot.app.client
    left_applying(abot, rid)
    assert recover(svc, client) == 1
    assert holder(abot) == "3"
    assert "Promoted" in everything(card_now(abot, card))
    assert recover(svc, client) == 0
    assert [e.action for e in events(abot)].count("promotion_applied") == 1


def test_the_final_approve_click_opens_at_most_three_database_sessions(abot: BotServer) -> None:
    """The whole click, over signed HTTP: vote + claim, the alias move's record, and the card
    drawn from what the decision committed (no re-read)."""
    from sqlalchemy import event

    rid, card = request(abot, "promote churn 3 champion better recall on the Q3 data")
    click(abot, ids.APPROVE, rid, "U0APPROVER1", card)
    wait_until(lambda: "1/2" in everything(card_now(abot, card)))
    replies_before = len(abot.fake.calls_to("chat.postMessage"))
    sessions: list[int] = []

    def count(*_: Any) -> None:
        sessions.append(1)

    event.listen(abot.runtime.engine, "checkout", count)
    try:
        click(abot, ids.APPROVE, rid, "U0APPROVER2", card, n=1)
        wait_until(lambda: len(abot.fake.calls_to("chat.postMessage")) > replies_before)
    finally:
        event.remove(abot.runtime.engine, "checkout", count)
    assert holder(abot) == "3" and "Promoted" in everything(card_now(abot, card))
    assert len(sessions) <= 3, f"{len(sessions)} database sessions for the final click"
