"""A signed slash command captured on the wire and sent again within its 5-minute signature
window is refused, not run a second time."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from tests.helpers import serving, signed_headers, wait_until
from tests.integration.test_approvals import CHANNEL, POLICY, REQUESTER
from tests.slack_fake import FakeSlack


def test_a_replayed_slash_command_is_not_run_twice(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    with serving(
        tmp_path,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=POLICY,
    ) as bot:
        response_url = fake_slack.response_url("captured")
        body = urlencode(
            {
                "team_id": "T0TEAM",
                "channel_id": CHANNEL,
                "user_id": REQUESTER,
                "command": "/mlops",
                "text": "promote churn 3 champion",
                "api_app_id": "A0APP",
                "response_url": response_url,
                "trigger_id": "1.2.trigger",
            }
        )
        headers = signed_headers(body)
        assert bot.post(body, headers).status_code == 200
        assert "posted" in bot.reply_to(response_url)["text"]
        wait_until(lambda: bot.audited("promotion_requested"))

        replayed = bot.post(body, headers)  # same body, timestamp and signature

        assert replayed.status_code == 401
        assert len(bot.audited("promotion_requested")) == 1
        assert len(fake_slack.calls_to("response_url")) == 1
        assert len(fake_slack.messages(CHANNEL)) == 1  # one card
        # A new command (new timestamp, new signature) with the same text is run.
        assert "already" in bot.ask("promote churn 3 champion")["text"]
