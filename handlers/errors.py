"""The one path for a failure no listener caught: a clear sentence to the user, a log line."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from bot.failures import explain
from handlers import blocks
from handlers.middleware import describe

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.error(handle_error)


def handle_error(error: Exception, body: dict, context: BoltContext) -> None:
    """Bolt's global error handler: explain (and log, with a reference) and tell the user.

    Work after the ack reports its own failures the same way (handlers.later); this catches
    what fails before or during the ack.
    """
    message = explain(error, describe(body))
    respond: Respond | None = context.respond
    if respond is None:  # no response_url (an event): the log line is all there is
        return
    try:
        respond(
            **blocks.error(message).payload(), response_type="ephemeral", replace_original=False
        )
    except Exception:
        log.exception("telling the user about a failure failed")
