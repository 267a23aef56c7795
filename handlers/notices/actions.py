"""The buttons of a registry notice: Revert, Request promotion. Both open an approval request."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.approvals.outcomes import OutcomeKind
from handlers import action_ids as ids
from handlers.approvals.actions import reply_to_clicker
from handlers.approvals.messages import open_request
from handlers.context import approvals_of
from handlers.later import after_ack


def register(app: App) -> None:
    app.action(ids.REVERT)(handle_registry_button)
    app.action(ids.REGISTERED_PROMOTE)(handle_registry_button)


def handle_registry_button(
    ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Revert (out-of-band change) or Request promotion (new version): an approval request.

    The value names model, alias and version; everything is re-checked by request_promotion,
    and the requester is the person who clicked.
    """
    ack()
    svc = approvals_of(context)
    model, _, rest = str(action.get("value") or "").partition("|")
    alias, _, version = rest.partition("|")
    revert = action.get("action_id") == ids.REVERT
    reason = "Revert an out-of-band change" if revert else "Promote a newly registered version"

    def run() -> None:
        outcome = open_request(
            client,
            svc,
            model[:256],
            version[:32],
            alias[:256],
            body["user"]["id"],
            reason,
            (body.get("channel") or {}).get("id"),
        )
        if outcome.kind != OutcomeKind.REQUESTED:
            reply_to_clicker(body, respond, client, svc, outcome.message)

    after_ack(
        context, run, lambda text: reply_to_clicker(body, respond, client, svc, text), urgent=True
    )
