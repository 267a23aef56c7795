"""The `/mlops` slash command: parse the text, find the subcommand, run it after the ack."""

from slack_bolt import App

from handlers.router import command


def register(app: App) -> None:
    command.register(app)
