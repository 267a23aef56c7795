"""The SQL of promotion requests and their votes; the rules live in ApprovalService.

Every status change is a compare-and-set committed with its audit event in one transaction,
so a decision is never recorded without its event nor applied twice. Requests handed back are
detached copies that stay readable; after a transition this store updates the copy it was
given, so callers carry it forward instead of reading it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from bot import audit
from bot.approvals.outcomes import FINAL, RequestStatus
from bot.clock import Clock
from bot.storage import db
from bot.storage.tables import ApprovalVote, AuditEvent, PromotionRequest


class DuplicateRequestError(Exception):
    """A request for the same model, version and alias is pending already."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


@dataclass
class Voted:
    """The request as the vote's transaction left it (locked, so exact at commit)."""

    request: PromotionRequest
    votes: list[ApprovalVote]
    claimed: bool  # this call moved the request pending → applying (enough votes)
    trail: list[AuditEvent] = field(default_factory=list)  # its chained events, when claimed


class ApprovalStore:
    """Promotion requests and votes in the bot's database."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------

    def get(self, request_id: str) -> tuple[PromotionRequest | None, list[ApprovalVote]]:
        """A request and its votes, read in one session."""
        with db.session(self.engine) as s:
            return s.get(PromotionRequest, request_id), _votes(s, request_id)

    def pending(self, limit: int = 50) -> list[tuple[PromotionRequest, list[ApprovalVote]]]:
        """Requests still open (pending or being applied), oldest first, with their votes."""
        with db.session(self.engine) as s:
            reqs = s.exec(
                select(PromotionRequest)
                .where(
                    col(PromotionRequest.status).in_(
                        [RequestStatus.PENDING, RequestStatus.APPLYING]
                    )
                )
                .order_by(col(PromotionRequest.created_at))
                .limit(limit)
            ).all()
            return [(r, _votes(s, r.id)) for r in reqs]

    def decided(self, limit: int = 10) -> list[PromotionRequest]:
        """The latest decided requests, newest first."""
        with db.session(self.engine) as s:
            return list(
                s.exec(
                    select(PromotionRequest)
                    .where(col(PromotionRequest.status).in_(sorted(FINAL)))
                    .order_by(col(PromotionRequest.decided_at).desc())
                    .limit(limit)
                ).all()
            )

    def applying(self) -> list[tuple[PromotionRequest, list[ApprovalVote], list[AuditEvent]]]:
        """Requests claimed for applying (finished by recovery when left behind), with their
        votes and chained audit events."""
        with db.session(self.engine) as s:
            stuck = s.exec(
                select(PromotionRequest).where(PromotionRequest.status == RequestStatus.APPLYING)
            ).all()
            return [(r, _votes(s, r.id), audit.for_request(s, r.id)) for r in stuck]

    # -- writing -----------------------------------------------------------------------------

    def insert(self, req: PromotionRequest, action: str, details: dict[str, Any]) -> AuditEvent:
        """Store a new request with its audit event; DuplicateRequestError if one is pending."""
        with db.session(self.engine, write=True) as s:
            dup = s.exec(
                select(PromotionRequest.id).where(
                    PromotionRequest.model_name == req.model_name,
                    PromotionRequest.alias == req.alias,
                    PromotionRequest.version == req.version,
                    PromotionRequest.status == RequestStatus.PENDING,
                )
            ).first()
            if dup:
                raise DuplicateRequestError(dup)
            s.add(req)
            ev = audit.append(s, action, req.requester, **ids(req), details=details)
            s.commit()
        return ev

    def record_while(
        self, action: str, actor: str, during: Callable[[], None], **fields: Any
    ) -> AuditEvent:
        """Append an event in a transaction that stays open while `during` runs: when it
        raises, nothing is recorded; when the database fails, `during` does not run."""
        with db.session(self.engine, write=True) as s:
            ev = audit.append(s, action, actor, **fields)
            during()
            s.commit()
        return ev

    def record(self, action: str, actor: str, **fields: Any) -> AuditEvent:
        """An audit event in its own transaction (a refused click)."""
        return audit.record(self.engine, action, actor, **fields)

    def vote(
        self,
        req: PromotionRequest,
        user: str,
        *,
        add: bool = True,
        override_reason: str | None = None,
    ) -> Voted | None:
        """One transaction: (override,) add the vote, and claim the request when it has enough.

        The row lock (PostgreSQL; SQLite holds the database write lock) makes the count, the
        insert and the claim one step, so concurrent clicks never record more than N
        approvals and exactly one of them claims. A second vote by the same person raises
        IntegrityError (the primary key). With `override_reason`, the override and its vote
        are recorded together or not at all (None: someone else decided first).
        """
        with db.session(self.engine, write=True) as s:
            if override_reason is not None and not _override(s, req, user, override_reason):
                s.rollback()
                return None
            locked = s.exec(
                select(PromotionRequest).where(PromotionRequest.id == req.id).with_for_update()
            ).one()
            if add:
                recorded = self._add_vote(s, locked, user, override_reason is not None)
                if override_reason is not None and not recorded:
                    s.rollback()
                    return None
            votes = _votes(s, req.id)
            claimed = len(votes) >= locked.required_approvals and _cas(
                s, req.id, RequestStatus.PENDING, {"status": RequestStatus.APPLYING}
            )
            trail = audit.for_request(s, req.id) if claimed else []  # checked before the move
            s.commit()
        if claimed:  # the session is closed: the copy is detached, this changes only the copy
            locked.status = RequestStatus.APPLYING
        return Voted(locked, votes, claimed, trail)

    def _add_vote(self, s: Session, locked: PromotionRequest, user: str, override: bool) -> bool:
        """Add a vote unless the request left `pending` or has its N votes already."""
        count = s.exec(
            select(func.count())
            .select_from(ApprovalVote)
            .where(ApprovalVote.request_id == locked.id)
        ).one()
        if locked.status != RequestStatus.PENDING or count >= locked.required_approvals:
            return False
        at = self.clock.now()
        s.add(ApprovalVote(request_id=locked.id, voter=user, at=at, override=override))
        s.flush()  # the primary key refuses a second vote here
        audit.append(
            s,
            "approval_granted",
            user,
            **ids(locked),
            details={
                "approvals": count + 1,
                "required": locked.required_approvals,
                "override": override,
            },
        )
        return True

    def transition(
        self,
        req: PromotionRequest,
        old: RequestStatus,
        new: RequestStatus,
        action: str,
        actor: str,
        details: dict[str, Any],
        **values: Any,
    ) -> AuditEvent | None:
        """Compare-and-set `old` → `new` with its audit event, in one transaction.

        None when the request was not `old` any more (someone else got there first).
        """
        values = {"status": new, **values}
        if new in FINAL:
            values.setdefault("decided_at", self.clock.now())
        with db.session(self.engine, write=True) as s:
            if not _cas(s, req.id, old, values):
                s.rollback()
                return None
            ev = audit.append(s, action, actor, **ids(req), details=details)
            s.commit()
        for key, value in values.items():  # carried forward: the row is now exactly this
            setattr(req, key, value)
        return ev

    def expire(self, now: datetime, detail: str) -> list[PromotionRequest]:
        """Move pending requests whose `expires_at` is before `now` to expired, each with its
        `request_expired` event; returns those this call expired."""
        with db.session(self.engine) as s:
            due = s.exec(
                select(PromotionRequest).where(
                    PromotionRequest.status == RequestStatus.PENDING,
                    col(PromotionRequest.expires_at) < now,
                )
            ).all()
        expired = []
        for req in due:
            event_details = {"expires_at": audit.fmt_at(req.expires_at)}
            if self.transition(
                req,
                RequestStatus.PENDING,
                RequestStatus.EXPIRED,
                "request_expired",
                "system",
                event_details,
                status_detail=detail,
            ):
                expired.append(req)
        return expired

    def attach_message(self, request_id: str, channel: str, ts: str) -> None:
        """Where the request's card was posted."""
        with db.session(self.engine, write=True) as s:
            s.execute(
                update(PromotionRequest)
                .where(col(PromotionRequest.id) == request_id)
                .values(channel=channel, message_ts=ts)
            )
            s.commit()


def _cas(s: Session, request_id: str, old: RequestStatus, values: dict[str, Any]) -> bool:
    """Compare-and-set: write `values` (the new status among them) if the status is `old`;
    True when this transaction made the change."""
    result = s.execute(
        update(PromotionRequest)
        .where(col(PromotionRequest.id) == request_id, col(PromotionRequest.status) == old)
        .values(**values)
    )
    return db.rowcount(result) == 1


def ids(req: PromotionRequest) -> dict[str, Any]:
    """The fields that tie an audit event to a request."""
    return {
        "model_name": req.model_name,
        "model_version": req.version,
        "alias": req.alias,
        "run_id": req.run_id,
        "request_id": req.id,
    }


def _override(s: Session, req: PromotionRequest, user: str, reason: str) -> bool:
    """Mark a pending request overridden by `user`, with its `override_used` event."""
    claimed = db.rowcount(
        s.execute(
            update(PromotionRequest)
            .where(
                col(PromotionRequest.id) == req.id,
                col(PromotionRequest.status) == RequestStatus.PENDING,
                col(PromotionRequest.overridden_by).is_(None),
            )
            .values(overridden_by=user)
        )
    )
    if claimed != 1:
        return False
    audit.append(s, "override_used", user, **ids(req), details={"reason": reason[:2000]})
    return True


def _votes(s: Session, request_id: str) -> list[ApprovalVote]:
    return list(
        s.exec(
            select(ApprovalVote)
            .where(ApprovalVote.request_id == request_id)
            .order_by(col(ApprovalVote.at), col(ApprovalVote.voter))
        ).all()
    )
