"""`/mlops history <model> [@alias] [at <time>]`."""

from __future__ import annotations

from bot.approvals import history as log
from bot.approvals.history import HistoryError
from bot.registry.gateway import NotFoundError
from handlers import blocks as render
from handlers.blocks import Reply
from handlers.history.blocks import history_reply, holder_reply
from handlers.router.invocation import Invocation, UsageError
from handlers.router.registry import subcommand

HISTORY = "/mlops history <model> [@<alias>] [at <time>]"
HELP = "who held an alias when, and who requested and approved it (`at`: ISO 8601 or `3 days ago`)"


@subcommand(HISTORY, HELP)
def history(inv: Invocation) -> Reply:
    """The holders of a model's aliases over time, or the holder at one moment."""
    model, alias, when_words = parse(inv.words)
    try:
        when = log.parse_when(when_words, inv.rt.clock.now()) if when_words is not None else None
        found = log.history(inv.rt, _model_name(inv, model), alias)
        return holder_reply(found, alias, when) if when else history_reply(found, alias)
    except HistoryError as exc:
        return render.error(str(exc))


def parse(words: list[str]) -> tuple[str, str | None, list[str] | None]:
    """`<model> [@alias] [at <time…>]` as model, alias (without `@`) and the time's words."""
    if not words:
        raise UsageError("`history` needs a model.", "history")
    model, rest = words[0], words[1:]
    alias = None
    if rest and rest[0].lower() != "at":
        alias, rest = rest[0].removeprefix("@"), rest[1:]
        if not alias:
            raise UsageError("`@` needs an alias name after it.", "history")
    if rest and rest[0].lower() != "at":
        raise UsageError(f"Unexpected `{rest[0][:50]}`: only `at <time>` may follow.", "history")
    return model, alias, (rest[1:] if rest else None)


def _model_name(inv: Invocation, model: str) -> str:
    """MLflow's name for `model` (a case-insensitive store finds `CHURN`); a model MLflow no
    longer has keeps its history under the name typed, if the log knows it."""
    try:
        return inv.rt.registry.get_model(model).name
    except NotFoundError:
        if log.has_history(inv.rt, model):
            return model
        raise
