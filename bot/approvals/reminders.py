"""Nobody forgets a request: which reminders are due, and claiming each exactly once.

A pending request reminds the approvers who have not voted when half its lifetime has passed
and again one hour before it expires (only when its lifetime is over two hours, else the two
would come together or right after the card); when it expires, its requester and the model's
owners are told. Each reminder is claimed by inserting (request id, kind), like a scheduled
report's fire: the primary key lets exactly one replica send it. A reminder is claimed before
it is sent, so a Slack failure loses it rather than sending it twice. Times come from the
runtime's clock.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.approvals.outcomes import RequestStatus
from bot.clock import as_utc
from bot.policy.permissions import Permissions
from bot.runtime import Runtime
from bot.storage import db
from bot.storage.tables import ApprovalVote, PromotionRequest, ReminderKind, RequestReminder

__all__ = ["LAST_HOUR", "Reminder", "ReminderKind", "claim", "due", "due_kind"]

LAST_HOUR = timedelta(hours=1)
# Expired (by the expiry job) longer ago than this, say before the bot ran with reminders:
# nobody is told.
TELL_EXPIRED_WITHIN = timedelta(days=1)
_WHO = f"{socket.gethostname()}:{os.getpid()}"
# Whom a DM can reach: a Slack user ID (a requester may be a pipeline, `pipeline:<name>`).
_SLACK_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")


@dataclass(frozen=True)
class Reminder:
    """A reminder this replica claimed: what to say about which request, to whom."""

    kind: ReminderKind
    request: PromotionRequest
    votes: list[ApprovalVote]
    recipients: tuple[str, ...]


def due_kind(req: PromotionRequest, now: datetime) -> ReminderKind | None:
    """The approvers' reminder a pending request is due for at `now` (the later one wins)."""
    created, expires = as_utc(req.created_at), as_utc(req.expires_at)
    if now >= expires:
        return None  # expiring it is the expiry job's; then the requester is told
    lifetime = expires - created
    if lifetime > 2 * LAST_HOUR and now >= expires - LAST_HOUR:
        return ReminderKind.LAST_HOUR
    if now >= created + lifetime / 2:
        return ReminderKind.HALFWAY
    return None


def claim(rt: Runtime, request_id: str, kind: ReminderKind) -> bool:
    """True for exactly one caller per (request, kind), across all replicas."""
    try:
        with db.session(rt.engine, write=True) as s:
            s.add(
                RequestReminder(
                    request_id=request_id, kind=kind, claimed_by=_WHO, claimed_at=rt.clock.now()
                )
            )
            s.commit()
    except IntegrityError:
        return False
    return True


def waiting_approvers(
    permissions: Permissions, req: PromotionRequest, votes: list[ApprovalVote]
) -> tuple[str, ...]:
    """The model's approvers (user groups resolved) who have not voted, requester excluded."""
    voted = {v.voter for v in votes} | {req.requester}
    users: list[str] = []
    for principal in permissions.policy.for_model(req.model_name).approvers:
        members = (
            sorted(permissions.directory.group_members(principal))
            if principal.startswith("S")
            else [principal]
        )
        users += [u for u in members if u not in voted and u not in users and _SLACK_USER.match(u)]
    return tuple(users)


def due(rt: Runtime, permissions: Permissions, now: datetime | None = None) -> list[Reminder]:
    """Claim every reminder due at `now` (the runtime's clock by default); returns those this
    replica claimed, each with whom to tell."""
    now = now or rt.clock.now()
    claimed = []
    for req, votes, sent in _candidates(rt, now):
        if req.status == RequestStatus.EXPIRED:
            if ReminderKind.EXPIRED in sent:
                continue
            owners = permissions.policy.for_model(req.model_name).owners
            told = tuple(u for u in dict.fromkeys([req.requester, *owners]) if _SLACK_USER.match(u))
            if claim(rt, req.id, ReminderKind.EXPIRED):
                claimed.append(Reminder(ReminderKind.EXPIRED, req, votes, told))
            continue
        kind = due_kind(req, now)
        if kind is None or kind in sent:
            continue
        recipients = waiting_approvers(permissions, req, votes)
        if not recipients:
            continue
        if kind == ReminderKind.LAST_HOUR and ReminderKind.HALFWAY not in sent:
            claim(rt, req.id, ReminderKind.HALFWAY)  # not sent by now: it never will be
        if claim(rt, req.id, kind):
            claimed.append(Reminder(kind, req, votes, recipients))
    return claimed


def _candidates(
    rt: Runtime, now: datetime
) -> list[tuple[PromotionRequest, list[ApprovalVote], set[str]]]:
    """Pending requests and those expired lately, with their votes and the reminders already
    claimed for them (so a tick writes nothing when nothing is due)."""
    status = col(PromotionRequest.status)
    with db.session(rt.engine) as s:
        reqs = s.exec(
            select(PromotionRequest)
            .where(
                (status == RequestStatus.PENDING)
                | (
                    (status == RequestStatus.EXPIRED)
                    & (col(PromotionRequest.decided_at) >= now - TELL_EXPIRED_WITHIN)
                )
            )
            .order_by(col(PromotionRequest.created_at))
        ).all()
        ids = [r.id for r in reqs]
        votes = s.exec(select(ApprovalVote).where(col(ApprovalVote.request_id).in_(ids))).all()
        sent = s.exec(
            select(RequestReminder.request_id, RequestReminder.kind).where(
                col(RequestReminder.request_id).in_(ids)
            )
        ).all()
    return [
        (
            r,
            [v for v in votes if v.request_id == r.id],
            {kind for rid, kind in sent if rid == r.id},
        )
        for r in reqs
    ]
