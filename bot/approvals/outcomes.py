"""What the approval workflow hands back: outcomes, request statuses and kinds, its error.

The enums are `StrEnum`s whose values are the strings stored in the database and written in
audit details, so rows and events read the same as before they existed. A request's status and
kind are defined beside their table (bot.storage.tables, below every other layer) and are
exported from here with the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
    "snapshot_of",
]


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
