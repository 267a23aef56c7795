"""Bolt listeners, one module per Slack primitive (bolt-python starter template layout)."""

from slack_bolt import App

from handlers import commands, events


def register(app: App) -> None:
    """Register every listener on the app."""
    commands.register(app)
    events.register(app)
