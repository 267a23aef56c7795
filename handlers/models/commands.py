"""`/mlops models | show | status`: what MLflow holds, and the bot's own health."""

from __future__ import annotations

from handlers import blocks as render
from handlers.blocks import Reply
from handlers.router.invocation import Invocation, UsageError
from handlers.router.registry import subcommand


@subcommand("/mlops models", "registered models with their aliases → versions")
def models(inv: Invocation) -> Reply:
    if inv.parsed.args:
        raise UsageError("`models` takes no arguments.", "models")
    return render.models_reply(inv.rt.registry.list_models())


@subcommand(
    "/mlops show <model> [<version>|@<alias>]",
    "a version: aliases, source run, key metrics, params, links",
)
def show(inv: Invocation) -> Reply:
    words = inv.words
    if not 1 <= len(words) <= 2:
        raise UsageError("`show` needs a model name and optionally a version or @alias.", "show")
    name = words[0]
    ref = words[1] if len(words) == 2 else None
    if ref is not None and not ref.startswith("@") and not ref.isdigit():
        raise UsageError(f"`{ref[:50]}` is neither a version number nor an @alias.", "show")
    registry = inv.rt.registry
    v = registry.get_version(name, ref)
    return render.version_reply(
        v, registry.version_url(v.name, v.version), registry.run_url(v.run_id or "")
    )


@subcommand("/mlops status", "bot, database, MLflow and scheduler health")
def status(inv: Invocation) -> Reply:
    scheduler = inv.services.scheduler
    next_runs = scheduler.next_runs() if scheduler is not None else []
    return render.status_reply(inv.services.health.check(), next_runs)
