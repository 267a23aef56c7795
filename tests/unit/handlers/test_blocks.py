"""Shared Block Kit builders: Slack's limits hold and user text cannot become a mention."""

from __future__ import annotations

from bot.health import HealthItem
from bot.registry.gateway import ModelSummary
from handlers import blocks
from tests.slack_fake import validate_blocks


def test_models_reply_stays_within_slack_limits_for_many_models() -> None:
    models = [
        ModelSummary(
            name=f"model-{i:04d}-" + "x" * 80, aliases={"champion": "1"}, latest_version="3"
        )
        for i in range(2000)
    ]
    payload = blocks.models_reply(models).payload()
    assert len(payload["blocks"]) <= blocks.MAX_BLOCKS
    assert len(payload["text"]) <= blocks.FALLBACK_TEXT
    assert validate_blocks(payload["blocks"]) == []
    assert "truncated" in str(payload["blocks"][-1])


def test_user_text_is_escaped_in_mrkdwn() -> None:
    reply = blocks.models_reply([ModelSummary("<!channel> & <@U1>", {}, None)])
    text = str(reply.payload()["blocks"])
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in text and "<!channel>" not in text


def test_error_shows_the_usage_line() -> None:
    payload = blocks.error("bad", "`/mlops show <model>` — a version").payload()
    assert payload["text"].startswith(":warning: bad") and "/mlops show <model>" in payload["text"]
    assert validate_blocks(payload["blocks"]) == []


def test_status_reply_marks_each_part() -> None:
    items = [HealthItem("database", True, "sqlite"), HealthItem("mlflow", False, "down <x>")]
    payload = blocks.status_reply(items, ["• job a: soon"]).payload()
    assert "database: ok" in payload["text"] and "mlflow: FAIL" in payload["text"]
    assert "down &lt;x&gt;" in str(payload["blocks"]) and "Next runs" in str(payload["blocks"])
