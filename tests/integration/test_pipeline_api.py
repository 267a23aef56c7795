"""The pipelines' HTTP API over real HTTP: the same request and card as `/mlops promote`,
tokens, validation, the rate limit, and deploy hooks after the approval."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers import action_ids as ids
from tests.helpers import BotServer, DeployReceiver, serving_policy, wait_until
from tests.integration.test_approvals import (
    CHANNEL,
    POLICY,
    click,
    everything,
    holder,
    left_applying,
)
from tests.slack_fake import FakeSlack

TOKEN = "ci-token-for-tests-0123456789"
OTHER_TOKEN = "nightly-token-for-tests-0123"
SECRET = "whsec_" + base64.b64encode(b"deploy-secret-for-the-tests").decode()
PIPELINES = f"""
[pipelines.ci]
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
models = ["churn"]
aliases = ["champion"]
channel = "{CHANNEL}"

[pipelines.nightly]
token_sha256 = "{hashlib.sha256(OTHER_TOKEN.encode()).hexdigest()}"
models = ["fraud-detector"]
aliases = ["production"]
channel = "{CHANNEL}"
"""


def pipeline_policy(receiver_url: str) -> str:
    """The approvals tests' policy, plus the two pipelines and a deploy hook for @champion."""
    deploy = f"""
[[models.churn.deploy]]
url = "{receiver_url}/deploy?token=not-shown"
aliases = ["champion"]
secret_env = "CHURN_DEPLOY_SECRET"
"""
    return (
        POLICY.replace("[models.fraud-detector]", deploy + "\n[models.fraud-detector]") + PIPELINES
    )


BODY = {"model": "churn", "version": "3", "alias": "champion", "reason": "recall +3 pts on Q3"}


@pytest.fixture
def pbot(
    mlflow_store: str,
    fake_slack: FakeSlack,
    tmp_path: Path,
    receiver: DeployReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BotServer]:
    monkeypatch.setenv("CHURN_DEPLOY_SECRET", SECRET)
    with serving_policy(tmp_path, fake_slack, mlflow_store, pipeline_policy(receiver.url)) as bot:
        yield bot


def api(
    bot: BotServer, method: str, path: str, token: str | None = TOKEN, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return bot.http.request(method, f"{bot.url}/api/v1/{path}", headers=headers, **kwargs)


def test_a_pipeline_opens_the_same_request_and_card_and_follows_it_to_applied(
    pbot: BotServer, receiver: DeployReceiver
) -> None:
    resp = api(pbot, "POST", "promotions", json=BODY)
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    rid, card = answer["id"], pbot.fake.messages(CHANNEL)[-1]
    assert answer["state"] == "pending"
    assert answer["url"].startswith("https://")  # the card's permalink in Slack
    assert answer["url"].endswith(f"/archives/{CHANNEL}/p{card['ts'].replace('.', '')}")
    assert answer["status_url"] == f"{pbot.url}/api/v1/promotions/{rid}"
    shown = everything(pbot.fake.messages(CHANNEL)[-1])
    assert "churn v3 → @champion" in shown and "recall +3 pts on Q3" in shown
    assert "`pipeline:ci`" in shown and "<@pipeline:ci>" not in shown
    buttons = [
        el["value"]
        for b in pbot.fake.messages(CHANNEL)[-1]["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
    ]
    assert rid in buttons
    requested = pbot.audited("promotion_requested")
    assert [(e.actor, e.request_id) for e in requested] == [("pipeline:ci", rid)]
    assert json.loads(requested[0].details)["reason"] == "recall +3 pts on Q3"

    status = api(pbot, "GET", f"promotions/{rid}").json()
    assert (status["state"], status["votes"], status["outcome"]) == ("pending", [], None)
    assert api(pbot, "POST", "promotions", json=BODY).status_code == 409  # already pending

    message = pbot.fake.messages(CHANNEL)[-1]
    click(pbot, ids.APPROVE, rid, "U0APPROVER1", message)
    wait_until(lambda: len(api(pbot, "GET", f"promotions/{rid}").json()["votes"]) == 1)
    click(pbot, ids.APPROVE, rid, "U0APPROVER2", message, n=1)
    done = wait_until(
        lambda: (s := api(pbot, "GET", f"promotions/{rid}").json())["state"] == "applied" and s
    )
    assert done["outcome"] == "@champion of churn moved to v3 (was v1)"
    assert sorted(v["voter"] for v in done["votes"]) == ["U0APPROVER1", "U0APPROVER2"]
    assert holder(pbot) == "3"

    # the deploy hook: one correctly signed POST, said in the card's thread, audited
    def thread() -> str:
        return " ".join(
            c.params.get("text", "")
            for c in pbot.fake.calls_to("chat.postMessage")
            if c.params.get("thread_ts") == message["ts"]
        )

    wait_until(lambda: "Deploy hook" in thread())
    assert f"Deploy hook `{receiver.url}/deploy` notified (HTTP 204" in thread()
    assert "not-shown" not in thread()
    [event] = receiver.verified(SECRET)
    assert len(receiver.posts) == 1
    applied = pbot.audited("promotion_applied")[0]
    assert event["data"] == {
        "model": "churn",
        "version": "3",
        "alias": "champion",
        "previous_version": "1",
        "request_id": rid,
        "audit_id": applied.id,
        "requester": "pipeline:ci",
    }
    [delivered] = pbot.audited("deploy_hook_delivered")
    assert delivered.request_id == rid


def test_a_bad_token_gets_401_and_is_audited(pbot: BotServer) -> None:
    for token in ("wrong-token", None):
        resp = api(pbot, "POST", "promotions", token=token, json=BODY)
        assert resp.status_code == 401
        assert resp.json() == {"error": "missing or unknown bearer token"}
    assert api(pbot, "GET", "promotions/0123456789ab", token="wrong").status_code == 401
    refused = pbot.audited("api_token_refused")
    assert len(refused) == 3 and all(e.actor == "api" for e in refused)
    assert "wrong" not in refused[0].details  # the token is never written down
    assert pbot.fake.messages(CHANNEL) == [] and pbot.audited("promotion_requested") == []


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({**BODY, "version": "three"}, 422, {"field": "version"}),
        ({k: v for k, v in BODY.items() if k != "reason"}, 422, {"field": "reason"}),
        ({**BODY, "reason": ""}, 422, {"field": "reason"}),
        ({**BODY, "model": "fraud-detector"}, 403, {}),
        ({**BODY, "alias": "production"}, 403, {}),
        ({**BODY, "version": "99"}, 404, {}),
        ({**BODY, "version": "1"}, 409, {}),  # v1 holds @champion already
    ],
)
def test_bad_requests_get_a_clear_answer_and_change_nothing(
    pbot: BotServer, body: dict[str, Any], status: int, answer: dict[str, str]
) -> None:
    resp = api(pbot, "POST", "promotions", json=body)
    assert resp.status_code == status, resp.text
    got = resp.json()
    assert isinstance(got["error"], str) and "\n" not in got["error"] and got["error"]
    assert answer.items() <= got.items()
    assert pbot.fake.messages(CHANNEL) == [] and pbot.audited("promotion_requested") == []


def test_a_body_that_is_not_json_names_the_body(pbot: BotServer) -> None:
    resp = pbot.http.post(
        f"{pbot.url}/api/v1/promotions",
        content=b"{model",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 422 and resp.json()["field"] == "body"
    plain = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}
    resp = pbot.http.post(f"{pbot.url}/api/v1/promotions", content=b"x", headers=plain)
    assert resp.status_code == 415
    big = json.dumps({**BODY, "reason": "x" * 20000}).encode()
    assert api(pbot, "POST", "promotions", content=big).status_code == 413


def test_a_pipeline_sees_only_its_own_models_requests(pbot: BotServer) -> None:
    rid = api(pbot, "POST", "promotions", json=BODY).json()["id"]
    assert api(pbot, "GET", f"promotions/{rid}", token=OTHER_TOKEN).status_code == 404
    assert api(pbot, "GET", "promotions/not-an-id").status_code == 404


def test_requests_are_rate_limited_per_token(pbot: BotServer) -> None:
    codes = [api(pbot, "GET", "promotions/0123456789ab").status_code for _ in range(40)]
    assert codes[0] == 404 and codes[-1] == 429
    assert 25 <= codes.count(404) <= 35  # a burst of 30, refilled at one a second
    # another pipeline's budget is its own
    assert api(pbot, "GET", "promotions/0123456789ab", token=OTHER_TOKEN).status_code == 404


def test_the_ci_client_exits_with_the_outcome(
    pbot: BotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    monkeypatch.chdir(tmp_path)  # no .env here
    env = {"MLOPS_BOT_URL": pbot.url, "MLOPS_BOT_API_TOKEN": TOKEN}

    def run(*args: str, **extra: str | None) -> Any:
        return CliRunner().invoke(cli, ["request", *args], env={**env, **extra})

    opened = run("promote", "churn", "v3", "@champion", "--reason", "recall +3 pts")
    assert opened.exit_code == 0, opened.output
    rid = pbot.audited("promotion_requested")[0].request_id
    assert opened.stdout.startswith(f"request {rid}: https://")

    waited = run("wait", rid, "--timeout", "1", "--interval", "0.2")
    assert waited.exit_code == 124
    assert f"request {rid} still pending after the timeout" in waited.stderr

    pbot.services.approvals.reject(rid, "U0APPROVER1", "not before the freeze ends")
    rejected = run("wait", rid, "--interval", "0.2")
    assert rejected.exit_code == 1
    assert rejected.stdout.strip() == "rejected: not before the freeze ends"

    refused = run(
        "promote", "churn", "3", "champion", "--reason", "x" * 5, MLOPS_BOT_API_TOKEN="no"
    )
    assert refused.exit_code == 2
    assert "request refused (HTTP 401): missing or unknown bearer token" in refused.stderr
    for args, extra, said in [
        (("wait", rid), {"MLOPS_BOT_URL": None}, "set MLOPS_BOT_URL"),
        (("wait", rid, "--timeout", "soon"), {}, "--timeout: 'soon' is not a duration"),
        (("wait", "0123456789ab"), {}, "cannot follow request 0123456789ab (HTTP 404)"),
        (("wait", rid), {"MLOPS_BOT_URL": "http://127.0.0.1:9"}, "cannot reach the bot"),
    ]:
        result = run(*args, **extra)
        assert (result.exit_code, said in result.stderr) == (2, True), result.output


def test_a_promotion_finished_by_recovery_fires_its_hook_once(
    pbot: BotServer, receiver: DeployReceiver
) -> None:
    from bot.approvals.outcomes import Outcome, OutcomeKind
    from handlers.approvals.deploy import deliver
    from jobs.approvals import recover

    rid = api(pbot, "POST", "promotions", json=BODY).json()["id"]
    left_applying(pbot, rid)  # a process died between the decision and the move
    svc, client = pbot.services.approvals, pbot.app.client
    assert recover(svc, client) == 1
    wait_until(lambda: pbot.audited("deploy_hook_delivered"))
    assert len(receiver.verified(SECRET)) == 1
    # the same promotion applied again elsewhere (another replica's recovery): nothing is sent
    req, votes = svc.get(rid)
    applied = pbot.audited("promotion_applied")[0]
    again = deliver(client, pbot.runtime, Outcome(OutcomeKind.APPLIED, "", req, votes, applied.id))
    assert [r.skipped for r in again] == [True]
    assert len(receiver.posts) == 1 and len(pbot.audited("deploy_hook_delivered")) == 1
