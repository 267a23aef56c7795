"""Posting an anchor of the audit chain to the audit channel (best effort)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot import audit_anchors, metrics
from bot.audit_anchors import Anchor
from bot.runtime import Runtime
from bot.storage.tables import PromotionRequest
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)


def anchor_text(anchor: Anchor, why: str) -> str:
    return (
        f":link: Audit chain anchor ({why}): `{anchor}`\n"
        f"Check the log against it: `mlops-bot audit verify --anchor {anchor}`"
    )


def post_anchor(client: WebClient, rt: Runtime, anchor: Anchor, why: str) -> bool:
    """Post `anchor` to MLOPS_BOT_AUDIT_CHANNEL; False when no channel is set or Slack refused."""
    channel = rt.settings.mlops_bot_audit_channel
    if not channel:
        return False
    try:
        client.chat_postMessage(channel=channel, text=anchor_text(anchor, why))
    except SLACK_FAILURES as exc:
        log.warning("posting audit anchor %s to %s failed: %s", anchor, channel, slack_error(exc))
        return False
    log.info("audit anchor %s posted to %s (%s)", anchor, channel, why)
    metrics.anchor_posted()
    return True


def post_applied_anchor(client: WebClient, rt: Runtime, req: PromotionRequest, ev_id: int) -> None:
    """After a protected promotion: its `promotion_applied` event, as tagged on the version."""
    if not rt.settings.mlops_bot_audit_channel:
        return  # no database read for nothing
    anchor = audit_anchors.event_anchor(rt.engine, ev_id)
    if anchor is not None:
        post_anchor(client, rt, anchor, f"`{req.model_name}` v{req.version} → `@{req.alias}`")


def post_head(client: WebClient, rt: Runtime) -> Anchor | None:
    """The daily anchor: the chain's newest event (None for an empty log or no channel)."""
    anchor = audit_anchors.head(rt.engine)
    if anchor is None or not post_anchor(client, rt, anchor, "daily"):
        return None
    return anchor
