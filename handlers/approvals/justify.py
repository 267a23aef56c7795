"""The requester's justification: `/mlops promote <model> <version> <alias>` without one opens
a modal asking for it; submitting the modal opens the request as if it had been typed."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.approvals.outcomes import OutcomeKind
from bot.policy.permissions import Action
from handlers import action_ids as ids
from handlers import blocks as render
from handlers.approvals.messages import direct_message, open_request, tell
from handlers.blocks import Reply, esc, section
from handlers.context import approvals_of
from handlers.later import after_ack
from handlers.router.invocation import Invocation, UsageError
from handlers.slack_client import SLACK_FAILURES, slack_error

MIN_LENGTH = 3
USAGE = "`/mlops promote <model> <version> <alias> <why this version…>`"


def register(app: App) -> None:
    app.view(ids.PROMOTE_MODAL)(handle_submit)


def justification_modal(model: str, version: str, alias: str, channel: str) -> dict[str, Any]:
    """The modal; `private_metadata` holds what was typed (model, version, alias, channel)."""
    target = {"model": model, "version": version, "alias": alias, "channel": channel}
    return View(
        type="modal",
        callback_id=ids.PROMOTE_MODAL,
        private_metadata=json.dumps(target),
        title="Justify the promotion",
        submit="Request",
        close="Cancel",
        blocks=[
            section(f"*{esc(model)}* v{esc(version)} → `@{esc(alias)}`"),
            InputBlock(
                block_id=ids.REASON_BLOCK,
                label="Why this version?",
                element=PlainTextInputElement(
                    action_id=ids.REASON_INPUT,
                    multiline=True,
                    min_length=MIN_LENGTH,
                    max_length=2000,
                ),
            ),
        ],
    ).to_dict()


def ask(inv: Invocation, model: str, version: str, alias: str) -> Reply | None:
    """Open the justification modal for a request that needs one; None when the request
    would be refused anyway or needs no justification (the service then says why, as it does
    for a typed one). Unknown models and versions are refused before the form opens."""
    registry = inv.rt.registry
    info = registry.get_model(model)
    policy = inv.rt.policy.for_model(info.name)
    if policy.lookalike(alias) is not None or not policy.is_protected(alias):
        return None
    candidate = registry.version_of(info, version)
    if info.holder(alias) == candidate.version:
        return None
    if inv.svc.permissions.can(inv.user, Action.PROMOTE, info.name, inv.channel) is not None:
        return None
    if not inv.trigger_id:
        raise UsageError(f"A promotion request needs a justification: {USAGE}.", "promote")
    view = justification_modal(info.name, candidate.version, alias, inv.channel)
    try:
        inv.client.views_open(trigger_id=inv.trigger_id, view=view)
    except SLACK_FAILURES as exc:
        raise UsageError(
            f"A promotion request needs a justification ({slack_error(exc)} opening the form): "
            f"{USAGE}.",
            "promote",
        ) from None
    text = "A promotion request needs a justification: I opened a form asking for it."
    return Reply(text, [section(text)])


def _typed(view: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The justification and the request's target from a submitted modal ("", {} if bad)."""
    values = ((view.get("state") or {}).get("values") or {}).get(ids.REASON_BLOCK) or {}
    reason = str((values.get(ids.REASON_INPUT) or {}).get("value") or "").strip()
    try:
        target = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        target = None
    keys = ("model", "version", "alias", "channel")
    if not isinstance(target, dict) or not all(isinstance(target.get(k), str) for k in keys):
        return reason, {}
    return reason, {k: target[k][:256] for k in keys}


def handle_submit(
    ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext
) -> None:
    reason, target = _typed(view)
    if len(reason) < MIN_LENGTH:
        ack(response_action="errors", errors={ids.REASON_BLOCK: "Please give a justification."})
        return
    ack()
    user = body["user"]["id"]
    if not target:
        direct_message(client, user, "That form was damaged; type the /mlops promote again.")
        return
    svc = approvals_of(context)
    channel = target["channel"] or None

    def say(reply: Reply, text: str) -> None:
        if channel:
            tell(client, channel, user, reply)
        else:
            direct_message(client, user, text)

    def rest() -> None:
        outcome = open_request(
            client, svc, target["model"], target["version"], target["alias"], user, reason, channel
        )
        if outcome.kind == OutcomeKind.UNPOSTED:
            say(render.error(outcome.message), outcome.message)
        else:
            shown = esc(outcome.message)
            say(Reply(shown, [section(shown)]), outcome.message)

    after_ack(context, rest, lambda text: say(render.error(text), text), urgent=True)
