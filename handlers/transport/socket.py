"""Socket Mode: one process holds a WebSocket to Slack (no public URL needed)."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from handlers.slack_client import SLACK_FAILURES, slack_error


def serve_socket_mode(app: App, app_token: str | None) -> str | None:
    """Serve until interrupted; returns why it could not connect, or None."""
    try:
        SocketModeHandler(app, app_token).start()
    except SLACK_FAILURES as exc:
        return (
            f"cannot start: SLACK_APP_TOKEN: Socket Mode could not connect ({slack_error(exc)}): "
            "it must be an xapp-… token with connections:write, and Socket Mode enabled"
        )
    return None
