"""App Home: what waits for the viewer, their requests, the last decisions."""

from slack_bolt import App

from handlers.home import events


def register(app: App) -> None:
    events.register(app)
