"""Everything that speaks Slack: one package per feature, each with its own `register(app)`.

The order of registration is the order `/mlops help` lists the subcommands in.
"""

from slack_bolt import App

from handlers import (
    approvals,
    errors,
    history,
    home,
    middleware,
    models,
    notices,
    reports,
    router,
)


def register(app: App) -> None:
    """Register the middleware and every listener on the app."""
    middleware.register(app)
    errors.register(app)
    router.register(app)
    models.register(app)
    approvals.register(app)
    history.register(app)
    reports.register(app)
    notices.register(app)
    home.register(app)
