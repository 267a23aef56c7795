"""Deploy hooks: the Standard Webhooks signature, retries, and once per promotion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bot import audit
from bot.approvals.deploy import DeployHooks, sign, signing_key, where
from bot.clock import FixedClock
from bot.policy.file import DeployHookConfig
from bot.runtime import Runtime
from bot.storage.tables import PromotionRequest
from tests.helpers import DeployReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def test_the_signature_matches_the_standard_webhooks_test_vector() -> None:
    # The vector published with the Standard Webhooks reference libraries: a receiver using
    # any of them verifies what the bot sends.
    key = signing_key(SECRET)
    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_raw_secret_is_its_bytes_and_a_broken_whsec_is_refused() -> None:
    assert signing_key("plain secret") == b"plain secret"
    with pytest.raises(ValueError, match="base64"):
        signing_key("whsec_not*base64")


def test_the_url_is_shown_without_query_or_credentials() -> None:
    assert where("https://deploy.example.com:8443/h?token=s3cret#x") == (
        "https://deploy.example.com:8443/h"
    )


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    """The bot's migrated SQLite database (the deliveries and the audit log)."""
    return runtime.engine


def _request() -> PromotionRequest:
    return PromotionRequest(
        id="0123456789ab",
        model_name="churn",
        version="3",
        alias="champion",
        run_id="r1",
        previous_version="1",
        requester="pipeline:ci",
        required_approvals=1,
        created_at=NOW,
        expires_at=NOW,
    )


def test_a_hook_is_retried_on_5xx_signed_each_time_and_sent_once_per_promotion(
    engine: Engine,
) -> None:
    receiver = DeployReceiver([503, 500])
    url = receiver.url
    waits: list[float] = []
    hooks = DeployHooks(
        engine, FixedClock(NOW), {"DEPLOY_SECRET": SECRET}, sleep=waits.append, backoff=0.5
    )
    config = (
        DeployHookConfig(url=f"{url}/deploy?k=v", aliases=["champion"], secret_env="DEPLOY_SECRET"),
        DeployHookConfig(url=f"{url}/never", aliases=["challenger"], secret_env="DEPLOY_SECRET"),
    )
    try:
        results = hooks.run(config, _request(), audit_id=42)
        again = hooks.run(config, _request(), audit_id=42)  # a second replica, a restart
    finally:
        receiver.shutdown()
    assert [(r.ok, r.status, r.attempts) for r in results] == [(True, 204, 3)]
    assert waits == [0.5, 1.0]
    assert [r.skipped for r in again] == [True]
    assert len(receiver.posts) == 3  # two failures, one delivery; nothing for challenger
    headers, body = receiver.posts[-1]
    assert {h["webhook-id"] for h, _ in receiver.posts} == {"msg_0123456789ab_0"}
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert json.loads(body)["data"] == {
        "model": "churn",
        "version": "3",
        "alias": "champion",
        "previous_version": "1",
        "request_id": "0123456789ab",
        "audit_id": 42,
        "requester": "pipeline:ci",
    }
    delivered = audit.recent(engine, actions={"deploy_hook_delivered", "deploy_hook_failed"})
    assert [e.action for e in delivered] == ["deploy_hook_delivered"]
    details = json.loads(delivered[0].details)
    assert details["url"] == f"{url}/deploy" and details["attempts"] == 3


def test_a_4xx_is_not_retried_and_a_missing_secret_sends_nothing(engine: Engine) -> None:
    receiver = DeployReceiver([404])
    url = receiver.url
    hooks = DeployHooks(engine, FixedClock(NOW), {}, sleep=lambda s: None)
    unset = DeployHookConfig(url=f"{url}/a", aliases=["champion"], secret_env="UNSET_SECRET")
    github = DeployHookConfig(
        url=f"{url}/repos/o/r/dispatches",
        aliases=["champion"],
        secret_env="GH_TOKEN",
        format="github_dispatch",
    )
    try:
        missing = hooks.run((unset,), _request(), audit_id=7)
        hooks.environ = {"GH_TOKEN": "ghp_x"}
        refused = hooks.run((unset, github), _request(), audit_id=7)
    finally:
        receiver.shutdown()
    assert [(r.ok, r.detail) for r in missing] == [(False, "not sent: UNSET_SECRET is not set")]
    assert [(r.skipped, r.ok, r.status, r.attempts) for r in refused] == [
        (True, True, None, 0),  # the first hook was handled (and failed) once already
        (False, False, 404, 1),
    ]
    headers, body = receiver.posts[0]
    assert headers["authorization"] == "Bearer ghp_x"
    assert json.loads(body)["event_type"] == "mlops_bot.promotion_applied"
    assert json.loads(body)["client_payload"]["request_id"] == "0123456789ab"
    failed = audit.recent(engine, actions={"deploy_hook_failed"})
    assert len(failed) == 2
