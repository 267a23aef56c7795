"""Slack message metadata on the bot's messages, so other apps and workflows can react to them.

Three event types, declared under `events` in manifest.yml: a request's card carries
`mlops_bot_promotion_requested`, the thread reply with a decision `mlops_bot_promotion_decided`,
a report's summary `mlops_bot_report_posted`. Payloads hold IDs and short strings only (never
free text such as reasons): values are strings, numbers or booleans, and unset ones are left out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.approvals.outcomes import Outcome
from bot.storage.tables import PromotionRequest


class EventType(StrEnum):
    PROMOTION_REQUESTED = "mlops_bot_promotion_requested"
    PROMOTION_DECIDED = "mlops_bot_promotion_decided"
    REPORT_POSTED = "mlops_bot_report_posted"


def metadata(event_type: EventType, payload: dict[str, Any]) -> dict[str, Any]:
    """The `metadata` argument of chat.postMessage / chat.update."""
    kept = {k: v for k, v in payload.items() if v is not None}
    return {"event_type": str(event_type), "event_payload": kept}


def _request(req: PromotionRequest) -> dict[str, Any]:
    return {
        "request_id": req.id,
        "model": req.model_name,
        "version": req.version,
        "alias": req.alias,
        "kind": str(req.kind),
        "requester": req.requester,
        "previous_version": req.previous_version,
        "status": str(req.status),
        "gates_passed": bool(req.gates_passed),
    }


def requested(req: PromotionRequest) -> dict[str, Any]:
    """On a request's card (posted, and each time it is redrawn: `status` follows it)."""
    return metadata(EventType.PROMOTION_REQUESTED, _request(req))


def decided(outcome: Outcome) -> dict[str, Any] | None:
    """On the thread reply that announces a decision; None without a request."""
    req = outcome.request
    if req is None:
        return None
    payload = {
        **_request(req),
        "outcome": str(outcome.kind),
        "decided_by": req.decided_by,
        "audit_id": outcome.audit_id,
    }
    return metadata(EventType.PROMOTION_DECIDED, payload)


def report_posted(
    record_id: str, kind: str, model: str | None, version: str | None, alias: str | None,
    alert: bool, schedule_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """On a report's summary message."""
    payload = {
        "report_id": record_id,
        "kind": kind,
        "model": model,
        "version": version,
        "alias": alias,
        "alert": alert,
        "schedule_id": schedule_id,
    }
    return metadata(EventType.REPORT_POSTED, payload)
