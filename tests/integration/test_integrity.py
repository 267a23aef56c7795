"""Trust (issue "close every hole an attacker found"): names are MLflow's, every protected
move is checked again at the moment it happens, and what is approved is what is deployed.

Through signed HTTP against a real MLflow sqlite store; an attacker with write access to the
bot's database is played by SQL written straight into its tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlmodel import col

from bot import audit
from bot.clock import utcnow
from bot.storage import db
from bot.storage.tables import ApprovalVote, PromotionRequest
from handlers import action_ids as ids
from jobs.approvals import recover
from tests.helpers import BotServer, serving_policy, wait_until
from tests.integration.test_approvals import (
    actions_of,
    card_now,
    click,
    ephemeral,
    everything,
    holder,
    left_applying,
    mlflow,
    request,
    submit_reason,
    write_sql,
)
from tests.slack_fake import FakeSlack

# churn v2 fails the latency gate (13.0 > 12.0 * 1.05); v3 passes both gates.
POLICY = """
[defaults]
approvers = ["U0APPROVER1", "U0APPROVER2"]
required_approvals = 1

[models.churn]
approvers = ["U0APPROVER1", "U0APPROVER2"]
required_approvals = 2
gates = ["roc_auc >= champion - 0.005", "latency_ms <= champion * 1.05"]
"""


@pytest.fixture
def ibot(mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotServer]:
    with serving_policy(tmp_path, fake_slack, mlflow_store, POLICY) as server:
        yield server


def status_of(bot: BotServer, request_id: str) -> str | None:
    req, _ = bot.services.approvals.get(request_id)
    return None if req is None else str(req.status)


def buttons_of(card: dict) -> list[str]:
    blocks = card["blocks"]
    return [el["action_id"] for b in blocks if b["type"] == "actions" for el in b["elements"]]


def refusals(bot: BotServer, request_id: str) -> list[str]:
    return [
        json.loads(e.details)["reason"]
        for e in audit.recent(bot.runtime.engine, limit=200, actions={"request_refused"})
        if e.request_id == request_id
    ]


# -- 1. names are MLflow's ------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["Champion", "CHAMPION", "_champion", "champion-", "Champion_"])
def test_an_alias_imitating_a_protected_one_is_refused(ibot: BotServer, alias: str) -> None:
    """On SQLite `Champion` would be a second alias, set at once as "not protected"."""
    reply = everything(ibot.ask(f"promote churn 2 {alias}"))
    assert f"`@{alias}` differs from the protected alias `@champion`" in reply
    assert "use `@champion`" in reply
    assert mlflow(ibot).get_registered_model("churn").aliases == {"champion": 1, "challenger": 3}
    assert ibot.audited("promotion_applied") == [] and ibot.audited("promotion_requested") == []


# -- 3. re-validated at the moment of the move ----------------------------------------------


def test_an_inserted_applying_row_and_vote_are_refused_by_recovery(ibot: BotServer) -> None:
    """The attack: one row (status `applying`, gates "passed", 1 approval) and one vote, both
    written into the database; the recovery job used to finish it and move `@champion`."""
    v2 = mlflow(ibot).get_model_version("churn", "2")
    long_ago = utcnow() - timedelta(minutes=10)
    rid = uuid.uuid4().hex[:12]
    with db.session(ibot.runtime.engine, write=True) as s:
        s.add(
            PromotionRequest(
                id=rid,
                model_name="churn",
                version="2",
                alias="champion",
                run_id=v2.run_id,
                previous_version="1",
                requester="U0MALLORY",
                required_approvals=1,
                gates_passed=True,
                status="applying",
                created_at=long_ago,
                expires_at=long_ago + timedelta(hours=72),
            )
        )
        s.flush()
        s.add(ApprovalVote(request_id=rid, voter="U0APPROVER1", at=long_ago))
        s.commit()

    assert recover(ibot.services.approvals, ibot.app.client) == 1
    assert holder(ibot) == "1"
    assert status_of(ibot, rid) == "refused"
    assert refusals(ibot, rid) == [
        "the audit log has no chained `promotion_requested` event for this request"
    ]
    assert actions_of(ibot, rid) == ["request_refused"]
    assert recover(ibot.services.approvals, ibot.app.client) == 0  # final: never retried
    assert holder(ibot) == "1"
    assert audit.verify(ibot.runtime.engine).ok


def test_a_vote_written_into_the_database_does_not_complete_a_live_request(
    ibot: BotServer,
) -> None:
    """Two approvals needed: one is a row written by hand, the other a real click. The click
    claims the request; the check at the move counts one approval and refuses it."""
    rid, card = request(ibot, "promote churn 3 champion better recall on the Q3 data")
    write_sql(ibot, insert(ApprovalVote).values(request_id=rid, voter="U0APPROVER2", at=utcnow()))
    url = click(ibot, ids.APPROVE, rid, "U0APPROVER1", card)
    assert "Not applied: 1 of 2 approvals are by eligible approvers" in ephemeral(ibot, url)
    assert holder(ibot) == "1"
    assert status_of(ibot, rid) == "refused"
    shown = everything(card_now(ibot, card))
    assert "Refused at the move" in shown and "not counted: U0APPROVER2" in shown
    assert ids.APPROVE not in json.dumps(card_now(ibot, card)["blocks"])  # no buttons left
    replies = [
        c.params["text"]
        for c in ibot.fake.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == card["ts"]
    ]
    assert len(replies) == 1 and "Not applied" in replies[0]  # the requester is told
    assert actions_of(ibot, rid) == ["promotion_requested", "approval_granted", "request_refused"]


def test_a_gate_failing_request_marked_passed_in_the_database_is_refused(
    ibot: BotServer,
) -> None:
    """v2 fails a gate; its row is changed to say the gates passed and both approvers' votes
    are there with their events: the request's chained event still says the gates failed."""
    rid, card = request(ibot, "promote churn 2 champion simpler model, easier to explain")
    assert buttons_of(card) == [ids.OVERRIDE, ids.REJECT, ids.REQUEST_DETAILS]
    where = col(PromotionRequest.id) == rid
    write_sql(ibot, update(PromotionRequest).where(where).values(gates_passed=True))
    left_applying(ibot, rid)

    assert recover(ibot.services.approvals, ibot.app.client) == 1
    assert holder(ibot) == "1"
    assert refusals(ibot, rid) == ["its gates failed and no eligible approver overrode them"]
    wait_until(lambda: "Refused at the move" in everything(card_now(ibot, card)))
    assert "gates failed and no eligible approver overrode them" in everything(card_now(ibot, card))
    assert audit.verify(ibot.runtime.engine).ok


# -- 8. what is approved is what is deployed ------------------------------------------------


def test_a_source_outside_its_run_fails_a_gate_shown_on_the_card(ibot: BotServer) -> None:
    """v4 is made with the champion's run (so its metrics pass every metric gate) and a source
    anywhere else: the card shows the source, the source gate fails, an override is needed."""
    client = mlflow(ibot)
    champion_run = client.get_model_version("churn", "1").run_id
    v4 = client.create_model_version("churn", "s3://elsewhere/model.pkl", champion_run)
    assert v4.version == 4

    rid, card = request(ibot, "promote churn 4 champion retrained on fresh data")
    shown = everything(card)
    assert "*Version source*\\n`s3://elsewhere/model.pkl`" in shown
    assert ":white_check_mark: `latency_ms &lt;= champion * 1.05`" in shown
    gate = ":x: `source inside the run's artifacts` — `s3://elsewhere/model.pkl` is outside"
    assert gate in shown
    assert buttons_of(card) == [ids.OVERRIDE, ids.REJECT, ids.REQUEST_DETAILS]
    url = click(ibot, ids.APPROVE, rid, "U0APPROVER1", card)  # a forged Approve click
    assert "Gates failed" in ephemeral(ibot, url)

    # overridable with a reason, like any gate
    submit_reason(ibot, ids.OVERRIDE_MODAL, rid, "U0APPROVER1", "artifact copied to S3 by ops")
    wait_until(lambda: "1/2" in everything(card_now(ibot, card)))
    click(ibot, ids.APPROVE, rid, "U0APPROVER2", card, n=1)
    wait_until(lambda: holder(ibot) == "4")
    acts = wait_until(lambda: (a := actions_of(ibot, rid)) and a[-1] == "promotion_applied" and a)
    assert acts == [
        "promotion_requested",
        "approval_denied",  # the forged click
        "override_used",
        "approval_granted",
        "approval_granted",
        "promotion_applied",
    ]


def test_a_source_inside_its_run_passes_and_the_card_shows_it(ibot: BotServer) -> None:
    rid, card = request(ibot, "promote churn 3 champion better recall on the Q3 data")
    source = mlflow(ibot).get_model_version("churn", "3").source
    shown = everything(card)
    assert f"*Version source*\\n`{source}`" in shown
    assert ":white_check_mark: `source inside the run's artifacts` — in the artifacts of run" in (
        shown
    )
    assert buttons_of(card) == [ids.APPROVE, ids.REJECT, ids.REQUEST_DETAILS]
    assert actions_of(ibot, rid) == ["promotion_requested"]
