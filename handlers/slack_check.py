"""The Slack part of `mlops-bot check`: the bot token (auth.test) and the scopes it was granted
(Slack's `x-oauth-scopes` response header) against those manifest.yml asks for."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.checks import SLACK_SCOPES, Check, failed, passed, skipped, why_unanswered
from bot.config import Settings
from handlers.slack_client import SLACK_FAILURES, make_client, slack_error

REINSTALL = (
    "add them under OAuth & Permissions → Bot Token Scopes (or create the app from "
    "manifest.yml), then reinstall the app to the workspace"
)


def check_slack(settings: Settings) -> list[Check]:
    """auth.test with SLACK_BOT_TOKEN, then the granted scopes; skipped without a token."""
    if settings.slack_bot_token is None:
        return [
            skipped(
                "Slack",
                "no SLACK_BOT_TOKEN: only the local shell can run (`serve` needs Slack)",
                "set SLACK_BOT_TOKEN, and SLACK_APP_TOKEN or SLACK_SIGNING_SECRET (.env.example)",
            )
        ]
    out = []
    if not settings.socket_mode and settings.slack_signing_secret is None:
        out.append(
            failed(
                "Slack mode",
                "HTTP mode (no SLACK_APP_TOKEN) but no SLACK_SIGNING_SECRET",
                "set SLACK_SIGNING_SECRET (Basic Information → Signing Secret), or "
                "SLACK_APP_TOKEN for Socket Mode",
            )
        )
    client = make_client(settings)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = slack_error(exc)
        return [
            *out,
            failed(
                "Slack token",
                f"Slack refused SLACK_BOT_TOKEN ({error})",
                "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions to "
                "SLACK_BOT_TOKEN",
            ),
        ]
    except SLACK_FAILURES as exc:
        return [
            *out,
            failed(
                "Slack token",
                f"cannot reach Slack at {settings.slack_api_url} ({why_unanswered(exc)})",
                "check the network or proxy, and SLACK_API_URL",
            ),
        ]
    who = f"@{answer.get('user')} in {answer.get('team')} ({answer.get('team_id')})"
    out.append(passed("Slack token", f"accepted: {who}"))
    header = {k.lower(): v for k, v in answer.headers.items()}.get("x-oauth-scopes")
    if header is None:
        out.append(skipped("Slack scopes", "Slack did not say which scopes the token has"))
        return out
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = [s for s in SLACK_SCOPES if s not in granted]
    if missing:
        out.append(failed("Slack scopes", f"the token lacks {', '.join(missing)}", REINSTALL))
    else:
        out.append(passed("Slack scopes", f"all {len(SLACK_SCOPES)} of manifest.yml granted"))
    return out
