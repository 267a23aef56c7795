"""What the approval workflow hands back: outcomes, request statuses and kinds, its error.

The enums are `StrEnum`s whose values are the strings stored in the database and written in
audit details, so rows and events read the same as before they existed. A request's status and
kind are defined beside their table (bot.storage.tables, below every other layer) and are
exported from here with the rest.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ParamSpec

from bot.storage.tables import ApprovalVote, PromotionRequest, RequestKind, RequestStatus

__all__ = [
    "ANNOUNCED",
    "COMMITTED",
    "FINAL",
    "TOLD_TO_CLICKER",
    "ApprovalError",
    "Outcome",
    "OutcomeKind",
    "RequestKind",
    "RequestStatus",
    "logged",
    "snapshot_of",
]

log = logging.getLogger("bot.approvals")
P = ParamSpec("P")


class ApprovalError(Exception):
    """A request that cannot be made; the message is shown to the user."""


FINAL = frozenset(
    {
        RequestStatus.APPLIED,
        RequestStatus.REJECTED,
        RequestStatus.EXPIRED,
        RequestStatus.STALE,
        RequestStatus.REFUSED,
    }
)


class OutcomeKind(StrEnum):
    """What happened; tells the handler what to render."""

    REQUESTED = "requested"  # a request was opened
    APPLIED_NOW = "applied_now"  # an unprotected alias, set at once
    VOTED = "voted"  # an approval recorded, more needed
    APPLIED = "applied"  # the alias moved
    STALE = "stale"  # the alias moved elsewhere since the request; nothing moved
    REFUSED = "refused"  # failed the checks at the moment of the move; nothing moved
    FAILED = "failed"  # MLflow failed; the request is pending again
    REJECTED = "rejected"
    EXPIRED = "expired"
    BUSY = "busy"  # another click or process decided first
    DENIED = "denied"  # the click was refused (recorded as approval_denied)
    UNPOSTED = "unposted"  # opened, but its card could not be posted (handlers)


# Outcomes the requester hears about in the card's thread.
ANNOUNCED = frozenset(
    {
        OutcomeKind.APPLIED,
        OutcomeKind.REJECTED,
        OutcomeKind.STALE,
        OutcomeKind.EXPIRED,
        OutcomeKind.REFUSED,
    }
)
# Outcomes whose request and votes are what this call committed: the card can be drawn from
# them without reading the database again.
COMMITTED = frozenset(
    {
        OutcomeKind.VOTED,
        OutcomeKind.APPLIED,
        OutcomeKind.REJECTED,
        OutcomeKind.STALE,
        OutcomeKind.FAILED,
        OutcomeKind.EXPIRED,
        OutcomeKind.REFUSED,
    }
)
# Outcomes only the clicker is told about.
TOLD_TO_CLICKER = frozenset(
    {
        OutcomeKind.DENIED,
        OutcomeKind.FAILED,
        OutcomeKind.BUSY,
        OutcomeKind.STALE,
        OutcomeKind.REFUSED,
    }
)


@dataclass
class Outcome:
    """What happened, with the request and its votes as they are after it."""

    kind: OutcomeKind
    message: str
    request: PromotionRequest | None = None
    votes: list[ApprovalVote] = field(default_factory=list)
    audit_id: int | None = None


def snapshot_of(req: PromotionRequest) -> dict[str, Any]:
    """The candidate/holder metrics and gate results stored with the request."""
    data: dict[str, Any] = json.loads(req.snapshot or "{}")
    return data


def describe(outcome: Outcome, actor: str) -> str:
    """One log line for a decision: what happened to which request, by whom, and why."""
    req = outcome.request
    what = f"{req.model_name} v{req.version} → @{req.alias} (request {req.id})" if req else "-"
    message = " ".join(outcome.message.split())[:300]
    return f"decision {outcome.kind}: {what} by {actor}: {message}"


def logged(actor: str) -> Callable[[Callable[P, Outcome]], Callable[P, Outcome]]:
    """Log each outcome of the decorated decision at INFO (what an operator acts on);
    `actor` names the parameter holding the user who acted."""

    def wrap(fn: Callable[P, Outcome]) -> Callable[P, Outcome]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def logging_outcome(*args: P.args, **kwargs: P.kwargs) -> Outcome:
            outcome = fn(*args, **kwargs)
            who = signature.bind(*args, **kwargs).arguments.get(actor, "-")
            log.info("%s", describe(outcome, str(who)))
            return outcome

        return logging_outcome

    return wrap
