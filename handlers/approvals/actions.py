"""Button clicks on approval cards and in App Home. Values carry only a request id."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.approvals.outcomes import TOLD_TO_CLICKER, Outcome
from bot.approvals.service import ApprovalService
from bot.failures import explain
from bot.policy.permissions import Action
from handlers import action_ids as ids
from handlers import blocks as render
from handlers.approvals import blocks as cards
from handlers.approvals.deploy import run_deploy_hooks
from handlers.approvals.messages import announce, publish_home, show_outcome
from handlers.approvals.modelcard import details_modal
from handlers.context import approvals_of, services_of
from handlers.later import after_ack
from handlers.slack_client import SLACK_FAILURES, slack_error

_REQUEST_ID = re.compile(r"^[0-9a-f]{12}$")


def register(app: App) -> None:
    app.action(ids.APPROVE)(handle_approve)
    app.action(ids.REJECT)(handle_reason_button)
    app.action(ids.OVERRIDE)(handle_reason_button)
    app.action(ids.REQUEST_DETAILS)(handle_details)


def _request_id(action: dict) -> str:
    value = str(action.get("value") or "")
    return value if _REQUEST_ID.match(value) else value[:32] or "-"


def _from_home(body: dict) -> bool:
    return (body.get("container") or {}).get("type") == "view"


def reply_to_clicker(
    body: dict, respond: Respond, client: WebClient, svc: ApprovalService, text: str
) -> None:
    """An answer only the clicker sees: ephemeral under the card, or a notice in App Home."""
    user = body["user"]["id"]
    if _from_home(body):
        publish_home(client, svc, user, notice=text)
    elif body.get("response_url"):
        shown = render.esc(text)  # plain text: outcome messages, error sentences
        respond(
            **render.Reply(shown, [render.section(shown)]).payload(),
            response_type="ephemeral",
            replace_original=False,
        )


def report(
    body: dict,
    respond: Respond,
    client: WebClient,
    svc: ApprovalService,
    outcome: Outcome,
    inline: bool = False,
) -> None:
    """Show a decision: refresh the card, thread reply, tell the clicker when refused/failed;
    deploy hooks after an applied one (`inline`: in this thread, for the local shell)."""
    show_outcome(client, svc, outcome)
    announce(client, outcome)
    run_deploy_hooks(client, svc.rt, outcome, inline=inline)
    if outcome.kind in TOLD_TO_CLICKER:
        reply_to_clicker(body, respond, client, svc, outcome.message)
    elif _from_home(body):
        publish_home(client, svc, body["user"]["id"], notice=outcome.message)


def handle_approve(
    ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()
    svc = approvals_of(context)

    def rest() -> None:
        outcome = svc.approve(_request_id(action), body["user"]["id"])
        report(body, respond, client, svc, outcome, services_of(context).inline_work)

    after_ack(
        context, rest, lambda text: reply_to_clicker(body, respond, client, svc, text), urgent=True
    )


def handle_reason_button(
    ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Reject / Override: refuse at once, or open the reason modal within the trigger window."""
    ack()
    svc = approvals_of(context)
    kind = Action.REJECT if action.get("action_id") == ids.REJECT else Action.OVERRIDE
    request_id = _request_id(action)
    user = body["user"]["id"]
    try:  # here, not after the ack: views.open must follow the click within 3 seconds
        req, votes = svc.get(request_id)
        why = svc.refusal(req, votes, user, kind)
        if why is not None:
            why = svc.deny(req, request_id, user, kind, why).message
    except Exception as exc:
        why = explain(exc, f"{kind} button")
    if why is not None:
        reply_to_clicker(body, respond, client, svc, why)
        return
    assert req is not None
    try:
        client.views_open(trigger_id=body["trigger_id"], view=cards.reason_modal(kind, req))
    except SLACK_FAILURES as exc:
        reply_to_clicker(
            body,
            respond,
            client,
            svc,
            f"Could not open the form ({slack_error(exc)}); try again.",
        )


def handle_details(
    ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Details: everything the card cut short, in a modal (opened within the trigger window)."""
    ack()
    svc = approvals_of(context)
    try:
        req, _ = svc.get(_request_id(action))
    except Exception as exc:
        reply_to_clicker(body, respond, client, svc, explain(exc, "Details button"))
        return
    if req is None:
        reply_to_clicker(body, respond, client, svc, "This request does not exist.")
        return
    try:
        view = details_modal(req, cards.metrics_table(req))
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SLACK_FAILURES as exc:
        text = f"Could not open the details ({slack_error(exc)}); try again."
        reply_to_clicker(body, respond, client, svc, text)
