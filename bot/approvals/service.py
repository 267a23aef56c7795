"""Promotion requests, votes and the compare-and-set that moves an alias exactly once (SPEC §5).

The rules: who may decide (bot.policy.permissions), when a request is open, what a vote, an
override, a rejection, expiry and recovery do. The SQL lives in ApprovalStore; each step
carries the request and its votes forward instead of reading them again. Plain Python:
handlers, jobs and the shell call it; rendering and Slack calls live elsewhere. Every decision
is committed (with its audit event) before anything is reported to Slack.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot import audit, metrics
from bot.approvals.checks import gate_results, refusal_at_move
from bot.approvals.modelcard import card_snapshot
from bot.approvals.outcomes import (
    ApprovalError,
    Outcome,
    OutcomeKind,
    RequestKind,
    RequestStatus,
)
from bot.approvals.store import ApprovalStore, DuplicateRequestError, ids
from bot.clock import as_utc
from bot.policy.permissions import Action, Permissions
from bot.registry.events import bot_tags
from bot.registry.gateway import RegistryError, VersionInfo
from bot.runtime import Runtime
from bot.storage.tables import ApprovalVote, AuditEvent, PromotionRequest

log = logging.getLogger(__name__)

_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_FIRST = "Someone else decided on this request first."
Votes = list[ApprovalVote]


# Where a request goes when its move does not happen.
_UNAPPLIED = {
    OutcomeKind.STALE: RequestStatus.STALE,
    OutcomeKind.REFUSED: RequestStatus.REFUSED,
    OutcomeKind.FAILED: RequestStatus.PENDING,
}


class ApprovalService:
    """The approval workflow over the runtime's database, MLflow gateway, policy and clock."""

    def __init__(self, rt: Runtime, permissions: Permissions) -> None:
        self.rt = rt
        self.permissions = permissions
        self.store = ApprovalStore(rt.engine, rt.clock)

    # -- requesting --------------------------------------------------------------------------

    @metrics.count_outcomes(metrics.REQUESTS, ApprovalError)
    def request_promotion(
        self,
        model: str,
        version: str,
        alias: str,
        requester: str,
        reason: str = "",
        channel: str | None = None,
        kind: RequestKind = RequestKind.PROMOTE,
    ) -> Outcome:
        """Validate and open a request; unprotected aliases are set at once."""
        check_alias(alias)
        registry = self.rt.registry
        model_info = registry.get_model(model)  # read once: aliases, then the versions
        # MLflow's name, not the typed one (a case-insensitive store finds `CHURN`): the
        # policy, the request and the audit log all use it
        model = model_info.name
        action = Action.ROLLBACK if kind == RequestKind.ROLLBACK else Action.PROMOTE
        refusal = self.permissions.can(requester, action, model, channel)
        if refusal is not None:
            raise ApprovalError(refusal.reason)
        policy = self.rt.policy.for_model(model)
        imitated = policy.lookalike(alias)
        if imitated is not None:
            raise ApprovalError(
                f"`@{alias}` differs from the protected alias `@{imitated}` only by case or "
                f"by `_`/`-` around it; use `@{imitated}`."
            )
        candidate = registry.version_of(model_info, version)
        holder_version = model_info.holder(alias)
        if holder_version == candidate.version:
            raise ApprovalError(f"`{model}` v{candidate.version} already holds `@{alias}`.")
        if not policy.is_protected(alias):
            if refused := self.permissions.can(requester, Action.MOVE_UNPROTECTED, model, channel):
                raise ApprovalError(refused.reason)
            return self._set_unprotected(candidate, alias, holder_version, requester, reason)
        if not policy.approvers:
            raise ApprovalError(
                f"No approvers are configured for `{model}`: set MLOPS_BOT_APPROVERS or "
                f"`approvers` under [models.{model}] in the policy file."
            )
        if not reason.strip():
            raise ApprovalError(
                f"A request for `@{alias}` needs a justification: "
                f"`/mlops promote {model} {candidate.version} {alias} <why this version>`."
            )
        holder = registry.version_of(model_info, holder_version) if holder_version else None
        lineages = (registry.lineage(candidate), registry.lineage(holder) if holder else None)
        gates = (
            []
            if kind == RequestKind.ROLLBACK
            else gate_results(policy, candidate, holder, lineages)
        )
        now = self.rt.clock.now()
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
            snapshot=json.dumps(
                card_snapshot(
                    candidate,
                    holder,
                    gates,
                    lineages,
                    registry.version_url(candidate.name, candidate.version),
                    registry.run_url(candidate.run_id) if candidate.run_id else None,
                )
            ),
            status=RequestStatus.PENDING,
            channel=channel,
            created_at=now,
            expires_at=now + timedelta(hours=policy.request_ttl_hours),
        )
        details = {
            "reason": req.reason,
            "previous_version": holder_version,
            "required_approvals": req.required_approvals,
            "gates_passed": req.gates_passed,
            "channel": channel,
        }
        event = "rollback_requested" if kind == RequestKind.ROLLBACK else "promotion_requested"
        try:
            ev = self.store.insert(req, event, details)
        except DuplicateRequestError as dup:
            raise ApprovalError(
                f"Request `{dup.request_id}` for `{model}` v{req.version} → `@{alias}` "
                "is already pending."
            ) from None
        return Outcome(OutcomeKind.REQUESTED, "Request opened.", req, [], ev.id)

    def _set_unprotected(
        self, candidate: VersionInfo, alias: str, holder: str | None, requester: str, reason: str
    ) -> Outcome:
        # The record is written in the transaction that is open while MLflow moves the alias:
        # a database that is down or locked stops the move, and a failed move is rolled back,
        # so there is never a move without its record.
        ev = self.store.record_while(
            "promotion_applied",
            requester,
            lambda: self.rt.registry.set_alias(candidate.name, alias, candidate.version),
            model_name=candidate.name,
            model_version=candidate.version,
            alias=alias,
            run_id=candidate.run_id,
            details={"protected": False, "previous_version": holder, "reason": reason[:2000]},
        )
        metrics.ALIAS_MOVES.labels(candidate.name, alias).inc()
        return Outcome(
            OutcomeKind.APPLIED_NOW,
            f"`@{alias}` is not protected: set to `{candidate.name}` v{candidate.version} "
            f"(was {'v' + holder if holder else 'unset'}).",
            audit_id=ev.id,
        )

    def rollback_target(self, model: str, alias: str) -> str:
        """The version that held the alias by approval before the current holder."""
        check_alias(alias)
        model_info = self.rt.registry.get_model(model)
        model, current = model_info.name, model_info.holder(alias)
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

    def get(self, request_id: str) -> tuple[PromotionRequest | None, Votes]:
        return self.store.get(request_id)

    def pending(self) -> list[tuple[PromotionRequest, Votes]]:
        return self.store.pending()

    def decided(self, limit: int = 10) -> list[PromotionRequest]:
        return self.store.decided(limit)

    def attach_message(self, request_id: str, channel: str, ts: str) -> None:
        self.store.attach_message(request_id, channel, ts)

    def refusal(
        self, req: PromotionRequest | None, votes: Votes, user: str, action: Action
    ) -> str | None:
        """Why `user` may not take `action` (approve|reject|override) now, or None."""
        if req is None:
            return "This request does not exist."
        if req.status != RequestStatus.PENDING:
            return f"This request is already {req.status}."
        if self.rt.clock.now() > as_utc(req.expires_at):
            return "This request has expired."
        refused = self.permissions.can(
            user, action, req.model_name, req.channel, requester=req.requester
        )
        if refused is not None:
            return refused.reason
        voters = {v.voter for v in votes}
        enough = len(votes) >= req.required_approvals
        if action == Action.APPROVE:
            if not req.gates_passed and req.overridden_by is None:
                return "Gates failed: an approver must press Override and give a reason."
            if user in voters and not enough:
                return f"You already approved this request ({len(votes)}/{req.required_approvals})."
        if action == Action.OVERRIDE:
            if req.gates_passed or req.overridden_by is not None:
                return "There is nothing to override: the gates pass or were overridden."
            if user in voters:
                return "You already approved this request."
        return None

    # -- deciding ----------------------------------------------------------------------------

    @metrics.count_outcomes(metrics.DECISIONS, ApprovalError)
    def approve(self, request_id: str, user: str) -> Outcome:
        """One approval click: refuse, record the vote, or apply when enough votes."""
        req, votes = self.get(request_id)
        why = self.refusal(req, votes, user, Action.APPROVE)
        if why is not None:
            return self._deny(req, request_id, user, Action.APPROVE, why)
        assert req is not None
        try:
            voted = self.store.vote(req, user, add=len(votes) < req.required_approvals)
        except IntegrityError:
            return self._deny(
                req, request_id, user, Action.APPROVE, "You already approved this request."
            )
        assert voted is not None  # only an override vote can be undone
        return self._after_vote(voted.request, voted.votes, voted.claimed, voted.trail)

    @metrics.count_outcomes(metrics.DECISIONS, ApprovalError)
    def override(self, request_id: str, user: str, reason: str) -> Outcome:
        """Override failed gates (reason required); counts as the approver's approval."""
        return self._decide_reasoned(request_id, user, Action.OVERRIDE, reason, self._overridden)

    @metrics.count_outcomes(metrics.DECISIONS, ApprovalError)
    def reject(self, request_id: str, user: str, reason: str) -> Outcome:
        return self._decide_reasoned(request_id, user, Action.REJECT, reason, self._rejected)

    def _decide_reasoned(
        self,
        request_id: str,
        user: str,
        action: Action,
        reason: str,
        apply: Callable[[PromotionRequest, Votes, str, str], Outcome | None],
    ) -> Outcome:
        """Reject/override, which also need a reason: a refusal is recorded; else `apply` the
        decision, which returns None when someone else decided first (recorded as a refusal)."""
        reason = reason.strip()
        req, votes = self.get(request_id)
        why = self.refusal(req, votes, user, action)
        if why is None and not reason:
            why = f"{'A rejection' if action == Action.REJECT else 'An override'} needs a reason."
        if why is not None:
            return self._deny(req, request_id, user, action, why)
        assert req is not None
        outcome = apply(req, votes, user, reason)
        if outcome is None:
            return self._deny(req, request_id, user, action, _FIRST)
        return outcome

    def _overridden(
        self, req: PromotionRequest, votes: Votes, user: str, reason: str
    ) -> Outcome | None:
        voted = self.store.vote(req, user, override_reason=reason)
        if voted is None:
            return None
        return self._after_vote(voted.request, voted.votes, voted.claimed, voted.trail)

    def _rejected(
        self, req: PromotionRequest, votes: Votes, user: str, reason: str
    ) -> Outcome | None:
        ev = self.store.transition(
            req,
            RequestStatus.PENDING,
            RequestStatus.REJECTED,
            "promotion_rejected",
            user,
            {"reason": reason[:2000]},
            decided_by=user,
            status_detail=reason[:2000],
        )
        if ev is None:
            return None
        return Outcome(OutcomeKind.REJECTED, f"Rejected by <@{user}>: {reason}", req, votes, ev.id)

    @metrics.count_outcomes(metrics.DECISIONS, ApprovalError)
    def deny(
        self, req: PromotionRequest | None, request_id: str, user: str, action: Action, why: str
    ) -> Outcome:
        """A click refused before any decision (a reason button): recorded and counted."""
        return self._deny(req, request_id, user, action, why)

    def _deny(
        self, req: PromotionRequest | None, request_id: str, user: str, action: Action, why: str
    ) -> Outcome:
        """Record a refused click (approval_denied) and return the reason."""
        fields = ids(req) if req is not None else {"request_id": request_id[:32]}
        ev = self.store.record(
            "approval_denied", user, **fields, details={"action": str(action), "reason": why}
        )
        return Outcome(OutcomeKind.DENIED, why, req, audit_id=ev.id)

    def _after_vote(
        self, req: PromotionRequest, votes: Votes, claimed: bool, trail: list[AuditEvent]
    ) -> Outcome:
        if len(votes) < req.required_approvals:
            return Outcome(
                OutcomeKind.VOTED,
                f"Approval recorded ({len(votes)}/{req.required_approvals}).",
                req,
                votes,
            )
        if not claimed:
            return Outcome(OutcomeKind.BUSY, f"This request is already {req.status}.", req, votes)
        return self._complete(req, votes, trail)

    def _complete(self, req: PromotionRequest, votes: Votes, trail: list[AuditEvent]) -> Outcome:
        """Finish a claimed (`applying`) request; also used to recover after a crash.

        Nothing moves before the request is checked again against the policy and its chained
        audit events (`trail`): a request that fails is refused, never applied."""
        policy = self.rt.policy.for_model(req.model_name)
        why = refusal_at_move(req, votes, trail, policy, self.permissions)
        if why is not None:
            return self._finish_refused(req, votes, why)
        registry = self.rt.registry
        try:
            holder = registry.alias_holder(req.model_name, req.alias)
            if holder == req.version:
                pass  # a crash after the alias move: only the record is missing
            elif holder != req.previous_version:
                return self._finish_stale(req, votes, holder)
            else:
                registry.set_alias(req.model_name, req.alias, req.version)
                metrics.ALIAS_MOVES.labels(req.model_name, req.alias).inc()
        except RegistryError as exc:
            return self._finish_failed(req, votes, str(exc))
        approved_by = sorted(v.voter for v in votes)
        ev = self.store.transition(
            req,
            RequestStatus.APPLYING,
            RequestStatus.APPLIED,
            "promotion_applied",
            "system",
            {
                "approved_by": approved_by,
                "previous_version": req.previous_version,
                "requester": req.requester,
                "overridden_by": req.overridden_by,
            },
            decided_by=approved_by[-1] if approved_by else None,
            status_detail="",
        )
        if ev is None:
            return self._finished_elsewhere(req.id)
        note = ""
        try:
            registry.set_version_tags(
                req.model_name,
                req.version,
                bot_tags(req.id, approved_by, ev.id, ev.hash),
            )
        except RegistryError as exc:
            log.warning("tagging %s v%s failed: %s", req.model_name, req.version, exc)
            note = " (tagging the version failed; the alias did move)"
        prev = f"v{req.previous_version}" if req.previous_version else "unset"
        return Outcome(
            OutcomeKind.APPLIED,
            f"`@{req.alias}` of `{req.model_name}` moved to v{req.version} (was {prev}){note}.",
            req,
            votes,
            ev.id,
        )

    def _finish_stale(self, req: PromotionRequest, votes: Votes, holder: str | None) -> Outcome:
        found = f"v{holder}" if holder else "unset"
        expected = f"v{req.previous_version}" if req.previous_version else "unset"
        detail = (
            f"`@{req.alias}` moved to {found} since the request (was {expected}); nothing moved."
        )
        details = {"expected": req.previous_version, "found": holder}
        return self._finish(req, votes, OutcomeKind.STALE, "request_stale", details, detail)

    def _finish_refused(self, req: PromotionRequest, votes: Votes, why: str) -> Outcome:
        detail = f"Not applied: {why}. Nothing moved; open a new request."
        log.warning("request %s refused at the move: %s", req.id, why)
        details = {"reason": why, "voters": sorted(v.voter for v in votes)}
        return self._finish(req, votes, OutcomeKind.REFUSED, "request_refused", details, detail)

    def _finish_failed(self, req: PromotionRequest, votes: Votes, error: str) -> Outcome:
        detail = f"MLflow failed: {error}. Nothing moved; press Approve to try again."
        details = {"error": error[:500]}
        return self._finish(req, votes, OutcomeKind.FAILED, "promotion_failed", details, detail)

    def _finish(
        self,
        req: PromotionRequest,
        votes: Votes,
        kind: OutcomeKind,
        action: str,
        details: dict[str, Any],
        detail: str,
    ) -> Outcome:
        """Leave `applying` without moving the alias: stale and refused requests end, a failed
        MLflow call puts the request back to pending (approvable again)."""
        new = _UNAPPLIED[kind]
        ev = self.store.transition(
            req, RequestStatus.APPLYING, new, action, "system", details, status_detail=detail
        )
        if ev is None:
            return self._finished_elsewhere(req.id)
        return Outcome(kind, detail, req, votes, ev.id)

    def _finished_elsewhere(self, request_id: str) -> Outcome:
        """Another process (a live one, or recovery) finished this request first."""
        fresh, votes = self.get(request_id)
        status = fresh.status if fresh else "gone"
        return Outcome(OutcomeKind.BUSY, f"This request is already {status}.", fresh, votes)

    # -- housekeeping ------------------------------------------------------------------------

    def expire_due(self, now: datetime | None = None) -> list[PromotionRequest]:
        """Expire pending requests past their TTL; returns the ones this call expired."""
        return self.store.expire(now or self.rt.clock.now(), "expired")

    def recover(self, older_than: timedelta = timedelta(seconds=60)) -> list[Outcome]:
        """Complete requests left `applying` by a process that died mid-way."""
        cutoff = self.rt.clock.now() - older_than
        outcomes = []
        for req, votes, trail in self.store.applying():
            last_vote = max((as_utc(v.at) for v in votes), default=as_utc(req.created_at))
            if last_vote < cutoff:
                outcome = self._complete(req, votes, trail)
                if outcome.kind != OutcomeKind.BUSY:
                    outcomes.append(outcome)
        return outcomes


def check_alias(alias: str) -> None:
    if not _ALIAS.match(alias) or _RESERVED_ALIAS.match(alias):
        raise ApprovalError(
            f"`{alias[:60]}` is not a valid alias: letters, digits, `_` and `-`, "
            "not `latest` or `v<number>`."
        )
