"""Who held an alias when: the holders of a model's aliases over time, from the audit log.

Every move of an alias the bot knows of is an audit event: `promotion_applied` (by approval,
or at once for an unprotected alias), `out_of_band_change` (moved outside the bot, seen by a
webhook or the reconciliation) and `alias_baseline` (the holder the bot first saw). Each
approved holding carries its request's chained events: who asked, why, who approved and when.
The answer is only as good as the log, so the whole chain is verified (bot.audit.verify) before
it is given: a broken chain flags the timeline from the first bad event on, and refuses to
say who held an alias at a given time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import col, select

from bot import audit
from bot.clock import as_utc
from bot.runtime import Runtime
from bot.storage import db
from bot.storage.tables import AuditEvent

MOVES = frozenset({"promotion_applied", "out_of_band_change", "alias_baseline"})
REQUEST_EVENTS = frozenset(
    {"promotion_requested", "rollback_requested", "approval_granted", "override_used"}
)


class HistoryError(ValueError):
    """A question about history that cannot be answered; the message says why."""


class HolderSource(StrEnum):
    """How a version came to hold the alias."""

    APPROVED = "approved"  # a request, approved (promotion_applied with a request)
    UNPROTECTED = "unprotected"  # set at once: the alias is not protected
    OUT_OF_BAND = "out_of_band"  # moved outside mlops-bot (seen, not done, by the bot)
    BASELINE = "baseline"  # the holder when the bot first looked
    BEFORE_LOG = "before_log"  # the holder the first recorded move replaced


@dataclass(frozen=True)
class Approval:
    user: str
    at: datetime
    override: bool = False


@dataclass(frozen=True)
class Holding:
    """One version's time as the alias's holder (`version` None: the alias was unset)."""

    alias: str
    version: str | None
    source: HolderSource
    since: datetime | None  # None: before the log (BEFORE_LOG)
    until: datetime | None = None  # None: holds it still
    event_id: int | None = None
    request_id: str | None = None
    rollback: bool = False
    requester: str | None = None
    requested_at: datetime | None = None
    reason: str = ""
    approvals: tuple[Approval, ...] = ()
    note: str = ""  # e.g. who saw an out-of-band change
    verified: bool = True  # its events come before the first bad row of the chain
    # BEFORE_LOG: when the log first shows it holding the alias (the first move's request)
    seen_at: datetime | None = None


@dataclass(frozen=True)
class ChainCheck:
    """The audit chain's verdict, as history shows it."""

    ok: bool
    count: int  # rows verified from the first (whole), or events checked (not whole)
    bad_id: int | None = None
    reason: str = ""
    keyed: bool = False
    whole: bool = True  # the whole chain was walked; else each event used, with its link
    bad_ids: frozenset[int] = frozenset()  # not whole: the events that failed

    def trusts(self, event_id: int | None) -> bool:
        """The event at `event_id` is covered by the check (ids run 1…n, so a whole-chain
        check vouches for the first `count`)."""
        if event_id is None:
            return True
        return event_id <= self.count if self.whole else event_id not in self.bad_ids


@dataclass(frozen=True)
class History:
    """The holders of each alias of one model, oldest first, and the chain's verdict."""

    model: str
    aliases: dict[str, list[Holding]]
    chain: ChainCheck
    first_at: dict[str, datetime] = field(default_factory=dict)  # the log knows each from

    def holder_at(self, alias: str, when: datetime) -> Holding | None:
        """The holding of `alias` at `when`; None when the log knows nothing of it then.

        HistoryError when the chain does not verify: no answer beats a forged one."""
        if not self.chain.ok:
            raise HistoryError(
                f"The audit log fails verification at event #{self.chain.bad_id} "
                f"({self.chain.reason}), so I can't vouch for who held `@{alias}` of "
                f"`{self.model}` at {fmt_when(when)}. `mlops-bot audit verify` shows the details."
            )
        found = None
        for holding in self.aliases.get(alias, []):
            if holding.since is None or holding.since <= when:
                found = holding
        return found


def fmt_when(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_chain(rt: Runtime) -> ChainCheck:
    """Verify the whole audit chain (bot.audit.verify: about 4 s per million events)."""
    result = audit.verify(rt.engine)
    keyed = audit.key_of(rt.engine) is not None
    return ChainCheck(result.ok, result.count, result.bad_id, result.reason, keyed)


def history(rt: Runtime, model: str, alias: str | None = None) -> History:
    """The holders of `model`'s aliases (or of `alias` only) over time, checked against the
    chain."""
    return histories(rt, [model], alias)[0]


def histories(
    rt: Runtime, models: list[str], alias: str | None = None, *, whole: bool = True
) -> list[History]:
    """`history` of several models with one verification of the chain. The events are read
    first and the chain verified after, so every event read is covered by the verdict.

    `whole=False` (App Home, published on every visit and click) checks only the events used,
    each against its content and the row before it: edits and insertions show, a deleted row
    does not; `/mlops history` walks the whole chain."""
    read = [(model, _events(rt, model, alias)) for model in models]
    if whole:
        chain = check_chain(rt)
    else:
        chain = check_events(rt, [ev for _, events in read for ev in events])
    return [_history(model, events, chain) for model, events in read]


def check_events(rt: Runtime, events: list[AuditEvent]) -> ChainCheck:
    """Each event's hash against its content (under the chain's key, when it has one) and its
    `prev_hash` against the row before it."""
    key = audit.key_of(rt.engine)
    before: dict[int, str] = {0: audit.GENESIS}
    wanted = sorted({ev.id - 1 for ev in events if ev.id})
    with db.session(rt.engine) as s:
        for i in range(0, len(wanted), 500):
            rows = s.exec(
                select(AuditEvent.id, AuditEvent.hash).where(
                    col(AuditEvent.id).in_(wanted[i : i + 500])
                )
            ).all()
            before.update({int(row_id or 0): row_hash for row_id, row_hash in rows})
    bad = set()
    for ev in events:
        fields = audit.to_dict(ev)
        del fields["prev_hash"], fields["hash"]
        linked = ev.id is not None and before.get(ev.id - 1) == ev.prev_hash
        if not linked or audit.compute_hash(ev.prev_hash, fields, key) != ev.hash:
            bad.add(ev.id or 0)
    first = min(bad) if bad else None
    reason = "its hash or its link to the row before does not match" if bad else ""
    return ChainCheck(not bad, len(events), first, reason, key is not None, False, frozenset(bad))


def _history(model: str, events: list[AuditEvent], chain: ChainCheck) -> History:
    by_request: dict[str, list[AuditEvent]] = {}
    moves: dict[str, list[AuditEvent]] = {}
    for ev in events:
        if ev.action in REQUEST_EVENTS and ev.request_id:
            by_request.setdefault(ev.request_id, []).append(ev)
        elif ev.action in MOVES and ev.alias is not None:
            moves.setdefault(ev.alias, []).append(ev)
    aliases = {a: _holdings(a, evs, by_request, chain) for a, evs in sorted(moves.items())}
    first = {a: t for a, hs in aliases.items() if hs and (t := hs[0].since or hs[0].seen_at)}
    return History(model, aliases, chain, first)


def models_with_history(rt: Runtime, limit: int = 50) -> list[str]:
    """Models whose aliases the audit log saw move, by name."""
    with db.session(rt.engine) as s:
        rows = s.exec(
            select(AuditEvent.model_name)
            .where(col(AuditEvent.action).in_(sorted(MOVES)), col(AuditEvent.alias).is_not(None))
            .distinct()
            .order_by(col(AuditEvent.model_name))
            .limit(limit)
        ).all()
    return [str(r) for r in rows if r]


def has_history(rt: Runtime, model: str) -> bool:
    """The audit log saw an alias of `model` move (MLflow may have deleted it since)."""
    with db.session(rt.engine) as s:
        found = s.exec(
            select(AuditEvent.id).where(
                col(AuditEvent.model_name) == model, col(AuditEvent.action).in_(sorted(MOVES))
            )
        ).first()
    return found is not None


def _events(rt: Runtime, model: str, alias: str | None) -> list[AuditEvent]:
    """The model's moves (of `alias`) and request events, in chain order (reports and other
    events of the model are left in the database: ix_audit_event_model finds the model's)."""
    q = (
        select(AuditEvent)
        .where(
            col(AuditEvent.model_name) == model,
            col(AuditEvent.action).in_(sorted(MOVES | REQUEST_EVENTS)),
        )
        .order_by(col(AuditEvent.id))
    )
    if alias is not None:
        q = q.where(col(AuditEvent.alias) == alias)
    with db.session(rt.engine) as s:
        return list(s.exec(q).all())


def _details(ev: AuditEvent) -> dict[str, Any]:
    try:
        data = json.loads(ev.details or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _holdings(
    alias: str,
    moves: list[AuditEvent],
    by_request: dict[str, list[AuditEvent]],
    chain: ChainCheck,
) -> list[Holding]:
    out: list[Holding] = []
    first = moves[0]
    key = "expected" if first.action == "out_of_band_change" else "previous_version"
    before = _details(first).get(key)
    moved = [_holding(alias, ev, by_request.get(ev.request_id or "", []), chain) for ev in moves]
    if first.action != "alias_baseline" and before is not None:
        # The log shows it holding the alias from when the first move was asked for (the bot
        # read the holder then, and checked it was unchanged at the move); earlier, it is the
        # last holder the log knows of, and is answered as such (see Holding.seen_at).
        seen = moved[0].requested_at or moved[0].since
        out.append(
            Holding(
                alias,
                str(before),
                HolderSource.BEFORE_LOG,
                None,
                seen_at=seen,
                verified=moved[0].verified,
            )  # fmt: skip
        )
    for ev, holding in zip(moves, moved, strict=True):
        out.append(_with_gap(holding, ev, out[-1] if out else None))
    ends = [h.since for h in out[1:]] + [None]
    return [replace(h, until=end) for h, end in zip(out, ends, strict=True)]


def _with_gap(holding: Holding, ev: AuditEvent, before: Holding | None) -> Holding:
    """A move that replaced another version than the one the log shows holding the alias:
    the alias moved in between without a record (say, while the bot was down)."""
    details = _details(ev)
    key = "expected" if ev.action == "out_of_band_change" else "previous_version"
    if before is None or key not in details or details[key] == before.version:
        return holding
    was = f"v{details[key]}" if details[key] else "unset"
    gap = f"it replaced {was}: a move the log does not show came before"
    return replace(holding, note=f"{holding.note}; {gap}" if holding.note else gap)


def _holding(alias: str, ev: AuditEvent, trail: list[AuditEvent], chain: ChainCheck) -> Holding:
    details = _details(ev)
    at = as_utc(ev.at)
    ids = [ev.id, *(t.id for t in trail)]
    verified = all(chain.trusts(i) for i in ids)
    if ev.action == "alias_baseline":
        note = f"seen by {details.get('source') or 'mlops-bot'}"
        return Holding(alias, ev.model_version, HolderSource.BASELINE, at, event_id=ev.id,
                       note=note, verified=verified)  # fmt: skip
    if ev.action == "out_of_band_change":
        note = f"seen by {details.get('source') or 'mlops-bot'}"
        return Holding(alias, ev.model_version, HolderSource.OUT_OF_BAND, at, event_id=ev.id,
                       note=note, verified=verified)  # fmt: skip
    if details.get("protected") is False or not ev.request_id:
        return Holding(
            alias,
            ev.model_version,
            HolderSource.UNPROTECTED,
            at,
            event_id=ev.id,
            requester=ev.actor,
            requested_at=at,
            reason=str(details.get("reason") or ""),
            verified=verified,
        )
    asked = next((t for t in trail if t.action.endswith("_requested")), None)
    approvals = tuple(
        Approval(t.actor, as_utc(t.at), bool(_details(t).get("override")))
        for t in trail
        if t.action == "approval_granted"
    )
    if not approvals:  # the request's votes are not in the log: name who the move says
        approvals = tuple(Approval(str(u), at) for u in details.get("approved_by") or [])
    return Holding(
        alias,
        ev.model_version,
        HolderSource.APPROVED,
        at,
        event_id=ev.id,
        request_id=ev.request_id,
        rollback=asked is not None and asked.action == "rollback_requested",
        requester=asked.actor if asked else details.get("requester"),
        requested_at=as_utc(asked.at) if asked else None,
        reason=str(_details(asked).get("reason") or "") if asked else "",
        approvals=approvals,
        verified=verified,
    )


# -- times: `at <time>` ------------------------------------------------------------------------

# "3 days ago", "90 minutes ago": hand-written, as the only relative form accepted; a library
# such as dateparser would take far more (and guess at ambiguous text).
_AGO = re.compile(r"^(\d{1,6})\s*(second|minute|hour|day|week)s?\s+ago$", re.IGNORECASE)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
TIME_HELP = (
    "use ISO 8601 (`2026-11-29`, `2026-11-29T09:00`, `2026-11-29T09:00+01:00`; UTC unless a "
    "zone is given) or `<n> minutes|hours|days|weeks ago`"
)


def parse_when(words: Iterable[str], now: datetime) -> datetime:
    """The moment `at <words>` means, in UTC; HistoryError with the accepted forms when bad.

    ISO 8601 date or date and time (`datetime.fromisoformat`), UTC unless it names a zone;
    a date alone is its midnight UTC. Or `<n> <unit>s ago` from `now`. Not after `now`."""
    text = " ".join(words).strip()
    if not text:
        raise HistoryError(f"`at` needs a time: {TIME_HELP}.")
    m = _AGO.match(text)
    if m:
        try:
            when = now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2).lower()])
        except OverflowError:
            raise HistoryError(f"`{text[:60]}` is before the year 1.") from None
    elif text.lower() == "now":
        when = now
    else:
        try:
            when = datetime.fromisoformat(text.upper().replace(" ", "T", 1))
        except ValueError:
            raise HistoryError(f"`{text[:60]}` is not a time: {TIME_HELP}.") from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > now:
        raise HistoryError(f"{fmt_when(when)} is in the future: history only knows the past.")
    return when
