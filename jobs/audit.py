"""The daily anchor of the audit chain: its head posted to MLOPS_BOT_AUDIT_CHANNEL."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.audit_anchors import Anchor
from bot.runtime import Runtime
from handlers.audit.anchors import post_head

ANCHOR_SECONDS = 86400


def anchor(rt: Runtime, client: WebClient) -> Anchor | None:
    """Post the chain's head (at start, then daily); None when nothing was posted."""
    return post_head(client, rt)
