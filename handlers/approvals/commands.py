"""`/mlops promote | rollback | pending | audit`."""

from __future__ import annotations

from bot import audit
from bot.approvals.outcomes import OutcomeKind, RequestKind
from bot.policy.permissions import Action
from handlers import blocks as render
from handlers.approvals import blocks as cards
from handlers.approvals import justify
from handlers.approvals.messages import open_request
from handlers.blocks import Reply
from handlers.router.invocation import Invocation, UsageError
from handlers.router.registry import subcommand

MAX_AUDIT_LIMIT = 100


PROMOTE = "/mlops promote <model> <version> [to] <alias> <justification…>"
ROLLBACK = "/mlops rollback <model> <alias>"
ROLLBACK_HELP = "ask to move an alias back to its previous approved holder"


@subcommand(PROMOTE, "ask approvers to move an alias to a version", action=Action.PROMOTE)
def promote(inv: Invocation) -> Reply:
    """`promote <model> <version> [to] <alias> <justification…>`: open a request and post its
    card; without a justification, a modal asks for it (a protected alias needs one)."""
    model, version, alias, reason = _promotion(inv.words)
    if not reason.strip():
        asked = justify.ask(inv, model, version, alias)
        if asked is not None:
            return asked
    return _open(inv, model, version, alias, reason, RequestKind.PROMOTE)


def _promotion(words: list[str]) -> tuple[str, str, str, str]:
    """`<model> <version> [to] <alias> [justification…]` as model, version (without `v`), alias
    (without `@`) and reason."""
    if len(words) >= 3 and words[2].lower() == "to":
        words = words[:2] + words[3:]
    if len(words) < 3:
        raise UsageError("`promote` needs a model, a version and an alias.", "promote")
    model, version, alias = words[0], words[1].removeprefix("v"), words[2].removeprefix("@")
    if not version.isdigit():
        raise UsageError(f"`{words[1][:50]}` is not a version number.", "promote")
    return model, version, alias, " ".join(words[3:])


@subcommand(ROLLBACK, ROLLBACK_HELP, action=Action.ROLLBACK)
def rollback(inv: Invocation) -> Reply:
    """`rollback <model> <alias>`: a request back to the previous approved holder."""
    words = inv.words
    if len(words) != 2:
        raise UsageError("`rollback` needs a model and an alias.", "rollback")
    model, alias = words[0], words[1].removeprefix("@")
    target = inv.svc.rollback_target(model, alias)
    return _open(inv, model, target, alias, f"Rollback to v{target}", RequestKind.ROLLBACK)


def _open(
    inv: Invocation, model: str, version: str, alias: str, reason: str, kind: RequestKind
) -> Reply:
    outcome = open_request(
        inv.client, inv.svc, model, version, alias, inv.user, reason, inv.channel, kind
    )
    if outcome.kind == OutcomeKind.UNPOSTED:
        return render.error(outcome.message)
    mark = ":white_check_mark: " if outcome.kind == OutcomeKind.APPLIED_NOW else ""
    shown = render.esc(outcome.message)
    return Reply(shown, [render.section(mark + shown)])


@subcommand("/mlops pending", "open promotion requests and where you can act on them")
def pending(inv: Invocation) -> Reply:
    """`pending`: open requests and whether the caller can act on each."""
    if inv.parsed.args:
        raise UsageError("`pending` takes no arguments.", "pending")
    items = []
    for req, votes in inv.svc.pending():
        why = inv.svc.refusal(req, votes, inv.user, Action.APPROVE)
        if why is None or inv.svc.refusal(req, votes, inv.user, Action.OVERRIDE) is None:
            can = ":point_right: you can approve"
        elif req.requester == inv.user:
            can = "your request"
        else:
            can = why.rstrip(".").lower()
        items.append((req, votes, can))
    return cards.pending_reply(items)


@subcommand("/mlops audit [<model>] [<limit>]", "recent audit events")
def audit_log(inv: Invocation) -> Reply:
    """`audit [<model>] [<limit>]`: recent audit events."""
    words = inv.words
    model, limit = None, 20
    for w in words:
        if w.isdigit():
            limit = max(1, min(int(w), MAX_AUDIT_LIMIT))
        elif model is None:
            model = w
        else:
            raise UsageError("`audit` takes at most a model and a limit.", "audit")
    if model is not None:
        inv.rt.registry.get_model(model)  # unknown model → "did you mean"
    events = audit.recent(inv.rt.engine, model=model, limit=limit)
    return cards.audit_reply(events, model)
