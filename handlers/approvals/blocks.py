"""Block Kit for the approval workflow: the request card, modals, pending list, App Home."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.approvals.outcomes import RequestKind, RequestStatus, snapshot_of
from bot.clock import as_utc
from bot.policy.permissions import Action
from bot.storage.tables import ApprovalVote, AuditEvent, PromotionRequest
from handlers import action_ids as ids
from handlers.approvals.modelcard import card_sections
from handlers.blocks import (
    Reply,
    clip,
    context,
    esc,
    fields_section,
    fmt_metric,
    header,
    mention,
    section,
)

STATUS_LINE: dict[str, str] = {
    RequestStatus.APPLIED: ":white_check_mark: *Promoted*",
    RequestStatus.REJECTED: ":no_entry: *Rejected*",
    RequestStatus.EXPIRED: ":hourglass: *Expired*",
    RequestStatus.STALE: ":warning: *Stale*",
    RequestStatus.REFUSED: ":no_entry_sign: *Refused at the move*",
    RequestStatus.APPLYING: ":gear: *Applying…*",
}


def fmt_time(at: datetime | None) -> str:
    if at is None:
        return "—"
    return as_utc(at).strftime("%Y-%m-%d %H:%M UTC")


# Metrics whose name contains one of these are better when lower; the others when higher.
LOWER_IS_BETTER = ("loss", "error", "latency", "mae", "rmse", "mse", "time")


def lower_is_better(metric: str) -> bool:
    return any(part in metric.lower() for part in LOWER_IS_BETTER)


def _delta(name: str, new: float | None, old: float | None) -> str:
    """The change from the holder's value, and whether it is better or worse for this metric."""
    if new is None or old is None:
        return ""
    d = new - old
    if d == 0:
        return " (= same)"
    arrow = ":arrow_up_small:" if d > 0 else ":arrow_down_small:"
    better = (d < 0) == lower_is_better(name)
    return f" ({arrow} {d:+.4g}, {'better' if better else 'worse'})"


def metrics_table(req: PromotionRequest) -> str:
    snap = snapshot_of(req)
    cand: dict[str, float] = snap.get("candidate", {}).get("metrics", {})
    holder = snap.get("holder")
    old: dict[str, float] = holder["metrics"] if holder else {}
    names = sorted(set(cand) | set(old))[:15]
    if not names:
        return "_No metrics logged on the source runs._"
    head = f"*Metric* — candidate v{req.version}"
    head += f" vs. holder v{holder['version']}" if holder else " (no current holder)"
    lines = [head]
    for n in names:
        lines.append(
            f"`{esc(n)}` {fmt_metric(cand.get(n))} vs {fmt_metric(old.get(n))}"
            f"{_delta(n, cand.get(n), old.get(n))}"
        )
    return "\n".join(lines)


def gates_text(req: PromotionRequest) -> str:
    gates = snapshot_of(req).get("gates", [])
    if req.kind == RequestKind.ROLLBACK:
        return "*Gates*: not applied to a rollback"
    if not gates:
        return "*Gates*: none configured"
    lines = ["*Gates*"]
    for g in gates:
        mark = ":white_check_mark:" if g["passed"] else ":x:"
        lines.append(f"{mark} `{esc(g['text'])}` — {esc(g['reason'])}")
    if req.overridden_by:
        lines.append(f":unlock: Overridden by <@{req.overridden_by}>")
    return "\n".join(lines)


def details_button(req: PromotionRequest) -> ButtonElement:
    return ButtonElement(text="Details", action_id=ids.REQUEST_DETAILS, value=req.id)


def buttons(req: PromotionRequest, details: bool = False) -> ActionsBlock:
    """Approve / Reject (and Override when gates fail), and Details on the card. Values carry
    only the request id."""
    if not req.gates_passed and req.overridden_by is None:
        vote = ButtonElement(text="Override…", action_id=ids.OVERRIDE, value=req.id, style="danger")
    else:
        vote = ButtonElement(
            text="Approve",
            action_id=ids.APPROVE,
            value=req.id,
            style="primary",
            confirm=ConfirmObject(
                title="Approve promotion?",
                text=f"Move @{esc(req.alias)} of {esc(req.model_name)} to v{esc(req.version)}.",
                confirm="Approve",
                deny="Cancel",
            ),
        )
    reject = ButtonElement(text="Reject…", action_id=ids.REJECT, value=req.id)
    elements = [vote, reject, details_button(req)] if details else [vote, reject]
    return ActionsBlock(block_id=f"{ids.REQUEST_ACTIONS}:{req.id}", elements=elements)


def approval_card(req: PromotionRequest, votes: list[ApprovalVote], note: str = "") -> Reply:
    """The request card: candidate vs holder, gates, who asked and why, k/N, expiry, buttons."""
    snap = snapshot_of(req)
    verb = "Rollback" if req.kind == RequestKind.ROLLBACK else "Promotion"
    title = f"{verb} request: {req.model_name} v{req.version} → @{req.alias}"
    run_url = snap.get("run_url")
    run_id = esc(req.run_id or "none")
    run = f"<{run_url}|{run_id}>" if run_url and req.run_id else f"`{run_id}`"
    prev = f"v{req.previous_version}" if req.previous_version else "unset"
    voters = ", ".join(f"<@{v.voter}>" for v in votes) or "none yet"
    source = snap.get("candidate", {}).get("source")  # what the alias will serve
    files = f"`{esc(clip(source, 500))}`" if source else "unknown"
    blocks: list[Block] = [
        header(title),
        fields_section(
            [
                f"*Requested by*\n{mention(req.requester)}",
                f"*Now holds @{esc(req.alias)}*\n{prev}",
                f"*Source run*\n{run}",
                f"*Approvals*\n{len(votes)}/{req.required_approvals} ({voters})",
                f"*Version source*\n{files}",
            ]
        ),
    ]
    if req.reason:
        quoted = esc(clip(req.reason, 1500)).replace("\n", "\n>")
        blocks.append(section(f"*Justification*\n>{quoted}"))
    blocks.append(section(metrics_table(req)))
    blocks += card_sections(req)
    blocks.append(section(gates_text(req)))
    if req.status == RequestStatus.PENDING:
        if req.status_detail:
            blocks.append(section(f":warning: {esc(req.status_detail)}"))
        blocks.append(buttons(req, details=True))
        blocks.append(context(f"Expires {fmt_time(req.expires_at)} · request `{req.id}`"))
    else:
        outcome = STATUS_LINE.get(req.status, req.status)
        who = (
            f" by <@{req.decided_by}>"
            if req.decided_by and req.status != RequestStatus.APPLIED
            else ""
        )
        detail = f" — {esc(req.status_detail)}" if req.status_detail else ""
        blocks.append(DividerBlock())
        blocks.append(section(f"{outcome}{who} {fmt_time(req.decided_at)}{detail}"))
        blocks.append(
            ActionsBlock(block_id=f"{ids.REQUEST_ACTIONS}:{req.id}", elements=[details_button(req)])
        )
        blocks.append(context(f"request `{req.id}`"))
    if note:
        blocks.append(context(note))
    text = (
        f"{esc(title)} — requested by {mention(req.requester)}, "
        f"{len(votes)}/{req.required_approvals} approvals, status {req.status}"
    )
    return Reply(text, blocks)


def reason_modal(kind: Action, req: PromotionRequest) -> dict[str, Any]:
    """The Reject / Override modal; `private_metadata` holds only the request id."""
    reject = kind == Action.REJECT
    title = "Reject promotion" if reject else "Override gates"
    label = "Why reject?" if reject else "Why override the failing gates?"
    return View(
        type="modal",
        callback_id=ids.REJECT_MODAL if reject else ids.OVERRIDE_MODAL,
        private_metadata=req.id,
        title=title,
        submit="Reject" if reject else "Override",
        close="Cancel",
        blocks=[
            section(
                f"*{esc(req.model_name)}* v{req.version} → `@{esc(req.alias)}`, requested by "
                f"{mention(req.requester)}"
            ),
            InputBlock(
                block_id=ids.REASON_BLOCK,
                label=label,
                element=PlainTextInputElement(
                    action_id=ids.REASON_INPUT, multiline=True, min_length=3, max_length=2000
                ),
            ),
        ],
    ).to_dict()


def pending_reply(
    items: list[tuple[PromotionRequest, list[ApprovalVote], str]],
) -> Reply:
    """`/mlops pending`: each open request and what the viewer can do about it."""
    if not items:
        return Reply("No open promotion requests.", [section("No open promotion requests.")])
    lines = []
    for req, votes, can in items:
        where = f" in <#{req.channel}>" if req.channel else ""
        lines.append(
            f"• `{req.id}` *{esc(req.model_name)}* v{req.version} → `@{esc(req.alias)}` by "
            f"{mention(req.requester)}{where} — {len(votes)}/{req.required_approvals}, "
            f"expires {fmt_time(req.expires_at)} — {can}"
        )
    blocks: list[Block] = [header(f"Open requests ({len(items)})")]
    blocks += [section("\n".join(lines[i : i + 10])) for i in range(0, len(lines), 10)]
    return Reply("\n".join(lines), blocks[:50])


def audit_reply(events: list[AuditEvent], model: str | None) -> Reply:
    """`/mlops audit`: recent events, newest first."""
    scope = f" for `{esc(model)}`" if model else ""
    if not events:
        return Reply(f"No audit events{scope}.", [section(f"No audit events{scope}.")])
    lines = []
    for ev in events:
        what = " ".join(
            p
            for p in [
                f"*{esc(ev.model_name)}*" if ev.model_name else "",
                f"v{ev.model_version}" if ev.model_version else "",
                f"`@{esc(ev.alias)}`" if ev.alias else "",
            ]
            if p
        )
        actor = "system" if ev.actor == "system" else f"<@{ev.actor}>"
        lines.append(f"`#{ev.id}` {fmt_time(ev.at)} {actor} *{ev.action}* {what}")
    blocks: list[Block] = [header(f"Audit log{' — ' + model if model else ''}"[:150])]
    blocks += [section("\n".join(lines[i : i + 20])) for i in range(0, len(lines), 20)]
    return Reply("\n".join(lines), blocks[:50])


def home_view(
    actionable: list[tuple[PromotionRequest, list[ApprovalVote]]],
    own: list[tuple[PromotionRequest, list[ApprovalVote]]],
    decisions: list[PromotionRequest],
    notice: str | None = None,
) -> dict[str, Any]:
    """App Home: requests the viewer can act on (with buttons), their own, last decisions."""
    blocks: list[Block] = [header("mlops-bot")]
    if notice:
        blocks.append(section(f":information_source: {esc(notice)}"))
    blocks.append(section("*Waiting for you*" if actionable else "*Waiting for you*\nNothing."))
    for req, votes in actionable[:10]:
        blocks.append(
            section(
                f"*{esc(req.model_name)}* v{req.version} → `@{esc(req.alias)}` "
                f"by {mention(req.requester)} — {len(votes)}/{req.required_approvals}\n"
                f"{gates_text(req)}"
            )
        )
        blocks.append(buttons(req))
    blocks.append(DividerBlock())
    blocks.append(section("*Your requests*" + ("" if own else "\nNone open.")))
    for req, votes in own[:10]:
        blocks.append(
            context(
                f"`{req.id}` {esc(req.model_name)} v{req.version} → @{esc(req.alias)}: "
                f"{req.status}, {len(votes)}/{req.required_approvals}"
            )
        )
    blocks.append(DividerBlock())
    blocks.append(section("*Last decisions*" + ("" if decisions else "\nNone yet.")))
    for req in decisions[:10]:
        blocks.append(
            context(
                f"{STATUS_LINE.get(req.status, req.status)} {esc(req.model_name)} v{req.version} → "
                f"@{esc(req.alias)} {fmt_time(req.decided_at)}"
            )
        )
    return View(type="home", blocks=blocks[:100]).to_dict()
