"""`/mlops history`: who held an alias when, from the verified audit log (App Home shows the
same timeline, see handlers/home)."""

from slack_bolt import App

from handlers.history import commands as _commands  # noqa: F401  (declares its /mlops subcommands)


def register(app: App) -> None:
    """Its subcommand is declared on import; it has no other listener."""
