"""`/mlops`: parse, call the domain, render, respond. Acks before any slow work."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.failures import explain
from handlers import blocks as render
from handlers.app import approvals_of, runtime_of
from handlers.approvals import commands as ac
from handlers.blocks import Reply
from handlers.later import after_ack
from handlers.reports import commands as rc
from handlers.router.invocation import Invocation, Subcommand, UsageError
from handlers.router.parsing import parse

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.command("/mlops")(handle_mlops)


def handle_mlops(
    ack: Ack, command: dict, respond: Respond, context: BoltContext, client: WebClient
) -> None:
    """Route `/mlops <sub> …`; quick answers go in the ack, the rest via response_url."""
    parsed = parse(command.get("text") or "")
    if parsed.sub == "help":
        topic = parsed.args[0].text.lower() if parsed.args else None
        ack(**render.help_reply(topic).payload(), response_type="ephemeral")
        return
    sub = SUBCOMMANDS.get(parsed.sub)
    if sub is None:
        ack(**render.help_reply(unknown=parsed.sub).payload(), response_type="ephemeral")
        return
    ack()
    inv = Invocation(
        rt=runtime_of(context),
        svc=approvals_of(context),
        parsed=parsed,
        user=str(command.get("user_id", "")),
        channel=str(command.get("channel_id", "")),
        client=client,
    )

    def rest() -> None:
        reply = run_subcommand(sub, inv)
        respond(**reply.payload(), response_type="ephemeral", replace_original=False)
        for fn in inv.deferred:
            fn()

    def failed(text: str) -> None:
        respond(**render.error(text).payload(), response_type="ephemeral", replace_original=False)

    after_ack(context, rest, failed, urgent=parsed.sub in DECISIONS)


# Subcommands that change something: queued ahead of read-only work (handlers.later).
DECISIONS = frozenset({"promote", "rollback", "schedule"})


def run_subcommand(sub: Subcommand, inv: Invocation) -> Reply:
    """Run one subcommand; every failure becomes a clear reply, never a stack trace."""
    try:
        return sub(inv)
    except UsageError as exc:
        return render.error(str(exc), exc.sub)
    except Exception as exc:
        return render.error(explain(exc, f"/mlops {inv.parsed.sub}"))


def _models(inv: Invocation) -> Reply:
    if inv.parsed.args:
        raise UsageError("`models` takes no arguments.", "models")
    return render.models_reply(inv.rt.registry.list_models())


def _show(inv: Invocation) -> Reply:
    words = inv.words
    if not 1 <= len(words) <= 2:
        raise UsageError("`show` needs a model name and optionally a version or @alias.", "show")
    name = words[0]
    ref = words[1] if len(words) == 2 else None
    if ref is not None and not ref.startswith("@") and not ref.isdigit():
        raise UsageError(
            f"`{render.esc(ref[:50])}` is neither a version number nor an @alias.", "show"
        )
    registry = inv.rt.registry
    v = registry.get_version(name, ref)
    return render.version_reply(
        v, registry.version_url(v.name, v.version), registry.run_url(v.run_id or "")
    )


def _status(inv: Invocation) -> Reply:
    scheduler = inv.rt.scheduler
    next_runs = scheduler.next_runs() if scheduler is not None else []
    return render.status_reply(inv.rt.health(), next_runs)


SUBCOMMANDS: dict[str, Subcommand] = {
    "models": _models,
    "show": _show,
    "status": _status,
    "promote": ac.promote,
    "rollback": ac.rollback,
    "pending": ac.pending,
    "audit": ac.audit_log,
    "drift": rc.drift,
    "perf": rc.perf,
    "schedule": rc.schedule,
}
