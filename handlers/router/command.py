"""`/mlops`: parse, call the domain, render, respond. Acks before any slow work."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.failures import explain
from handlers import blocks as render
from handlers.blocks import Reply, clip, esc, section
from handlers.context import services_of
from handlers.later import after_ack
from handlers.router import registry
from handlers.router.invocation import Invocation, UsageError
from handlers.router.parsing import parse
from handlers.router.registry import Subcommand

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.command("/mlops")(handle_mlops)


def handle_mlops(
    ack: Ack, command: dict, respond: Respond, context: BoltContext, client: WebClient
) -> None:
    """Route `/mlops <sub> …`; quick answers go in the ack, the rest via response_url."""
    parsed = parse(command.get("text") or "")
    user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
    services = services_of(context)

    def shown(s: Subcommand) -> bool:
        return s.allowed(services.permissions, user, channel)

    if parsed.sub == "help":
        topic = parsed.args[0].text.lower() if parsed.args else None
        ack(**help_reply(topic, shown=shown).payload(), response_type="ephemeral")
        return
    sub = registry.find(parsed.sub)
    if sub is None:
        ack(**help_reply(unknown=parsed.sub, shown=shown).payload(), response_type="ephemeral")
        return
    ack()
    inv = Invocation(
        services=services,
        parsed=parsed,
        user=user,
        channel=channel,
        client=client,
        trigger_id=str(command.get("trigger_id") or ""),
    )

    def rest() -> None:
        refusal = services.permissions.may_run(user, sub.name, channel)
        reply = render.error(refusal.reason) if refusal else run_subcommand(sub, inv)
        respond(**reply.payload(), response_type="ephemeral", replace_original=False)
        for fn in inv.deferred:
            fn()

    def failed(text: str) -> None:
        respond(**render.error(text).payload(), response_type="ephemeral", replace_original=False)

    after_ack(context, rest, failed, urgent=sub.decision)


def help_reply(
    topic: str | None = None,
    unknown: str | None = None,
    shown: Callable[[Subcommand], bool] | None = None,
) -> Reply:
    """`/mlops help [subcommand]`, or the answer to an unknown subcommand; only the subcommands
    `shown` keeps (those the asking user may run there)."""
    lines = []
    if unknown is not None:
        lines.append(f":warning: Unknown subcommand `{esc(clip(unknown, 100))}`.")
    lines.append(registry.usage(topic, shown))
    text = "\n".join(lines)
    return Reply(text, [section(text)])


def run_subcommand(sub: Subcommand, inv: Invocation) -> Reply:
    """Run one subcommand; every failure becomes a clear reply, never a stack trace."""
    try:
        return sub.run(inv)
    except UsageError as exc:
        return render.error(str(exc), registry.usage(exc.sub))
    except Exception as exc:
        return render.error(explain(exc, f"/mlops {inv.parsed.sub}"))
