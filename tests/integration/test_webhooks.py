"""MLflow registry webhooks and reconciliation: signed, forged, stale, replayed; out-of-band."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bot import audit
from handlers import action_ids as ids
from jobs.reconcile import run as reconcile
from tests.helpers import BotServer, policy_bot, start_bot
from tests.slack_fake import FakeSlack

SECRET = "webhook-secret-123"
ALERTS = "C0ALERTS"
POLICY = '[defaults]\napprovers = ["U0APPROVER1"]\n'


wbot = policy_bot(POLICY, mlflow_webhook_secret=SECRET, mlops_bot_report_channel=ALERTS)


def deliver(
    bot: BotServer,
    payload: dict | bytes,
    *,
    secret: str = SECRET,
    ts: int | None = None,
    delivery: str | None = None,
) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    delivery = delivery or str(uuid.uuid4())
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    resp = bot.http.post(f"{bot.url}/mlflow/webhook", content=body, headers=headers)
    return resp.status_code, (resp.json() if resp.content else {})


def alias_event(alias: str = "champion", version: str = "2") -> dict:
    return {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-11-26T21:08:02+00:00",
        "data": {"name": "churn", "alias": alias, "version": version},
    }


def client_of(bot: BotServer) -> MlflowClient:
    uri = bot.runtime.settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def warnings(bot: BotServer) -> list:
    return [c for c in bot.fake.calls_to("chat.postMessage") if c.params.get("channel") == ALERTS]


def test_out_of_band_alias_change_via_webhook_warns_once(wbot: BotServer) -> None:
    assert reconcile(wbot.runtime, wbot.app.client) == 0  # baseline, silently
    assert warnings(wbot) == []
    client_of(wbot).set_registered_model_alias("churn", "champion", "2")
    status, body = deliver(wbot, alias_event(), delivery="d-1")
    assert (status, body["status"]) == (200, "ok")
    post = wbot.posted_in(ALERTS)
    text = post.params["text"]
    assert "Out-of-band change" in text and "now v2" in text and "v1" in text
    buttons = [el for b in post.decoded["blocks"] if b["type"] == "actions" for el in b["elements"]]
    assert buttons[0]["action_id"] == ids.REVERT
    assert deliver(wbot, alias_event(), delivery="d-1") == (200, {"status": "duplicate"})
    assert deliver(wbot, alias_event())[0] == 200  # a new delivery of the same change
    assert reconcile(wbot.runtime, wbot.app.client) == 0  # already reported
    assert len(warnings(wbot)) == 1
    acts = [e.action for e in audit.recent(wbot.runtime.engine, limit=50)]
    assert acts.count("out_of_band_change") == 1 and "alias_baseline" in acts


def test_reconciliation_catches_a_direct_move_and_revert_opens_a_request(
    wbot: BotServer,
) -> None:
    reconcile(wbot.runtime, wbot.app.client)
    client_of(wbot).set_registered_model_alias("churn", "champion", "3")
    assert reconcile(wbot.runtime, wbot.app.client) == 1
    assert reconcile(wbot.runtime, wbot.app.client) == 0
    post = warnings(wbot)[0]
    button = [el for b in post.decoded["blocks"] if b["type"] == "actions" for el in b["elements"]][
        0
    ]
    wbot.interact(
        {
            "type": "block_actions",
            "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "trigger_id": "t",
            "team": {"id": "T0TEAM"},
            "container": {
                "type": "message",
                "message_ts": post.response["ts"],  # type: ignore[index]
                "channel_id": ALERTS,
            },
            "channel": {"id": ALERTS},
            "response_url": wbot.fake.response_url("rev"),
            "actions": [
                {
                    "action_id": ids.REVERT,
                    "block_id": "b",
                    "value": button["value"],
                    "type": "button",
                    "action_ts": "1.1",
                }
            ],
        }
    )
    card = wbot.fake.wait_for(
        "chat.postMessage", lambda c: "Promotion request: churn v1" in c.params.get("text", "")
    )
    assert card and "<@U0ALICE>" in card[0].params["text"]


def test_the_bots_own_promotion_is_not_out_of_band(wbot: BotServer) -> None:
    reconcile(wbot.runtime, wbot.app.client)
    svc = wbot.services.approvals
    outcome = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall")
    assert outcome.request is not None
    svc.approve(outcome.request.id, "U0APPROVER1")
    assert deliver(wbot, alias_event(version="3"))[0] == 200
    assert reconcile(wbot.runtime, wbot.app.client) == 0
    assert warnings(wbot) == []


def test_tag_events_warn_only_for_bot_tags(wbot: BotServer) -> None:
    plain = {
        "entity": "model_version_tag",
        "action": "set",
        "data": {"name": "churn", "version": "1", "key": "team", "value": "x"},
    }
    ours = {**plain, "data": {**plain["data"], "key": "mlops_bot.approved_by"}}
    client_of(wbot).set_model_version_tag("churn", "1", "team", "x")
    client_of(wbot).set_model_version_tag("churn", "1", "mlops_bot.approved_by", "x")
    assert deliver(wbot, plain)[1]["status"] == "ok"
    assert deliver(wbot, ours)[1]["status"] == "ok"
    posts = wbot.fake.wait_for("chat.postMessage", lambda c: c.params.get("channel") == ALERTS)
    assert len(posts) == 1 and "Tag tampering" in posts[0].params["text"]


def tag_event(key: str, version: str = "3", action: str = "set", value: str = "") -> dict:
    return {
        "entity": "model_version_tag",
        "action": action,
        "data": {"name": "churn", "version": version, "key": key, "value": value},
    }


def promote_by_approval(bot: BotServer, version: str = "3") -> dict[str, str]:
    """Promote churn `version` to champion through the bot; the tags it wrote on the version."""
    svc = bot.services.approvals
    outcome = svc.request_promotion("churn", version, "champion", "U0REQ", "better recall")
    assert outcome.request is not None
    svc.approve(outcome.request.id, "U0APPROVER1")
    tags = client_of(bot).get_model_version("churn", version).tags
    ours = {k: v for k, v in tags.items() if k.startswith("mlops_bot.")}
    assert set(ours) == {
        "mlops_bot.request_id",
        "mlops_bot.approved_by",
        "mlops_bot.audit_id",
        "mlops_bot.audit_anchor",  # the audit chain's head
    }
    return ours


def test_the_bots_own_tags_raise_no_tampering_notice(wbot: BotServer) -> None:
    ours = promote_by_approval(wbot)
    for key, value in ours.items():  # what MLflow delivers for the bot's own four writes
        assert deliver(wbot, tag_event(key, value=value))[1]["status"] == "ok"
    # A payload's action is not believed either: the tag is still what the bot wrote.
    assert deliver(wbot, tag_event("mlops_bot.audit_id", action="deleted"))[1]["status"] == "ok"
    # Nor its version: a version that does not exist has nothing to compare.
    assert deliver(wbot, tag_event("mlops_bot.audit_id", version="99"))[1]["status"] == "ok"
    assert reconcile(wbot.runtime, wbot.app.client) == 0
    assert warnings(wbot) == []
    assert wbot.audited("out_of_band_change") == []


def test_tag_tampering_notice_says_what_mlflow_holds_not_what_the_payload_says(
    wbot: BotServer,
) -> None:
    ours = promote_by_approval(wbot)
    client = client_of(wbot)
    client.set_model_version_tag("churn", "3", "mlops_bot.approved_by", "U0MALLORY")
    lying = tag_event("mlops_bot.approved_by", action="deleted", value="U0APPROVER1")
    assert deliver(wbot, lying)[1]["status"] == "ok"
    text = wbot.posted_in(ALERTS).params["text"]
    assert "Tag tampering" in text and "set to `U0MALLORY`" in text
    assert f"wrote `{ours['mlops_bot.approved_by']}`" in text
    client.delete_model_version_tag("churn", "3", "mlops_bot.request_id")
    assert deliver(wbot, tag_event("mlops_bot.request_id", action="set"))[1]["status"] == "ok"
    posts = wbot.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == ALERTS, count=2
    )
    assert "`mlops_bot.request_id` on `churn` v3 was removed" in posts[1].params["text"]
    assert len(wbot.audited("out_of_band_change")) == 2


def test_new_version_is_announced_with_a_promotion_button(wbot: BotServer) -> None:
    event = {
        "entity": "model_version",
        "action": "created",
        "data": {"name": "churn", "version": "3"},
    }
    assert deliver(wbot, event)[1]["status"] == "ok"
    post = wbot.posted_in(ALERTS)
    assert (
        "churn` v3 registered from run" in post.params["text"]
        and "roc_auc=0.85" in (post.params["text"])
    )
    assert ids.REGISTERED_PROMOTE in json.dumps(post.decoded["blocks"])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"secret": "wrong"}, 401), ({"skew": -600}, 401), ({"skew": 600}, 401)],
)
def test_forged_and_stale_deliveries_are_refused(
    wbot: BotServer, kwargs: dict, expected: int
) -> None:
    client_of(wbot).set_registered_model_alias("churn", "champion", "2")
    skew = kwargs.pop("skew", None)
    if skew is not None:
        kwargs["ts"] = int(time.time()) + skew  # computed now, not when tests were collected
    assert deliver(wbot, alias_event(), **kwargs)[0] == expected
    assert warnings(wbot) == []
    assert not wbot.audited("out_of_band_change")


def test_malformed_missing_and_oversize(wbot: BotServer) -> None:
    assert deliver(wbot, b"{not json")[0] == 400
    assert deliver(wbot, b"[1, 2]")[0] == 400
    resp = wbot.http.post(f"{wbot.url}/mlflow/webhook", content=b"{}")
    assert resp.status_code == 401
    assert deliver(wbot, b"x" * (300 << 10))[0] == 413
    odd = {"entity": "model_version_alias", "action": "created", "data": "nope"}
    assert deliver(wbot, odd)[1]["status"] == "ok"


def test_unconfigured_secret_answers_503(bot: BotServer) -> None:
    status, body = deliver(bot, alias_event())
    assert status == 503 and "not configured" in body["error"]


@pytest.mark.postgres
def test_two_replicas_reconciling_at_once_record_and_warn_once(
    pg_database: str, mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Both replicas run reconciliation at start and on the same interval: one baseline per
    alias, and one warning per out-of-band change, whichever replica sees it first."""
    import concurrent.futures

    from sqlalchemy import text

    bots = [
        start_bot(
            tmp_path / f"r{i}",
            fake_slack,
            mlflow_uri=mlflow_store,
            database_url=pg_database,
            policy='[defaults]\napprovers = ["U0APPROVER1"]\n',
            mlops_bot_report_channel=ALERTS,
        )
        for i in range(2)
    ]

    def both_reconcile() -> list[int]:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            runs = pool.map(
                lambda i: reconcile(bots[i % 2].runtime, bots[i % 2].app.client), range(6)
            )
            return list(runs)

    def count(action: str) -> int:
        with bots[0].runtime.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM audit_event WHERE action = :a"), {"a": action}
                ).scalar_one()
            )

    try:
        assert sum(both_reconcile()) == 0
        baselines = count("alias_baseline")
        with bots[0].runtime.engine.connect() as conn:
            watched = conn.execute(text("SELECT count(*) FROM alias_state")).scalar_one()
        assert baselines == watched >= 2  # one per (model, protected alias), set or not
        client_of(bots[0]).set_registered_model_alias("churn", "champion", "3")
        assert sum(both_reconcile()) == 1
        assert count("out_of_band_change") == 1 and count("alias_baseline") == baselines
        assert len(warnings(bots[0])) == 1
        assert audit.verify(bots[0].runtime.engine).ok
    finally:
        for b in bots:
            b.stop()
