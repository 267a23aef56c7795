"""Block Kit of a registry notice: its text, and the button that turns it into a request."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.registry.events import Notice, NoticeKind
from handlers import action_ids as ids
from handlers.blocks import esc, section


def notice_blocks(notice: Notice) -> list[Block]:
    """Out of band: Revert to the approved version; newly registered: Request promotion."""
    blocks: list[Block] = [section(esc(notice.text))]  # it quotes model names and tags
    if not (notice.alias and notice.version):
        return blocks
    # The value names model, alias and version; the click re-checks everything.
    value = f"{notice.model}|{notice.alias}|{notice.version}"[:2000]
    if notice.kind == NoticeKind.OUT_OF_BAND:
        button = ButtonElement(
            text=f"Revert to v{notice.version}", action_id=ids.REVERT, value=value, style="danger"
        )
    elif notice.kind == NoticeKind.REGISTERED:
        button = ButtonElement(
            text=f"Request promotion to @{notice.alias}"[:75],
            action_id=ids.REGISTERED_PROMOTE,
            value=value,
        )
    else:
        return blocks
    return [*blocks, ActionsBlock(elements=[button])]
