"""Drift and performance reports in Slack: the subcommands and the report's buttons."""

from slack_bolt import App

from handlers.reports import actions
from handlers.reports import commands as _commands  # noqa: F401  (declares its /mlops subcommands)


def register(app: App) -> None:
    actions.register(app)
