"""MLflow registry events: signed webhooks in, out-of-band alias changes caught (SPEC §5.8).

A protected alias that moves without the bot (someone called `set_registered_model_alias`
directly) is posted as a warning once per change and recorded as `out_of_band_change`, whether
it is seen by a webhook or by the periodic reconciliation. The first time the bot sees a
protected alias it records the holder as its baseline, silently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from bot import audit
from bot.clock import utcnow
from bot.storage import db
from bot.storage.tables import AliasState

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
MAX_SKEW_SECONDS = 300
BOT_TAG_PREFIX = "mlops_bot."
# The audit chain's head ("id:hash"), written on each version promoted by approval.
ANCHOR_TAG = f"{BOT_TAG_PREFIX}audit_anchor"


class SignatureError(Exception):
    """A delivery whose signature, timestamp or headers do not check out."""


class NoticeKind(StrEnum):
    """What a registry event notice says (and which button, if any, it carries)."""

    OUT_OF_BAND = "out_of_band"  # a protected alias moved without the bot: Revert
    TAMPERING = "tampering"  # an mlops_bot.* tag changed without the bot
    REGISTERED = "registered"  # a new version: Request promotion


@dataclass(frozen=True)
class Notice:
    """Something to post: text, and the (model, alias, version) a Revert/Promote button acts on."""

    kind: NoticeKind
    text: str
    model: str
    alias: str | None = None
    version: str | None = None


def verify_signature(
    secret: str,
    delivery_id: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
) -> None:
    """MLflow's scheme: `v1,` + base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}"."""
    if not delivery_id or not timestamp or not signature:
        raise SignatureError("missing X-MLflow-Delivery-Id, -Timestamp or -Signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("X-MLflow-Timestamp is not unix seconds") from None
    if abs((now or time.time()) - sent) > MAX_SKEW_SECONDS:
        raise SignatureError("timestamp outside the 5-minute window")
    mac = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256)
    expected = "v1," + base64.b64encode(mac.digest()).decode()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("signature does not match")


def expected_holder(rt: Runtime, model: str, alias: str) -> tuple[bool, str | None]:
    """What the bot believes holds the alias: its last promotion, else the recorded baseline."""
    applied = audit.recent(
        rt.engine, model=model, alias=alias, limit=1, actions={"promotion_applied"}
    )
    if applied:
        return True, applied[0].model_version
    with db.session(rt.engine) as s:
        state = s.get(AliasState, (model, alias))
    return (state is not None), (state.version if state else None)


def _claim_holder(s: Session, model: str, alias: str, holder: str | None) -> bool:
    """Store `holder` as the alias's last seen holder; True only in the one transaction that
    changed it, so replicas observing the same change at once record and warn once."""
    table = AliasState.__table__  # type: ignore[attr-defined]
    now = utcnow()
    dialect_insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = s.execute(
        dialect_insert(table)
        .values(model_name=model, alias=alias, version=holder, seen_at=now)
        .on_conflict_do_nothing()
        .returning(table.c.model_name)  # psycopg reports rowcount -1 for this statement
    ).first()
    if inserted is not None:
        return True
    updated = s.execute(
        update(table)
        .where(
            table.c.model_name == model,
            table.c.alias == alias,
            table.c.version.is_distinct_from(holder),
        )
        .values(version=holder, seen_at=now)
    )
    return db.rowcount(updated) == 1


def _record_once(
    rt: Runtime,
    model: str,
    alias: str,
    holder: str | None,
    action: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Claim the holder and, if this call claimed it, append `action` in the same transaction."""
    with db.session(rt.engine, write=True) as s:
        claimed = _claim_holder(s, model, alias, holder)
        if claimed and action is not None:
            audit.append(
                s,
                action,
                "system",
                model_name=model,
                model_version=holder,
                alias=alias,
                details=details,
            )
        s.commit()
        return claimed


def _being_applied(rt: Runtime, model: str, alias: str, holder: str | None) -> bool:
    """The bot itself is moving the alias right now (its record follows the MLflow call)."""
    from sqlmodel import select

    from bot.storage.tables import PromotionRequest, RequestStatus

    with db.session(rt.engine) as s:
        return (
            s.exec(
                select(PromotionRequest.id).where(
                    PromotionRequest.model_name == model,
                    PromotionRequest.alias == alias,
                    PromotionRequest.version == holder,
                    PromotionRequest.status == RequestStatus.APPLYING,
                )
            ).first()
            is not None
        )


def observe(rt: Runtime, model: str, alias: str, holder: str | None, source: str) -> Notice | None:
    """Compare a protected alias's holder with what the bot expects; warn once per change."""
    # The bot's own move first, then the expected holder: a promotion leaves `applying` in the
    # transaction that writes its `promotion_applied`, so read in this order one of the two
    # always sees it (read the other way round, a promotion finishing in between looked
    # out-of-band).
    if _being_applied(rt, model, alias, holder):
        _record_once(rt, model, alias, holder)
        return None
    known, expected = expected_holder(rt, model, alias)
    if not known:
        _record_once(rt, model, alias, holder, "alias_baseline", {"source": source})
        return None
    if holder == expected:
        _record_once(rt, model, alias, holder)
        return None
    details = {"expected": expected, "found": holder, "source": source}
    if not _record_once(rt, model, alias, holder, "out_of_band_change", details):
        return None  # this change was already reported (here or by another replica)
    was = f"v{expected}" if expected else "unset"
    now = f"v{holder}" if holder else "deleted"
    text = (
        f":rotating_light: *Out-of-band change*: `@{alias}` of `{model}` is now {now}, but "
        f"the last approved holder is {was}. It was changed outside mlops-bot (seen by "
        f"{source}; MLflow OSS does not record who or exactly when)."
    )
    return Notice(NoticeKind.OUT_OF_BAND, text, model, alias, expected)


def handle_event(rt: Runtime, payload: dict[str, Any]) -> list[Notice]:
    """Act on one webhook payload; returns what to post."""
    entity, action = str(payload.get("entity", "")), str(payload.get("action", ""))
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        return []
    model = str(data.get("name") or "")[:256]
    if not model:
        return []
    policy = rt.policy.for_model(model)
    if entity == "model_version_alias":
        alias = str(data.get("alias") or "")[:256]
        if not alias or not policy.is_protected(alias):
            return []
        holder = rt.registry.alias_holder(model, alias)  # the registry now, not the payload
        notice = observe(rt, model, alias, holder, "MLflow webhook")
        return [notice] if notice else []
    if entity == "model_version_tag":
        key = str(data.get("key") or "")
        if not key.startswith(BOT_TAG_PREFIX):
            return []
        notice = _check_bot_tag(rt, model, str(data.get("version") or "")[:32], key[:200])
        return [notice] if notice else []
    if entity == "model_version" and action == "created":
        version = str(data.get("version") or "")[:32]
        try:
            info = rt.registry.get_version(model, version)
        except Exception:
            return []
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(info.metrics.items())[:6])
        target = sorted(policy.protected_aliases)[0] if policy.protected_aliases else None
        text = f":package: `{model}` v{version} registered from run `{info.run_id}`" + (
            f" — {metrics}" if metrics else ""
        )
        return [Notice(NoticeKind.REGISTERED, text, model, target, version)]
    return []


def bot_tags(
    request_id: str, approved_by: list[str], audit_id: int | None, audit_hash: str
) -> dict[str, str]:
    """The `mlops_bot.*` tags the bot writes on a version it promoted by approval; the last
    one anchors the audit chain's head (`promotion_applied`'s id and hash) outside the DB."""
    return {
        f"{BOT_TAG_PREFIX}request_id": request_id,
        f"{BOT_TAG_PREFIX}approved_by": ",".join(approved_by),
        f"{BOT_TAG_PREFIX}audit_id": str(audit_id),
        ANCHOR_TAG: f"{audit_id}:{audit_hash}",
    }


def _written_by_bot(rt: Runtime, model: str, version: str) -> list[dict[str, str]]:
    """The tag sets the bot wrote on this version: one per promotion by approval."""
    from sqlmodel import col, select

    from bot.storage.tables import AuditEvent

    with db.session(rt.engine) as s:
        applied = s.exec(
            select(AuditEvent).where(
                AuditEvent.model_name == model,
                AuditEvent.model_version == version,
                AuditEvent.action == "promotion_applied",
                col(AuditEvent.request_id).is_not(None),
            )
        ).all()
    written = []
    for ev in applied:
        details = json.loads(ev.details or "{}")
        approved = details.get("approved_by") or []
        written.append(bot_tags(str(ev.request_id), [str(a) for a in approved], ev.id, ev.hash))
    return written


def _check_bot_tag(rt: Runtime, model: str, version: str, key: str) -> Notice | None:
    """A webhook said `key` changed on `model` v`version`: read the tag from MLflow and warn
    only if its value now is not one the bot wrote there. The payload says where to look, never
    what happened: a forged or stale event about the bot's own writes stays silent."""
    try:
        info = rt.registry.get_version(model, version) if version.isdigit() else None
    except Exception:
        return None  # no such model or version (or MLflow down): nothing to compare
    if info is None:
        return None
    now = info.tags.get(key)
    wrote = {tags[key] for tags in _written_by_bot(rt, info.name, info.version) if key in tags}
    if now in wrote or (now is None and not wrote):
        return None
    change = "removed" if now is None else f"set to `{now[:100]}`"
    expected = (
        " or ".join(f"`{w[:100]}`" for w in sorted(wrote))
        if wrote
        else "no such tag (it never tagged this version)"
    )
    audit.record(
        rt.engine,
        "out_of_band_change",
        "system",
        model_name=info.name,
        model_version=info.version,
        details={"tag": key, "found": now, "expected": sorted(wrote)},
    )
    text = (
        f":warning: *Tag tampering*: `{key}` on `{info.name}` v{info.version} was {change} "
        f"outside mlops-bot; mlops-bot wrote {expected}."
    )
    return Notice(NoticeKind.TAMPERING, text, info.name, None, info.version)


def reconcile(rt: Runtime) -> list[Notice]:
    """Compare every protected alias of every model with the audit log."""
    notices = []
    for model in rt.registry.list_models():
        policy = rt.policy.for_model(model.name)
        for alias in sorted(policy.protected_aliases):
            notice = observe(rt, model.name, alias, model.aliases.get(alias), "reconciliation")
            if notice:
                notices.append(notice)
    return notices


def parse_payload(body: bytes) -> dict[str, Any]:
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    return payload
