"""A signed slash command captured on the wire and sent again within its 5-minute signature
window is refused, not run a second time."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.helpers import BotServer, policy_bot, signed_headers, wait_until
from tests.integration.test_approvals import CHANNEL, POLICY, holder

APPROVER = "U0APPROVER1"
abot = policy_bot(POLICY)  # churn's approvers may move its unprotected aliases


def test_a_replayed_slash_command_is_not_run_twice(abot: BotServer) -> None:
    bot = abot
    response_url = bot.fake.response_url("captured")
    body = urlencode(
        {
            "team_id": "T0TEAM",
            "channel_id": CHANNEL,
            "user_id": APPROVER,
            "command": "/mlops",
            "text": "promote churn 2 staging",  # not protected: moves at once
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": "1.2.trigger",
        }
    )
    headers = signed_headers(body)
    assert bot.post(body, headers).status_code == 200
    assert "not protected" in bot.reply_to(response_url)["text"]
    moves = wait_until(lambda: bot.audited("promotion_applied"))
    assert holder(bot, alias="staging") == "2"

    replayed = bot.post(body, headers)  # the same body, timestamp and signature

    assert replayed.status_code == 401
    assert len(bot.fake.calls_to("response_url")) == 1
    assert bot.audited("promotion_applied") == moves
    # A new command (new timestamp and signature) with the same text is run.
    assert "already holds" in bot.ask("promote churn 2 staging", user=APPROVER)["text"]
