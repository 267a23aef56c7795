"""Events API listeners."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import render
from bot.app import runtime_of


def register(app: App) -> None:
    app.event("app_home_opened")(handle_app_home_opened)


def handle_app_home_opened(event: dict, client: WebClient, context: BoltContext) -> None:
    """Publish the App Home tab for the viewer."""
    if event.get("tab") not in (None, "home"):
        return
    rt = runtime_of(context)
    view = render.home_view(rt.registry.list_models())
    client.views_publish(user_id=event["user"], view=view)
