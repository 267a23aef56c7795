"""Global Bolt middleware: work every request shares, before any listener runs."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.request import BoltRequest

from bot import metrics
from bot.logs import new_trace_id
from bot.storage.deliveries import first_delivery
from handlers.action_ids import REQUEST_ACTIONS
from handlers.context import runtime_of

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.middleware(tag_request)
    app.middleware(skip_redelivered_events)
    app.middleware(refuse_replayed_commands)


def tag_request(
    body: dict,
    context: BoltContext,
    next: Callable[[], BoltResponse],  # noqa: A002
) -> BoltResponse | None:
    """Give the request a trace ID that every log line it causes carries; log what it is; time
    its ack (listeners ack before their slow part, so `next()` returns at the ack)."""
    context["trace_id"] = new_trace_id()
    what = describe(body)
    log.info("%s from %s", what, context.user_id or "-")
    started = time.monotonic()
    try:
        return next()
    finally:
        kind = _ACK_KINDS.get(what.split(maxsplit=1)[0], "other")
        metrics.ACK_SECONDS.labels(kind).observe(time.monotonic() - started)


_ACK_KINDS = {
    "command": "command",
    "action": "action",
    "view_submission": "view",
    "view_closed": "view",
    "event": "event",
}


def describe(body: dict) -> str:
    """What a Slack request is, in a few words (no free text: it may hold anything)."""

    def part(value: object, key: str) -> str:
        return str(value.get(key) or "?")[:64] if isinstance(value, dict) else "?"

    kind = str(body.get("type") or "")[:64]
    if body.get("command"):
        words = str(body.get("text") or "").split(maxsplit=1)
        return f"command {str(body['command'])[:32]} {words[0][:32] if words else ''}".rstrip()
    if kind == "block_actions":
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        action = f"action {part(first, 'action_id')}"
        block = str(first.get("block_id") or "") if isinstance(first, dict) else ""
        if block.startswith(f"{REQUEST_ACTIONS}:"):  # a card's button: name its request
            action += f" request {block.split(':', 1)[1][:32]}"
        return action
    if kind in ("view_submission", "view_closed"):
        return f"{kind} {part(body.get('view'), 'callback_id')}"
    if kind == "event_callback":
        return f"event {part(body.get('event'), 'type')} {str(body.get('event_id') or '')[:64]}"
    return kind or "request"


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
    if isinstance(event_id, str) and event_id and not _first(context, f"slack-event:{event_id}"):
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("event %s redelivered (retry %s): already handled", str(event_id)[:64], retry)
        return BoltResponse(status=200, body="")
    return next()


def _first(context: BoltContext, delivery_id: str) -> bool:
    """Whether this event or command is new; when the database cannot say, handle it (the
    only event listener, App Home, is safe to run twice; a command that needs the database
    fails on its own, with a clear answer)."""
    try:
        return first_delivery(runtime_of(context).engine, delivery_id)
    except Exception as exc:
        log.warning("could not record delivery %s: %s", delivery_id[:64], type(exc).__name__)
        return True


def refuse_replayed_commands(
    body: dict,
    req: BoltRequest,
    context: BoltContext,
    next: Callable[[], BoltResponse],  # noqa: A002
) -> BoltResponse | None:
    """A signed slash command is run once: the same request sent again within its 5-minute
    signature window (a replay: Slack never resends a command) is refused with 401.

    Each command's timestamp and signature are remembered in the delivery table; requests
    without a signature (Socket Mode, the local shell) are not HTTP and cannot be replayed.
    """
    signature = (req.headers.get("x-slack-signature") or [""])[0]
    if not body.get("command") or not signature:
        return next()
    timestamp = (req.headers.get("x-slack-request-timestamp") or [""])[0]
    key = hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()
    if not _first(context, f"slack-command:{key}"):
        log.warning("command replayed (timestamp %s): refused", timestamp[:16])
        return BoltResponse(status=401, body="replayed request")
    return next()
