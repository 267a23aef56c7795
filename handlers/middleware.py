"""Global Bolt middleware: work every request shares, before any listener runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.request import BoltRequest

from bot.app import runtime_of
from bot.deliveries import first_delivery

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.middleware(skip_redelivered_events)


def skip_redelivered_events(
    body: dict,
    req: BoltRequest,
    context: BoltContext,
    next: Callable[[], BoltResponse],  # noqa: A002
) -> BoltResponse | None:
    """Slack redelivers an event it thinks we missed (`X-Slack-Retry-Num`); do the work once.

    Every event's `event_id` is remembered, so a retry of one that was handled is acked
    without running the listener again; a retry of one never seen is handled as new.
    """
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    seen = isinstance(event_id, str) and event_id
    if seen and not first_delivery(runtime_of(context), f"slack-event:{event_id}"):
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("event %s redelivered (retry %s): already handled", str(event_id)[:64], retry)
        return BoltResponse(status=200, body="")
    return next()
