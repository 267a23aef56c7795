"""After a promotion is applied: send the model's deploy hooks (bot.approvals.deploy) and say
in the card's thread what became of each.

Deliveries run on a small pool of their own: with retries a slow receiver holds a thread for
up to a minute, which must not be one of the after-ack workers that run everyone's clicks.
"""

from __future__ import annotations

import logging
import os

from slack_sdk import WebClient

from bot.approvals.deploy import DeployHooks, HookResult
from bot.approvals.outcomes import Outcome, OutcomeKind
from bot.logs import ContextExecutor
from bot.runtime import Runtime
from handlers.blocks import esc
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)
_pool = ContextExecutor(max_workers=4, thread_name_prefix="deploy-hooks")


def run_deploy_hooks(
    client: WebClient, rt: Runtime, outcome: Outcome, *, inline: bool = False
) -> None:
    """After an APPLIED outcome, deliver its hooks on the hooks' pool (`inline`: here, as the
    local shell does, so their notes print before the prompt); any other outcome sends nothing."""
    if outcome.kind != OutcomeKind.APPLIED or outcome.request is None:
        return
    if not rt.policy.for_model(outcome.request.model_name).deploy:
        return
    if inline:
        deliver(client, rt, outcome)
    else:
        _pool.submit(deliver, client, rt, outcome)


def deliver(
    client: WebClient, rt: Runtime, outcome: Outcome, hooks: DeployHooks | None = None
) -> list[HookResult]:
    """Deliver the hooks of an APPLIED outcome (once per promotion) and report each in the
    card's thread."""
    req = outcome.request
    if outcome.kind != OutcomeKind.APPLIED or req is None or outcome.audit_id is None:
        return []
    configured = rt.policy.for_model(req.model_name).deploy
    hooks = hooks or DeployHooks(rt.engine, rt.clock, os.environ)
    try:
        results = hooks.run(configured, req, outcome.audit_id)
    except Exception:  # the database down: the claim or the audit failed; the log says which
        log.exception("deploy hooks of %s could not run", req.id)
        return []
    for result in results:
        if not result.skipped:
            _tell_thread(client, req.channel, req.message_ts, result)
    return results


def thread_text(result: HookResult) -> str:
    """The thread reply for one hook's outcome."""
    shown = f"`{esc(result.where)}`"
    if result.ok:
        return (
            f":rocket: Deploy hook {shown} notified ({esc(result.detail)}, "
            f"`webhook-id` `{result.webhook_id}`)."
        )
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    return f":warning: Deploy hook {shown} failed{tries}: {esc(result.detail)}."


def _tell_thread(
    client: WebClient, channel: str | None, ts: str | None, result: HookResult
) -> None:
    if not channel or not ts:
        return
    try:
        client.chat_postMessage(channel=channel, thread_ts=ts, text=thread_text(result))
    except SLACK_FAILURES as exc:
        log.warning("deploy hook note in %s failed: %s", channel, slack_error(exc))
