"""Events API listeners."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.approvals.messages import publish_home
from handlers.context import approvals_of


def register(app: App) -> None:
    app.event("app_home_opened")(handle_app_home_opened)


def handle_app_home_opened(event: dict, client: WebClient, context: BoltContext) -> None:
    """Publish the viewer's App Home: what they can act on, their requests, last decisions."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    publish_home(client, approvals_of(context), event["user"])
