"""Promotion requests, votes and the compare-and-set that moves an alias exactly once (SPEC §5).

Plain Python: handlers, jobs and the shell call it; rendering and Slack calls live elsewhere.
Every decision is committed (with its audit event) before anything is reported to Slack.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import audit
from bot.clock import as_utc, utcnow
from bot.policy.file import ModelPolicy
from bot.policy.gates import evaluate
from bot.registry.gateway import RegistryError, VersionInfo
from bot.runtime import Runtime
from bot.storage import db
from bot.storage.tables import ApprovalVote, PromotionRequest

log = logging.getLogger(__name__)

PENDING, APPLYING, APPLIED = "pending", "applying", "applied"
REJECTED, EXPIRED, STALE = "rejected", "expired", "stale"
FINAL = {APPLIED, REJECTED, EXPIRED, STALE}
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


class ApprovalError(Exception):
    """A request that cannot be made; the message is shown to the user."""


class Directory(Protocol):
    """Resolves Slack user groups to their members."""

    def group_members(self, group_id: str) -> set[str]: ...


@dataclass
class Outcome:
    """What happened; `kind` tells the handler what to render."""

    kind: str  # requested|applied_now|denied|voted|applied|stale|failed|rejected|busy
    message: str
    request: PromotionRequest | None = None
    votes: list[ApprovalVote] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def denied(self) -> bool:
        return self.kind == "denied"


def snapshot_of(req: PromotionRequest) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(req.snapshot or "{}")
    return data


class ApprovalService:
    """The approval workflow over the runtime's database, MLflow gateway and policy."""

    def __init__(self, rt: Runtime, directory: Directory) -> None:
        self.rt = rt
        self.directory = directory

    # -- requesting --------------------------------------------------------------------------

    def request_promotion(
        self,
        model: str,
        version: str,
        alias: str,
        requester: str,
        reason: str = "",
        channel: str | None = None,
        kind: str = "promote",
    ) -> Outcome:
        """Validate and open a request; unprotected aliases are set at once."""
        check_alias(alias)
        registry = self.rt.registry
        candidate = registry.get_version(model, version)
        model_info = registry.get_model(model)
        holder_version = model_info.aliases.get(alias)
        if holder_version == candidate.version:
            raise ApprovalError(f"`{model}` v{candidate.version} already holds `@{alias}`.")
        policy = self.rt.policy.for_model(model)
        if not policy.is_protected(alias):
            return self._set_unprotected(candidate, alias, holder_version, requester, reason)
        if not policy.approvers:
            raise ApprovalError(
                f"No approvers are configured for `{model}`: set MLOPS_BOT_APPROVERS or "
                f"`approvers` under [models.{model}] in the policy file."
            )
        holder = registry.get_version(model, holder_version) if holder_version else None
        gates = [] if kind == "rollback" else _gate_results(policy, candidate, holder)
        now = utcnow()
        req = PromotionRequest(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            model_name=model,
            version=candidate.version,
            alias=alias,
            run_id=candidate.run_id,
            previous_version=holder_version,
            requester=requester,
            reason=reason[:2000],
            required_approvals=policy.required_approvals,
            gates_passed=all(g["passed"] for g in gates),
            snapshot=json.dumps(_snapshot(self.rt, candidate, holder, gates)),
            status=PENDING,
            channel=channel,
            created_at=now,
            expires_at=now + timedelta(hours=policy.request_ttl_hours),
        )
        with db.session(self.rt.engine, write=True) as s:
            dup = s.exec(
                select(PromotionRequest.id).where(
                    PromotionRequest.model_name == model,
                    PromotionRequest.alias == alias,
                    PromotionRequest.version == req.version,
                    PromotionRequest.status == PENDING,
                )
            ).first()
            if dup:
                raise ApprovalError(
                    f"Request `{dup}` for `{model}` v{req.version} → `@{alias}` is already pending."
                )
            s.add(req)
            ev = audit.append(
                s,
                "rollback_requested" if kind == "rollback" else "promotion_requested",
                requester,
                model_name=model,
                model_version=req.version,
                alias=alias,
                run_id=req.run_id,
                request_id=req.id,
                details={
                    "reason": req.reason,
                    "previous_version": holder_version,
                    "required_approvals": req.required_approvals,
                    "gates_passed": req.gates_passed,
                    "channel": channel,
                },
            )
            s.commit()
            s.refresh(req)
        return Outcome("requested", "Request opened.", req, [], ev.id)

    def _set_unprotected(
        self, candidate: VersionInfo, alias: str, holder: str | None, requester: str, reason: str
    ) -> Outcome:
        # The record is written in the transaction that is open while MLflow moves the alias:
        # a database that is down or locked stops the move, and a failed move is rolled back,
        # so there is never a move without its record.
        with db.session(self.rt.engine, write=True) as s:
            ev = audit.append(
                s,
                "promotion_applied",
                requester,
                model_name=candidate.name,
                model_version=candidate.version,
                alias=alias,
                run_id=candidate.run_id,
                details={"protected": False, "previous_version": holder, "reason": reason[:2000]},
            )
            self.rt.registry.set_alias(candidate.name, alias, candidate.version)
            s.commit()
        return Outcome(
            "applied_now",
            f"`@{alias}` is not protected: set to `{candidate.name}` v{candidate.version} "
            f"(was {'v' + holder if holder else 'unset'}).",
            audit_id=ev.id,
        )

    def rollback_target(self, model: str, alias: str) -> str:
        """The version that held the alias by approval before the current holder."""
        check_alias(alias)
        current = self.rt.registry.get_model(model).aliases.get(alias)
        applied = audit.recent(
            self.rt.engine, model=model, alias=alias, limit=200, actions={"promotion_applied"}
        )
        for ev in applied:
            if ev.model_version and ev.model_version != current:
                return ev.model_version
        # else: the holder that the first recorded promotion replaced, with approval
        if applied:
            before = json.loads(applied[-1].details).get("previous_version")
            if before and before != current:
                return str(before)
        raise ApprovalError(
            f"No earlier approved holder of `@{alias}` on `{model}` in the audit log "
            f"(now: {'v' + current if current else 'unset'})."
        )

    # -- reading -----------------------------------------------------------------------------

    def get(self, request_id: str) -> tuple[PromotionRequest | None, list[ApprovalVote]]:
        with db.session(self.rt.engine) as s:
            return s.get(PromotionRequest, request_id), _votes(s, request_id)

    def pending(self) -> list[tuple[PromotionRequest, list[ApprovalVote]]]:
        with db.session(self.rt.engine) as s:
            reqs = s.exec(
                select(PromotionRequest)
                .where(col(PromotionRequest.status).in_([PENDING, APPLYING]))
                .order_by(col(PromotionRequest.created_at))
                .limit(50)
            ).all()
            return [(r, _votes(s, r.id)) for r in reqs]

    def decided(self, limit: int = 10) -> list[PromotionRequest]:
        with db.session(self.rt.engine) as s:
            return list(
                s.exec(
                    select(PromotionRequest)
                    .where(col(PromotionRequest.status).in_(sorted(FINAL)))
                    .order_by(col(PromotionRequest.decided_at).desc())
                    .limit(limit)
                ).all()
            )

    def is_approver(self, user: str, policy: ModelPolicy) -> bool:
        if user in policy.approvers:
            return True
        for principal in policy.approvers:
            if principal.startswith("S") and user in self.directory.group_members(principal):
                return True
        return False

    def refusal(
        self, req: PromotionRequest | None, votes: list[ApprovalVote], user: str, action: str
    ) -> str | None:
        """Why `user` may not take `action` (approve|reject|override) now, or None."""
        if req is None:
            return "This request does not exist."
        if req.status != PENDING:
            return f"This request is already {req.status}."
        if utcnow() > as_utc(req.expires_at):
            return "This request has expired."
        if user == req.requester:
            return "You can't approve or reject your own request."
        policy = self.rt.policy.for_model(req.model_name)
        if not self.is_approver(user, policy):
            return f"You are not an approver of `{req.model_name}`."
        voters = {v.voter for v in votes}
        enough = len(votes) >= req.required_approvals
        if action == "approve":
            if not req.gates_passed and req.overridden_by is None:
                return "Gates failed: an approver must press Override and give a reason."
            if user in voters and not enough:
                return f"You already approved this request ({len(votes)}/{req.required_approvals})."
        if action == "override":
            if req.gates_passed or req.overridden_by is not None:
                return "There is nothing to override: the gates pass or were overridden."
            if user in voters:
                return "You already approved this request."
        return None

    # -- deciding ----------------------------------------------------------------------------

    def approve(self, request_id: str, user: str) -> Outcome:
        """One approval click: refuse, record the vote, or apply when enough votes."""
        req, votes = self.get(request_id)
        why = self.refusal(req, votes, user, "approve")
        if why is not None:
            return self.deny(req, request_id, user, "approve", why)
        assert req is not None
        if len(votes) < req.required_approvals:
            try:
                self._vote(req, user, override=False)
            except IntegrityError:
                return self.deny(
                    req, request_id, user, "approve", "You already approved this request."
                )
        return self._after_vote(request_id)

    def override(self, request_id: str, user: str, reason: str) -> Outcome:
        """Override failed gates (reason required); counts as the approver's approval."""
        reason = reason.strip()
        req, refused = self._check_reasoned(request_id, user, "override", reason)
        if refused is not None:
            return refused
        assert req is not None
        with db.session(self.rt.engine, write=True) as s:
            claimed = db.rowcount(
                s.execute(
                    update(PromotionRequest)
                    .where(
                        col(PromotionRequest.id) == request_id,
                        col(PromotionRequest.status) == PENDING,
                        col(PromotionRequest.overridden_by).is_(None),
                    )
                    .values(overridden_by=user)
                )
            )
            if claimed != 1:
                s.rollback()
                return self.deny(
                    req, request_id, user, "override", "Someone else decided on this request first."
                )
            audit.append(s, "override_used", user, **_ids(req), details={"reason": reason[:2000]})
            if not self._add_vote(s, req, user, override=True):
                s.rollback()
                return self.deny(
                    req, request_id, user, "override", "Someone else decided on this request first."
                )
            s.commit()
        return self._after_vote(request_id)

    def reject(self, request_id: str, user: str, reason: str) -> Outcome:
        reason = reason.strip()
        req, refused = self._check_reasoned(request_id, user, "reject", reason)
        if refused is not None:
            return refused
        assert req is not None
        with db.session(self.rt.engine, write=True) as s:
            if not _cas(
                s, request_id, PENDING, REJECTED, decided_by=user, status_detail=reason[:2000]
            ):
                s.rollback()
                return self.deny(
                    req, request_id, user, "reject", "Someone else decided on this request first."
                )
            ev = audit.append(
                s, "promotion_rejected", user, **_ids(req), details={"reason": reason[:2000]}
            )
            s.commit()
        req, votes = self.get(request_id)
        return Outcome("rejected", f"Rejected by <@{user}>: {reason}", req, votes, ev.id)

    def _check_reasoned(
        self, request_id: str, user: str, action: str, reason: str
    ) -> tuple[PromotionRequest | None, Outcome | None]:
        """Eligibility for reject/override, which also need a reason; a refusal is recorded."""
        req, votes = self.get(request_id)
        why = self.refusal(req, votes, user, action)
        if why is None and not reason:
            why = f"{'A rejection' if action == 'reject' else 'An override'} needs a reason."
        if why is not None:
            return req, self.deny(req, request_id, user, action, why)
        return req, None

    def deny(
        self, req: PromotionRequest | None, request_id: str, user: str, action: str, why: str
    ) -> Outcome:
        """Record a refused click (approval_denied) and return the reason."""
        ids = _ids(req) if req is not None else {"request_id": request_id[:32]}
        ev = audit.record(
            self.rt.engine,
            "approval_denied",
            user,
            **ids,
            details={"action": action, "reason": why},
        )
        return Outcome("denied", why, req, audit_id=ev.id)

    def _vote(self, req: PromotionRequest, user: str, override: bool) -> bool:
        with db.session(self.rt.engine, write=True) as s:
            recorded = self._add_vote(s, req, user, override)
            s.commit()
        return recorded

    def _add_vote(self, s: Session, req: PromotionRequest, user: str, override: bool) -> bool:
        """Add a vote unless the request left `pending` or has its N votes already.

        The row lock (PostgreSQL; SQLite holds the database write lock) makes the count and
        the insert one step, so concurrent clicks never record more than N approvals.
        """
        locked = s.exec(
            select(PromotionRequest).where(PromotionRequest.id == req.id).with_for_update()
        ).one()
        count = s.exec(
            select(func.count()).select_from(ApprovalVote).where(ApprovalVote.request_id == req.id)
        ).one()
        if locked.status != PENDING or count >= locked.required_approvals:
            return False
        s.add(ApprovalVote(request_id=req.id, voter=user, at=utcnow(), override=override))
        s.flush()  # the primary key refuses a second vote here
        audit.append(
            s,
            "approval_granted",
            user,
            **_ids(req),
            details={
                "approvals": count + 1,
                "required": req.required_approvals,
                "override": override,
            },
        )
        return True

    def _after_vote(self, request_id: str) -> Outcome:
        req, votes = self.get(request_id)
        assert req is not None
        if len(votes) < req.required_approvals:
            return Outcome(
                "voted", f"Approval recorded ({len(votes)}/{req.required_approvals}).", req, votes
            )
        return self.apply(request_id)

    def apply(self, request_id: str) -> Outcome:
        """Move the alias once: claim by compare-and-set, re-check the holder, set, record."""
        with db.session(self.rt.engine, write=True) as s:
            claimed = _cas(s, request_id, PENDING, APPLYING)
            s.commit()
        req, votes = self.get(request_id)
        assert req is not None
        if not claimed:
            return Outcome("busy", f"This request is already {req.status}.", req, votes)
        return self._complete(req, votes)

    def _complete(self, req: PromotionRequest, votes: list[ApprovalVote]) -> Outcome:
        """Finish a claimed (`applying`) request; also used to recover after a crash."""
        registry = self.rt.registry
        try:
            holder = registry.alias_holder(req.model_name, req.alias)
            if holder == req.version:
                pass  # a crash after the alias move: only the record is missing
            elif holder != req.previous_version:
                return self._finish_stale(req, holder)
            else:
                registry.set_alias(req.model_name, req.alias, req.version)
        except RegistryError as exc:
            return self._finish_failed(req, str(exc))
        approved_by = sorted(v.voter for v in votes)
        with db.session(self.rt.engine, write=True) as s:
            if not _cas(
                s,
                req.id,
                APPLYING,
                APPLIED,
                decided_by=approved_by[-1] if approved_by else None,
                status_detail="",
            ):
                return self._finished_elsewhere(req.id)
            ev = audit.append(
                s,
                "promotion_applied",
                "system",
                **_ids(req),
                details={
                    "approved_by": approved_by,
                    "previous_version": req.previous_version,
                    "requester": req.requester,
                    "overridden_by": req.overridden_by,
                },
            )
            s.commit()
        note = ""
        try:
            registry.set_version_tags(
                req.model_name,
                req.version,
                {
                    "mlops_bot.request_id": req.id,
                    "mlops_bot.approved_by": ",".join(approved_by),
                    "mlops_bot.audit_id": str(ev.id),
                },
            )
        except RegistryError as exc:
            log.warning("tagging %s v%s failed: %s", req.model_name, req.version, exc)
            note = " (tagging the version failed; the alias did move)"
        fresh, votes = self.get(req.id)
        prev = f"v{req.previous_version}" if req.previous_version else "unset"
        return Outcome(
            "applied",
            f"`@{req.alias}` of `{req.model_name}` moved to v{req.version} (was {prev}){note}.",
            fresh,
            votes,
            ev.id,
        )

    def _finish_stale(self, req: PromotionRequest, holder: str | None) -> Outcome:
        found = f"v{holder}" if holder else "unset"
        expected = f"v{req.previous_version}" if req.previous_version else "unset"
        detail = (
            f"`@{req.alias}` moved to {found} since the request (was {expected}); nothing moved."
        )
        with db.session(self.rt.engine, write=True) as s:
            if not _cas(s, req.id, APPLYING, STALE, status_detail=detail):
                return self._finished_elsewhere(req.id)
            ev = audit.append(
                s,
                "request_stale",
                "system",
                **_ids(req),
                details={"expected": req.previous_version, "found": holder},
            )
            s.commit()
        fresh, votes = self.get(req.id)
        return Outcome("stale", detail, fresh, votes, ev.id)

    def _finish_failed(self, req: PromotionRequest, error: str) -> Outcome:
        detail = f"MLflow failed: {error}. Nothing moved; press Approve to try again."
        with db.session(self.rt.engine, write=True) as s:
            if not _cas(s, req.id, APPLYING, PENDING, status_detail=detail):
                return self._finished_elsewhere(req.id)
            ev = audit.append(
                s, "promotion_failed", "system", **_ids(req), details={"error": error[:500]}
            )
            s.commit()
        fresh, votes = self.get(req.id)
        return Outcome("failed", detail, fresh, votes, ev.id)

    def _finished_elsewhere(self, request_id: str) -> Outcome:
        """Another process (a live one, or recovery) finished this request first."""
        fresh, votes = self.get(request_id)
        status = fresh.status if fresh else "gone"
        return Outcome("busy", f"This request is already {status}.", fresh, votes)

    # -- housekeeping ------------------------------------------------------------------------

    def expire_due(self, now: datetime | None = None) -> list[PromotionRequest]:
        """Expire pending requests past their TTL; returns the ones this call expired."""
        now = now or utcnow()
        with db.session(self.rt.engine) as s:
            due = s.exec(
                select(PromotionRequest).where(
                    PromotionRequest.status == PENDING, col(PromotionRequest.expires_at) < now
                )
            ).all()
        expired = []
        for req in due:
            with db.session(self.rt.engine, write=True) as s:
                if not _cas(s, req.id, PENDING, EXPIRED, status_detail="expired"):
                    continue
                audit.append(
                    s,
                    "request_expired",
                    "system",
                    **_ids(req),
                    details={"expires_at": audit.fmt_at(req.expires_at)},
                )
                s.commit()
            fresh, _ = self.get(req.id)
            if fresh is not None:
                expired.append(fresh)
        return expired

    def recover(self, older_than: timedelta = timedelta(seconds=60)) -> list[Outcome]:
        """Complete requests left `applying` by a process that died mid-way."""
        cutoff = utcnow() - older_than
        with db.session(self.rt.engine) as s:
            stuck = s.exec(
                select(PromotionRequest).where(PromotionRequest.status == APPLYING)
            ).all()
        outcomes = []
        for req in stuck:
            votes = self.get(req.id)[1]
            last_vote = max((as_utc(v.at) for v in votes), default=as_utc(req.created_at))
            if last_vote < cutoff:
                outcome = self._complete(req, votes)
                if outcome.kind != "busy":
                    outcomes.append(outcome)
        return outcomes

    def attach_message(self, request_id: str, channel: str, ts: str) -> None:
        with db.session(self.rt.engine, write=True) as s:
            s.execute(
                update(PromotionRequest)
                .where(col(PromotionRequest.id) == request_id)
                .values(channel=channel, message_ts=ts)
            )
            s.commit()


def check_alias(alias: str) -> None:
    if not _ALIAS.match(alias) or _RESERVED_ALIAS.match(alias):
        raise ApprovalError(
            f"`{alias[:60]}` is not a valid alias: letters, digits, `_` and `-`, "
            "not `latest` or `v<number>`."
        )


def _ids(req: PromotionRequest) -> dict[str, Any]:
    return {
        "model_name": req.model_name,
        "model_version": req.version,
        "alias": req.alias,
        "run_id": req.run_id,
        "request_id": req.id,
    }


def _votes(s: Session, request_id: str) -> list[ApprovalVote]:
    return list(
        s.exec(
            select(ApprovalVote)
            .where(ApprovalVote.request_id == request_id)
            .order_by(col(ApprovalVote.at))
        ).all()
    )


def _cas(s: Session, request_id: str, old: str, new: str, **values: Any) -> bool:
    """Compare-and-set the status; True when this transaction made the change."""
    if new in FINAL:
        values.setdefault("decided_at", utcnow())
    result = s.execute(
        update(PromotionRequest)
        .where(col(PromotionRequest.id) == request_id, col(PromotionRequest.status) == old)
        .values(status=new, **values)
    )
    return db.rowcount(result) == 1


def _gate_results(
    policy: ModelPolicy, candidate: VersionInfo, holder: VersionInfo | None
) -> list[dict[str, Any]]:
    results = []
    for gate in policy.gates:
        r = evaluate(gate, candidate.metrics, holder.metrics if holder else None)
        results.append({"text": gate.text, "passed": r.passed, "reason": r.reason})
    return results


def _snapshot(
    rt: Runtime, candidate: VersionInfo, holder: VersionInfo | None, gates: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "candidate": {"metrics": candidate.metrics, "run_id": candidate.run_id},
        "holder": {"version": holder.version, "metrics": holder.metrics} if holder else None,
        "gates": gates,
        "version_url": rt.registry.version_url(candidate.name, candidate.version),
        "run_url": rt.registry.run_url(candidate.run_id) if candidate.run_id else None,
    }
