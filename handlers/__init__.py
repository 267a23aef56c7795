"""Bolt listeners, one module per Slack primitive (bolt-python starter template layout)."""

from slack_bolt import App

from handlers import middleware
from handlers.approvals import actions, views
from handlers.home import events
from handlers.reports import actions as report_actions
from handlers.router import command as commands


def register(app: App) -> None:
    """Register the middleware and every listener on the app."""
    middleware.register(app)
    commands.register(app)
    actions.register(app)
    report_actions.register(app)
    views.register(app)
    events.register(app)
