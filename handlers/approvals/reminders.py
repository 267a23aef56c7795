"""Reminders in Slack: a direct message to each person a claimed reminder names."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.models.blocks import Block

from bot.approvals.reminders import Reminder, ReminderKind
from handlers.approvals.blocks import fmt_time
from handlers.blocks import Reply, context, esc, section
from handlers.history.blocks import who
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)


def reminder_reply(reminder: Reminder) -> Reply:
    """What a reminder says: the request, its approvals, when it expires, where to act."""
    req, votes = reminder.request, reminder.votes
    what = (
        f"{who(req.requester)} asks to move `@{esc(req.alias)}` of `{esc(req.model_name)}` "
        f"to v{esc(req.version)}"
    )
    count = f"{len(votes)}/{req.required_approvals} approvals"
    where = f"on its card in <#{req.channel}>" if req.channel else "in `/mlops pending`"
    if reminder.kind == ReminderKind.EXPIRED:
        text = (
            f":hourglass: Request `{req.id}` expired at {fmt_time(req.expires_at)} with {count}: "
            f"{what}; nothing moved. A new `/mlops promote` can ask again."
        )
    else:
        lead = (
            ":alarm_clock: *Less than an hour left* to decide"
            if reminder.kind == ReminderKind.LAST_HOUR
            else ":hourglass_flowing_sand: *Half its time has passed* for"
        )
        text = (
            f"{lead} request `{req.id}`: {what} ({count}). It expires at "
            f"{fmt_time(req.expires_at)}; approve or reject it {where} or in my App Home."
        )
    blocks: list[Block] = [section(text)]
    if req.reason:
        blocks.append(context(f"Reason: {esc(req.reason[:500])}"))
    return Reply(text, blocks)


def send_reminder(client: WebClient, reminder: Reminder) -> int:
    """DM each recipient (chat.postMessage to the user ID: Slack posts it in the app's DM with
    them); returns how many Slack accepted. Failures are logged: the reminder stays claimed."""
    payload = reminder_reply(reminder).payload()
    sent = 0
    for user in reminder.recipients:
        try:
            client.chat_postMessage(channel=user, **payload)
            sent += 1
        except SLACK_FAILURES as exc:
            log.warning(
                "%s reminder of %s to %s failed: %s",
                reminder.kind,
                reminder.request.id,
                user,
                slack_error(exc),
            )
    return sent
