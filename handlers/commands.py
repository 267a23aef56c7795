"""`/mlops`: parse, call the domain, render, respond. Acks before any slow work."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, Respond

from bot import render
from bot.app import runtime_of
from bot.commands import Parsed, parse
from bot.db import DatabaseError
from bot.registry import NotFoundError, RegistryError
from bot.render import Reply
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class UsageError(Exception):
    """Wrong arguments: answered with the message and the subcommand's usage."""

    def __init__(self, message: str, sub: str) -> None:
        super().__init__(message)
        self.sub = sub


Subcommand = Callable[[Runtime, Parsed, dict], Reply]


def register(app: App) -> None:
    app.command("/mlops")(handle_mlops)


def handle_mlops(ack: Ack, command: dict, respond: Respond, context: BoltContext) -> None:
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
    respond(
        **run_subcommand(sub, runtime_of(context), parsed, command).payload(),
        response_type="ephemeral",
        replace_original=False,
    )


def run_subcommand(sub: Subcommand, rt: Runtime, parsed: Parsed, command: dict) -> Reply:
    """Run one subcommand; every failure becomes a clear reply, never a stack trace."""
    try:
        return sub(rt, parsed, command)
    except UsageError as exc:
        return render.error(str(exc), exc.sub)
    except NotFoundError as exc:
        return render.error(str(exc))
    except (RegistryError, DatabaseError) as exc:
        return render.error(str(exc))
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("/mlops %s failed (ref %s)", parsed.sub, ref)
        return render.error(f"Something went wrong (ref `{ref}`); the error is in the bot's log.")


def _models(rt: Runtime, parsed: Parsed, command: dict) -> Reply:
    if parsed.args:
        raise UsageError("`models` takes no arguments.", "models")
    return render.models_reply(rt.registry.list_models())


def _show(rt: Runtime, parsed: Parsed, command: dict) -> Reply:
    words = parsed.words()
    if not 1 <= len(words) <= 2:
        raise UsageError("`show` needs a model name and optionally a version or @alias.", "show")
    name = words[0]
    ref = words[1] if len(words) == 2 else None
    if ref is not None and not ref.startswith("@") and not ref.isdigit():
        raise UsageError(
            f"`{render.esc(ref[:50])}` is neither a version number nor an @alias.", "show"
        )
    v = rt.registry.get_version(name, ref)
    return render.version_reply(
        v, rt.registry.version_url(v.name, v.version), rt.registry.run_url(v.run_id or "")
    )


def _status(rt: Runtime, parsed: Parsed, command: dict) -> Reply:
    next_runs = rt.scheduler.next_runs() if rt.scheduler is not None else []
    return render.status_reply(rt.health(), next_runs)


SUBCOMMANDS: dict[str, Subcommand] = {
    "models": _models,
    "show": _show,
    "status": _status,
}
