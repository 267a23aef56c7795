"""Approval housekeeping jobs: expire old requests, finish interrupted promotions."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk import WebClient

from bot.approvals.outcomes import Outcome, OutcomeKind, describe
from bot.approvals.service import ApprovalService
from handlers.approvals.deploy import run_deploy_hooks
from handlers.approvals.messages import announce, refresh_card, show_outcome

log = logging.getLogger(__name__)


def expire(svc: ApprovalService, client: WebClient, now: datetime | None = None) -> int:
    """Expire pending requests past their TTL and update their cards."""
    expired = svc.expire_due(now)
    for req in expired:
        refresh_card(client, svc, req.id)
        expired_outcome = Outcome(
            OutcomeKind.EXPIRED, "Your request expired without enough approvals.", req
        )
        announce(client, expired_outcome)
        log.info("%s", describe(expired_outcome, "system"))
    return len(expired)


def recover(svc: ApprovalService, client: WebClient) -> int:
    """Complete promotions a crashed process left half-way, and report them."""
    outcomes = svc.recover(timedelta(seconds=svc.rt.settings.mlops_bot_recover_after_seconds))
    for outcome in outcomes:
        if outcome.request is not None:
            log.warning("recovered request %s: %s", outcome.request.id, outcome.kind)
            show_outcome(client, svc, outcome)
            announce(client, outcome)
            run_deploy_hooks(client, svc.rt, outcome)
    return len(outcomes)
