"""An alias that needs no approval moves at once, for the model's owners and approvers only,
unless the policy opens it to everyone (`[permissions] unprotected_aliases = "anyone"`)."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.helpers import BotServer, serving
from tests.slack_fake import FakeSlack

POLICY = '[defaults]\napprovers = ["U0APPROVER1"]\n\n[models.churn]\nowners = ["U0OWNER"]\n'


def staging(bot: BotServer) -> str | None:
    uri = bot.runtime.settings.mlflow_tracking_uri
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model("churn")
    holder = version.aliases.get("staging")
    return None if holder is None else str(holder)


def said(reply: dict) -> str:
    return reply.get("text", "") + json.dumps(reply.get("blocks") or [])


def test_unprotected_alias_moves_only_for_owners_and_approvers(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'closed.db'}"
    options = {"mlflow_uri": mlflow_store, "database_url": db, "policy": POLICY}
    with serving(tmp_path / "closed", fake_slack, **options) as bot:
        reply = said(bot.ask("promote churn 2 staging"))  # U0REQ: neither owner nor approver
        assert "Only owners and approvers of `churn` can move its unprotected aliases." in reply
        assert staging(bot) is None and bot.audited("promotion_applied") == []
        assert "not protected" in said(bot.ask("promote churn 2 staging", user="U0OWNER"))
        assert staging(bot) == "2"
        assert "not protected" in said(bot.ask("promote churn 3 staging", user="U0APPROVER1"))
        assert staging(bot) == "3"

    opened = POLICY + '\n[permissions]\nunprotected_aliases = "anyone"\n'
    db = f"sqlite:///{tmp_path / 'open.db'}"
    options = {"mlflow_uri": mlflow_store, "database_url": db, "policy": opened}
    with serving(tmp_path / "open", fake_slack, **options) as bot:
        url = fake_slack.response_url("opened")  # its own: the first bot's are numbered alike
        bot.command("promote churn 1 staging", response_url=url)
        assert "not protected" in said(bot.reply_to(url))
        assert staging(bot) == "1"
