"""Modal submissions: the reason for a rejection or an override."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.approvals.outcomes import TOLD_TO_CLICKER
from handlers import action_ids as ids
from handlers import blocks as render
from handlers.approvals.deploy import run_deploy_hooks
from handlers.approvals.messages import announce, direct_message, show_outcome, tell
from handlers.context import approvals_of, services_of
from handlers.later import after_ack


def register(app: App) -> None:
    app.view(ids.REJECT_MODAL)(handle_reason_submit)
    app.view(ids.OVERRIDE_MODAL)(handle_reason_submit)


def _reason(view: dict) -> str:
    """The reason typed in the modal; "" for anything malformed."""

    def get(obj: object, key: str) -> object:
        return obj.get(key) if isinstance(obj, dict) else None

    value = get(get(get(get(view, "state"), "values"), ids.REASON_BLOCK), ids.REASON_INPUT)
    return str(get(value, "value") or "").strip()


def handle_reason_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    reason = _reason(view)
    if len(reason) < 3:
        ack(response_action="errors", errors={ids.REASON_BLOCK: "Please give a reason."})
        return
    ack()
    svc = approvals_of(context)
    user = body["user"]["id"]
    request_id = str(view.get("private_metadata") or "")[:32]

    def rest() -> None:
        if view.get("callback_id") == ids.REJECT_MODAL:
            outcome = svc.reject(request_id, user, reason)
        else:
            outcome = svc.override(request_id, user, reason)
        show_outcome(client, svc, outcome)
        announce(client, outcome)
        run_deploy_hooks(client, svc.rt, outcome, inline=services_of(context).inline_work)
        if outcome.kind in TOLD_TO_CLICKER and outcome.request is not None:
            shown = render.esc(outcome.message)
            reply = render.Reply(shown, [render.section(shown)])
            tell(client, outcome.request.channel, user, reply)

    after_ack(context, rest, lambda text: direct_message(client, user, text), urgent=True)
