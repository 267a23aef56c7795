"""Anchors of the audit chain: its head (id and hash) written where the database writer cannot
reach, so that rewriting or truncating the log after an anchor is detected.

The bot writes an anchor as the MLflow version tag `mlops_bot.audit_anchor` = "id:hash" at each
protected promotion, and posts the head to MLOPS_BOT_AUDIT_CHANNEL at each promotion and daily.
`mlops-bot audit verify` reads the tags back and takes more with `--anchor ID:HASH`.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, text

from bot import audit
from bot.clock import as_utc
from bot.registry.events import ANCHOR_TAG
from bot.registry.gateway import Registry

_ANCHOR = re.compile(r"^\s*(\d{1,18})\s*:\s*([0-9a-fA-F]{64})\s*$")


class AnchorError(ValueError):
    """An anchor that is not `ID:HASH`."""


class Anchor(NamedTuple):
    """The chain's event `id` had `hash`; `source` says where this was read."""

    id: int
    hash: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.id}:{self.hash}"

    def named(self) -> str:
        return f"{self.id}:{self.hash[:12]}… ({self.source})" if self.source else str(self)


def parse(value: str, source: str = "") -> Anchor:
    """`ID:HASH` (a positive event id, a 64-digit hex hash) or AnchorError saying what is wrong."""
    m = _ANCHOR.match(value)
    if m is None or int(m.group(1)) < 1:
        raise AnchorError(
            f"{value[:80]!r} is not an anchor: expected ID:HASH, an event id and its 64-digit hex "
            "hash (as posted in the audit channel or tagged on a promoted version)"
        )
    return Anchor(int(m.group(1)), m.group(2).lower(), source)


def head(engine: Engine) -> Anchor | None:
    """The newest event as an anchor, or None for an empty log."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")
        ).first()
    return Anchor(int(row[0]), row[1]) if row else None


def chain_length(engine: Engine) -> int:
    """How many events the audit log holds."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def last_tagged(engine: Engine) -> datetime | None:
    """When the newest anchor was tagged on MLflow (a promotion by approval), if ever."""
    with engine.connect() as conn:
        at = conn.execute(
            text(
                "SELECT max(at) FROM audit_event "
                "WHERE action = 'promotion_applied' AND request_id IS NOT NULL"
            )
        ).scalar_one()
    if at is None:
        return None
    return as_utc(at if isinstance(at, datetime) else datetime.fromisoformat(str(at)))


def event_anchor(engine: Engine, event_id: int) -> Anchor | None:
    """The event `event_id` as an anchor, or None when there is no such event."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, hash FROM audit_event WHERE id = :id"), {"id": event_id}
        ).first()
    return Anchor(int(row[0]), row[1]) if row else None


def from_registry(registry: Registry) -> list[Anchor]:
    """The anchors tagged on model versions (RegistryError when MLflow cannot be read)."""
    found = []
    for name, version, value in registry.versions_tagged(ANCHOR_TAG):
        source = f"MLflow `{name}` v{version}, tag {ANCHOR_TAG}"
        try:
            found.append(parse(value, source))
        except AnchorError:
            found.append(Anchor(0, value[:80], source))  # reported as unreadable by check()
    return found


def verify(engine: Engine, anchors: list[Anchor]) -> audit.VerifyResult:
    """audit.verify, then the anchors: an anchor past the end of an intact chain means events
    were deleted; an anchor whose id now holds another hash means the log was rewritten."""
    result = audit.verify(engine)
    if not result.ok or not anchors:
        return result
    ids = sorted({a.id for a in anchors if 0 < a.id <= result.count})
    stored: dict[int, str] = {}
    if ids:
        query = text("SELECT id, hash FROM audit_event WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        with engine.connect() as conn:
            stored = {int(i): h for i, h in conn.execute(query, {"ids": ids}).all()}
    for anchor in sorted(anchors, key=lambda a: a.id):
        if anchor.id == 0:
            reason = f"unreadable anchor {anchor.hash!r} ({anchor.source})"
        elif anchor.id > result.count:
            reason = (
                f"the log ends at id {result.count} but anchor {anchor.named()} was written when "
                f"it had reached id {anchor.id}: events were deleted (truncated)"
            )
        elif not hmac.compare_digest(stored.get(anchor.id, ""), anchor.hash):
            reason = (
                f"event {anchor.id} no longer has the hash of anchor {anchor.named()}: the log "
                "was rewritten at or before it"
            )
        else:
            continue
        return replace(result, ok=False, bad_id=anchor.id or None, reason=reason)
    return result
