"""Registry notices in Slack: out-of-band alias moves, tag tampering, newly registered versions."""

from slack_bolt import App

from handlers.notices import actions


def register(app: App) -> None:
    actions.register(app)
