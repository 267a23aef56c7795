"""Promotion approvals in Slack: the subcommands, the card's buttons, the reason modals."""

from slack_bolt import App

from handlers.approvals import actions, justify, views
from handlers.approvals import commands as _commands  # noqa: F401  (declares its /mlops subcommands)


def register(app: App) -> None:
    actions.register(app)
    views.register(app)
    justify.register(app)
