"""`/mlops models`, `show` and `status`: read-only views of MLflow and of the bot."""

from slack_bolt import App

from handlers.models import commands as _commands  # noqa: F401  (declares its /mlops subcommands)


def register(app: App) -> None:
    """Its subcommands are declared on import; it has no other listener."""
