"""Posting a registry notice in the model's monitor channel (or the default report channel)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.registry.events import Notice
from bot.runtime import Runtime
from handlers.blocks import esc
from handlers.notices.blocks import notice_blocks
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)


def notice_channel(rt: Runtime, model: str) -> str | None:
    monitor = rt.policy.for_model(model).monitor
    return (monitor.channel if monitor else None) or rt.settings.mlops_bot_report_channel


def post_notice(client: WebClient, rt: Runtime, notice: Notice) -> None:
    """Post a registry event: out-of-band warning (Revert), tampering, new version (Promote)."""
    channel = notice_channel(rt, notice.model)
    if channel is None:
        log.warning("no channel for %s notice on %s: %s", notice.kind, notice.model, notice.text)
        return
    blocks = notice_blocks(notice)
    try:
        client.chat_postMessage(
            channel=channel, text=esc(notice.text), blocks=[b.to_dict() for b in blocks]
        )
    except SLACK_FAILURES as exc:
        log.warning("posting a %s notice failed: %s", notice.kind, slack_error(exc))
