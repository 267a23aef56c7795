"""Reminders: approvers who have not voted, half-way and in the last hour; on expiry, the
requester and owners. Claimed in the database, so each is sent once across replicas."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.approvals import reminders
from bot.approvals.service import ApprovalService
from handlers.approvals.reminders import send_reminder

log = logging.getLogger(__name__)


def remind(svc: ApprovalService, client: WebClient) -> int:
    """Send every reminder due now (the runtime's clock); returns how many DMs went out."""
    sent = 0
    for reminder in reminders.due(svc.rt, svc.permissions):
        n = send_reminder(client, reminder)
        log.info("%s reminder of request %s: %d DM(s)", reminder.kind, reminder.request.id, n)
        sent += n
    return sent
