"""What a protected promotion is checked against: its gates when it is requested (the policy's
metric gates and where the version's files come from), and the policy and its audit trail at
the moment of the move.

Plain functions over what the service read: the version from MLflow, the request, its votes
and its chained audit events. A request is moved only when its record in the audit log says it
was requested and approved by people the policy names: a row or a vote written straight into
the database, without its chained events, is refused.
"""

from __future__ import annotations

import json
import posixpath
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from bot.approvals.modelcard import signature_gate
from bot.approvals.outcomes import RequestKind
from bot.policy.file import ModelPolicy
from bot.policy.gates import GateKind, evaluate
from bot.policy.permissions import Action, Permissions
from bot.registry.gateway import VersionInfo
from bot.registry.lineage import Lineage
from bot.storage.tables import ApprovalVote, AuditEvent, PromotionRequest

SOURCE_GATE = "source inside the run's artifacts"


class Trail(StrEnum):
    """The audit actions a request's move is checked against."""

    PROMOTION_REQUESTED = "promotion_requested"
    ROLLBACK_REQUESTED = "rollback_requested"
    APPROVAL_GRANTED = "approval_granted"
    OVERRIDE_USED = "override_used"


def gate_results(
    policy: ModelPolicy,
    candidate: VersionInfo,
    holder: VersionInfo | None,
    lineages: tuple[Lineage, Lineage | None] | None = None,
) -> list[dict[str, Any]]:
    """The policy's gates, then the source gate: what is approved is what is deployed.

    `lineages` (candidate's, holder's) are what a `signature_compatible` gate compares; without
    them such a gate fails as unknown."""
    results = []
    for gate in policy.gates:
        if gate.kind == GateKind.SIGNATURE_COMPATIBLE:
            cand, held = lineages or (Lineage(signature_error="not read"), None)
            version = holder.version if holder else None
            results.append(signature_gate(gate, cand, held, version))
            continue
        r = evaluate(gate, candidate.metrics, holder.metrics if holder else None)
        results.append({"text": gate.text, "passed": r.passed, "reason": r.reason})
    outside = source_outside_run(candidate)
    results.append(
        {
            "text": SOURCE_GATE,
            "passed": outside is None,
            "reason": outside or f"in the artifacts of run `{candidate.run_id}`",
        }
    )
    return results


def source_outside_run(v: VersionInfo) -> str | None:
    """Why the version's `source` is not among its run's artifacts, or None when it is.

    Inside: `runs:/<run_id>/…`, a path under the run's `artifact_uri`, or an MLflow 3 logged
    model (`models:/m-…`) that this run logged. A version made with a run's ID but a source
    anywhere else would pass the gates on that run's metrics while deploying other files.
    """
    if not v.run_id:
        return "the version has no source run, so its metrics say nothing about its files"
    source = v.source
    if not source:
        return "the version has no source"
    if ".." in source.replace("\\", "/").split("/"):
        return f"`{source}` climbs out of a folder (`..`)"
    if source.startswith("runs:/"):
        run_id = source.removeprefix("runs:/").split("/", 1)[0]
        if run_id == v.run_id:
            return None
        return f"`{source}` is in run `{run_id}`, not in the version's run `{v.run_id}`"
    if source.startswith("models:/"):
        if v.source_run_id == v.run_id:
            return None
        logged = f"run `{v.source_run_id}`" if v.source_run_id else "no run MLflow knows of"
        return f"`{source}` was logged by {logged}, not by the version's run `{v.run_id}`"
    if v.run_artifact_uri and _under(source, v.run_artifact_uri):
        return None
    where = f"`{v.run_artifact_uri}`" if v.run_artifact_uri else "unknown (the run is gone)"
    return f"`{source}` is outside the artifacts of run `{v.run_id}` ({where})"


def _under(source: str, root: str) -> bool:
    """`source` is `root` or a path below it (same scheme and host; `file://` = a path)."""
    s, r = urlsplit(source), urlsplit(root)
    same_place = (s.scheme or "file", s.netloc) == (r.scheme or "file", r.netloc)
    if not same_place:
        return False
    path, base = posixpath.normpath(s.path or "/"), posixpath.normpath(r.path or "/")
    return path == base or path.startswith(base.rstrip("/") + "/")


def refusal_at_move(
    req: PromotionRequest,
    votes: list[ApprovalVote],
    trail: list[AuditEvent],
    policy: ModelPolicy,
    permissions: Permissions,
) -> str | None:
    """Why a claimed request must not move its alias now, or None.

    `trail` is the request's audit events whose hashes chain (audit.for_request). Checked
    against the policy in force now: a chained request event that says what the row says,
    enough distinct eligible approvers (not the requester) each with a chained
    `approval_granted`, and gates that passed or an override by one of those approvers.
    """
    opened = Trail.ROLLBACK_REQUESTED if req.kind == RequestKind.ROLLBACK else None
    opened = opened or Trail.PROMOTION_REQUESTED
    requested = [e for e in trail if e.action == opened]
    if len(requested) != 1:
        return f"the audit log has no chained `{opened}` event for this request"
    ev = requested[0]
    details: dict[str, Any] = json.loads(ev.details)
    recorded = (ev.model_name, ev.model_version, ev.alias, ev.run_id, ev.actor)
    row = (req.model_name, req.version, req.alias, req.run_id, req.requester)
    if recorded != row or details.get("previous_version") != req.previous_version:
        return f"the request no longer says what its `{opened}` event recorded"
    required = max(policy.required_approvals, int(details.get("required_approvals") or 1))
    granted = {e.actor for e in trail if e.action == Trail.APPROVAL_GRANTED}
    eligible = {
        v.voter
        for v in votes
        if v.voter in granted
        and permissions.can(
            v.voter, Action.APPROVE, req.model_name, req.channel, requester=req.requester
        )
        is None
    }
    if len(eligible) < required:
        others = sorted({v.voter for v in votes} - eligible)
        not_counted = f"; not counted: {', '.join(others)}" if others else ""
        return (
            f"{len(eligible)} of {required} approvals are by eligible approvers with a "
            f"chained `approval_granted` event{not_counted}"
        )
    gates_passed = opened == Trail.ROLLBACK_REQUESTED or details.get("gates_passed") is True
    overriders = {e.actor for e in trail if e.action == Trail.OVERRIDE_USED}
    if not gates_passed and not overriders & eligible:
        return "its gates failed and no eligible approver overrode them"
    return None
