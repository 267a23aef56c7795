"""Issue 16 "Done when": a CI-like script waits on a promotion it asked for over HTTP, an
approver approves the card, the script exits 0 and the deploy receiver gets one signed POST."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers import action_ids as ids
from tests.helpers import MLOPS_BOT, BotServer, DeployReceiver, cli_env, serving_policy, wait_until
from tests.integration.test_approvals import CHANNEL, click, holder
from tests.integration.test_pipeline_api import SECRET, TOKEN, pipeline_policy
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.slow


@pytest.fixture
def pbot(
    mlflow_store: str,
    fake_slack: FakeSlack,
    tmp_path: Path,
    receiver: DeployReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BotServer]:
    """`serve --http` (in this process, uvicorn on port 0) with a pipeline and a deploy hook."""
    monkeypatch.setenv("CHURN_DEPLOY_SECRET", SECRET)
    policy = pipeline_policy(receiver.url)
    with serving_policy(tmp_path / "bot", fake_slack, mlflow_store, policy) as bot:
        yield bot


def test_a_ci_job_waits_for_the_approval_and_the_deploy_hook_fires_once(
    pbot: BotServer, receiver: DeployReceiver, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    env = cli_env(tmp_path, MLOPS_BOT_URL=pbot.url, MLOPS_BOT_API_TOKEN=TOKEN)
    # what a CI step runs: ask, then wait for the decision (exit status = the job's result)
    ci = subprocess.Popen(
        [
            MLOPS_BOT,
            *("request", "promote", "churn", "3", "champion"),
            *("--reason", "nightly retrain: recall +3 pts"),
            *("--wait", "--timeout", "2m", "--interval", "0.2"),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        card = wait_until(lambda: pbot.fake.messages(CHANNEL) and pbot.fake.messages(CHANNEL)[-1])
        rid = next(
            el["value"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
        )
        click(pbot, ids.APPROVE, rid, "U0APPROVER1", card)
        wait_until(lambda: len(pbot.services.approvals.get(rid)[1]) == 1)
        assert ci.poll() is None  # one approval of two: still waiting
        click(pbot, ids.APPROVE, rid, "U0APPROVER2", card, n=1)
        out, err = ci.communicate(timeout=60)
    finally:
        if ci.poll() is None:
            ci.kill()
            ci.wait()
    assert ci.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"request {rid}: https://")  # the card's link, for the CI log
    assert lines[-1] == "applied: @champion of churn moved to v3 (was v1)"
    assert holder(pbot) == "3"

    # the deploy receiver: exactly one POST, signed per Standard Webhooks with the secret
    wait_until(lambda: receiver.posts)
    [event] = receiver.verified(SECRET)
    assert len(receiver.posts) == 1
    assert (event["data"]["request_id"], event["data"]["previous_version"]) == (rid, "1")

    # the card's thread says so
    def thread() -> list[str]:
        return [
            c.params.get("text", "")
            for c in pbot.fake.calls_to("chat.postMessage")
            if c.params.get("thread_ts") == card["ts"]
        ]

    wait_until(lambda: any("Deploy hook" in t for t in thread()))
    assert any(f"Deploy hook `{receiver.url}/deploy` notified" in t for t in thread())

    # history: at a time before the request, @champion was held by the previous version
    reply = pbot.ask(f"history churn @champion at {before.isoformat()}")
    shown = json.dumps(reply)
    assert "was held by *v1*" in shown, shown
    now = pbot.ask("history churn @champion")
    assert "v3" in json.dumps(now) and "nightly retrain" in json.dumps(now)
