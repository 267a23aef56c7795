"""The approval card as a model card (issue 16, items 1 and 7), over signed HTTP against a real
MLflow store: signature diff and its gate, params, lineage, the Details modal, the required
justification (typed or asked in a modal) and the message metadata other apps read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from handlers import action_ids as ids
from tests.helpers import BotServer, log_signed_version, policy_bot, wait_until
from tests.integration.test_approvals import (
    CHANNEL,
    REQUESTER,
    click,
    events,
    everything,
    request,
    submit_reason,
)
from tests.slack_fake import FakeSlack

POLICY = """
[defaults]
approvers = ["U0APPROVER1"]
required_approvals = 1

[models.card]
gates = ["signature_compatible"]
"""

cbot = policy_bot(POLICY)


@pytest.fixture
def versions(cbot: BotServer, tmp_path: Path) -> dict[str, str]:
    """`card` v1 @champion (age, plan), v2 needs a new column, v3 drops one."""
    uri = cbot.runtime.settings.mlflow_tracking_uri
    folder = tmp_path / "runs"
    made = {
        "holder": log_signed_version(
            uri, folder, "card", {"age": "double", "plan": "string"}, params={"depth": "6"}
        ),
        "needs_more": log_signed_version(
            uri,
            folder,
            "card",
            {"age": "long", "plan": "string", "region": "string"},
            params={"depth": "3"},
        ),  # fmt: skip
        "fewer": log_signed_version(uri, folder, "card", {"age": "double"}, params={"depth": "6"}),
    }
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "card", "champion", made["holder"]
    )
    return made


def buttons(card: dict[str, Any]) -> list[str]:
    return [
        el["action_id"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]


def test_the_card_shows_the_signature_diff_and_the_gate_fails_on_a_new_column(
    cbot: BotServer, versions: dict[str, str]
) -> None:
    rid, card = request(cbot, "promote card 2 champion needs the region for the EU launch")
    text = everything(card)
    assert "*Justification*\\n>needs the region for the EU launch" in text
    assert "*Signature* (v2 vs. v1): inputs +1 −0 ~1" in text
    assert "+ input `region` (string)" in text and "~ input `age` double → long" in text
    assert "`depth` `6` → `3`" in text  # params that changed
    assert "*Training data* of v2 — same as v1" in text and "s3://data/train.parquet" in text
    assert "*Code* v2: commit `0123abcd` · `train.py` (as v1)" in text
    assert ":x: `signature_compatible` — needs input column(s) v1 did not: `region`" in text
    assert buttons(card) == [ids.OVERRIDE, ids.REJECT, ids.REQUEST_DETAILS]
    # machine-readable: the card's metadata, as other apps read it from Slack
    meta = card["metadata"]
    assert meta["event_type"] == "mlops_bot_promotion_requested"
    assert meta["event_payload"] == {
        "request_id": rid, "model": "card", "version": "2", "alias": "champion",
        "kind": "promote", "requester": REQUESTER, "previous_version": "1",
        "status": "pending", "gates_passed": False,
    }  # fmt: skip
    [requested] = [e for e in events(cbot) if e.action == "promotion_requested"]
    assert json.loads(requested.details)["reason"] == "needs the region for the EU launch"


def test_dropping_a_column_passes_and_the_decision_carries_metadata(
    cbot: BotServer, versions: dict[str, str]
) -> None:
    rid, card = request(cbot, "promote card 3 champion smaller model, same callers")
    assert "− input `plan` (string)" in everything(card)
    assert ":white_check_mark: `signature_compatible`" in everything(card)
    click(cbot, ids.APPROVE, rid, "U0APPROVER1", card)
    reply = cbot.fake.wait_for("chat.postMessage", lambda c: c.params.get("thread_ts"))[0]
    assert "moved to v3" in reply.params["text"]
    assert "*Justification*\n>smaller model, same callers" in reply.params["text"]
    meta = reply.decoded["metadata"]
    assert meta["event_type"] == "mlops_bot_promotion_decided"
    applied = [e for e in events(cbot) if e.action == "promotion_applied"][-1]
    payload = meta["event_payload"]
    assert (payload["request_id"], payload["outcome"], payload["audit_id"]) == (
        rid, "applied", applied.id,
    )  # fmt: skip
    redrawn = wait_until(
        lambda: "Promoted" in everything(m := cbot.fake.message(CHANNEL, card["ts"]) or {}) and m
    )
    assert redrawn["metadata"]["event_payload"]["status"] == "applied"
    assert buttons(redrawn) == [ids.REQUEST_DETAILS]  # decided: only Details is left


def test_details_opens_a_modal_with_everything(cbot: BotServer, versions: dict[str, str]) -> None:
    rid, card = request(cbot, "promote card 2 champion needs the region")
    click(cbot, ids.REQUEST_DETAILS, rid, "U0SOMEONE", card)
    [opened] = cbot.fake.wait_for("views.open", lambda c: True)
    view = opened.decoded["view"]
    text = everything({"blocks": view["blocks"]})
    assert view["title"]["text"] == "Request details"
    assert "*Version source*" in text and "+ input `region` (string)" in text
    assert "*Training data* of v1" in text and "No metrics logged" in text


def test_a_request_without_a_justification_asks_for_it_in_a_modal(
    cbot: BotServer, versions: dict[str, str]
) -> None:
    reply = cbot.ask("promote card 3 champion")
    assert "I opened a form asking for it" in everything(reply)
    [opened] = cbot.fake.wait_for("views.open", lambda c: True)
    view = opened.decoded["view"]
    assert view["callback_id"] == ids.PROMOTE_MODAL
    assert cbot.audited("promotion_requested") == []  # nothing opened yet
    answer = submit_reason(cbot, ids.PROMOTE_MODAL, view["private_metadata"], REQUESTER, "no")
    assert answer["response_action"] == "errors"  # too short: the modal stays open
    submit_reason(cbot, ids.PROMOTE_MODAL, view["private_metadata"], REQUESTER, "drops a column")
    card = cbot.posted_in(CHANNEL).decoded
    assert "*Justification*\\n>drops a column" in everything(card)
    [requested] = cbot.audited("promotion_requested")
    assert json.loads(requested.details)["reason"] == "drops a column"


def test_a_damaged_form_changes_nothing(cbot: BotServer, versions: dict[str, str]) -> None:
    submit_reason(cbot, ids.PROMOTE_MODAL, "{not json", REQUESTER, "a good reason")
    dm = cbot.fake.wait_for("chat.postMessage", lambda c: c.params.get("channel") == REQUESTER)
    assert "damaged" in dm[0].params["text"]
    assert cbot.audited("promotion_requested") == []


def test_when_the_form_cannot_open_the_user_gets_the_usage(
    cbot: BotServer, fake_slack: FakeSlack, versions: dict[str, str]
) -> None:
    fake_slack.fail_next("views.open", status=200, error="expired_trigger_id")
    text = everything(cbot.ask("promote card 3 champion"))
    assert "needs a justification (expired_trigger_id opening the form)" in text
    assert "`/mlops promote &lt;model&gt; &lt;version&gt; &lt;alias&gt; &lt;why" in text
    assert cbot.audited("promotion_requested") == []


def test_a_failing_signature_gate_is_overridden_with_a_reason(
    cbot: BotServer, versions: dict[str, str]
) -> None:
    rid, card = request(cbot, "promote card 2 champion callers send the region from Monday")
    click(cbot, ids.OVERRIDE, rid, "U0APPROVER1", card)
    cbot.fake.wait_for("views.open", lambda c: True)
    submit_reason(cbot, ids.OVERRIDE_MODAL, rid, "U0APPROVER1", "all callers were updated")
    done = wait_until(
        lambda: "Promoted" in everything(m := cbot.fake.message(CHANNEL, card["ts"]) or {}) and m
    )
    assert ":unlock: Overridden by <@U0APPROVER1>" in everything(done)
    uri = cbot.runtime.settings.mlflow_tracking_uri
    assert MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model(
        "card"
    ).aliases == {"champion": 2}
    [used] = cbot.audited("override_used")
    assert json.loads(used.details)["reason"] == "all callers were updated"
