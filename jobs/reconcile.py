"""Periodic reconciliation: protected aliases vs. the audit log (catches what webhooks miss)."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.registry.events import reconcile
from bot.runtime import Runtime
from handlers.notices.posting import post_notice


def run(rt: Runtime, client: WebClient) -> int:
    notices = reconcile(rt)
    for notice in notices:
        post_notice(client, rt, notice)
    return len(notices)
