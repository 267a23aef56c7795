"""The append-only, hash-chained audit log: `hash = sha256(prev_hash + canonical JSON of`
the other fields: id, at, actor, action, model_name, model_version, alias, run_id, request_id
and details)`.
With MLOPS_BOT_AUDIT_KEY set (a key held outside the database, registered per engine with
use_key) the hash is HMAC-SHA256 under that key instead, so someone who can write the database
cannot re-hash an edited history. A log written before the key was set verifies with a
warning; once a keyed row appears every later row must be keyed.
Appends are serialised so the chain stays linear across processes: SQLite takes the write lock
at BEGIN IMMEDIATE (see db.writer), PostgreSQL a table lock that only appends conflict with.
There is no update or delete path in this module or anywhere else in the code.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypedDict, Unpack

from sqlalchemy import Engine, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.audit_actions import ACTIONS
from bot.clock import utcnow
from bot.redact import redact
from bot.storage import db
from bot.storage.tables import AuditEvent

GENESIS = "0" * 64
_encode_str = json.encoder.encode_basestring  # the C encoder, ensure_ascii=False semantics

FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "model_name",
    "model_version",
    "alias",
    "run_id",
    "request_id",
    "details",
    "prev_hash",
    "hash",
)


def fmt_at(at: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` (isoformat is several times faster than strftime)."""
    if at.tzinfo is not None:  # PostgreSQL; SQLite hands back naive UTC
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"


def canonical(fields: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_KEY_OPTION = "mlops_bot_audit_key"  # an execution option: engine.execution_options() keep it


def use_key(engine: Engine, key: str | None) -> None:
    """Key the chain of `engine`'s log (MLOPS_BOT_AUDIT_KEY); None or "" leaves it plain."""
    engine.update_execution_options(**{_KEY_OPTION: key.encode("utf-8") if key else None})


def key_of(engine: Engine) -> bytes | None:
    key: bytes | None = engine.get_execution_options().get(_KEY_OPTION)
    return key


def _digest(data: str, key: bytes | None) -> str:
    raw = data.encode("utf-8")
    if key is None:
        return hashlib.sha256(raw).hexdigest()
    return hmac.digest(key, raw, "sha256").hex()


def compute_hash(prev_hash: str, fields: dict[str, Any], key: bytes | None = None) -> str:
    return _digest(prev_hash + canonical(fields), key)


def _js(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def row_hash(
    prev_hash: str,
    ev_id: int,
    at: str,
    actor: str,
    action: str,
    model: str | None,
    version: str | None,
    alias: str | None,
    run_id: str | None,
    request_id: str | None,
    details: str,
    key: bytes | None = None,
) -> str:
    """compute_hash for a stored row, built as text: `details` is stored canonical already.

    Written out because verify() walks every row: this is the same canonical JSON as
    `canonical(fields)` (sorted keys, no spaces), without parsing and re-encoding details.
    """
    text = (
        f'{prev_hash}{{"action":{_js(action)},"actor":{_js(actor)},"alias":{_js(alias)},'
        f'"at":{_js(at)},"details":{details},"id":{ev_id},"model_name":{_js(model)},'
        f'"model_version":{_js(version)},"request_id":{_js(request_id)},"run_id":{_js(run_id)}}}'
    )
    return _digest(text, key)


def _hashed_fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": fmt_at(ev.at),
        "actor": ev.actor,
        "action": ev.action,
        "model_name": ev.model_name,
        "model_version": ev.model_version,
        "alias": ev.alias,
        "run_id": ev.run_id,
        "request_id": ev.request_id,
        "details": json.loads(ev.details),
    }


class EventFields(TypedDict, total=False):
    """The optional fields of an event (what links it to MLflow and to a request)."""

    model_name: str | None
    model_version: str | None
    alias: str | None
    run_id: str | None
    request_id: str | None
    details: dict[str, Any] | None


def chained_event(
    prev_id: int,
    prev_hash: str,
    action: str,
    actor: str,
    at: datetime,
    key: bytes | None = None,
    **fields: Unpack[EventFields],
) -> AuditEvent:
    """The event that follows (prev_id, prev_hash), hashed; not added to any session."""
    ev = AuditEvent(
        id=prev_id + 1,
        at=at,
        actor=actor,
        action=action,
        model_name=fields.get("model_name"),
        model_version=fields.get("model_version"),
        alias=fields.get("alias"),
        run_id=fields.get("run_id"),
        request_id=fields.get("request_id"),
        details=canonical(_redacted(fields.get("details") or {})),
        prev_hash=prev_hash,
        hash="",
    )
    ev.hash = compute_hash(prev_hash, _hashed_fields(ev), key)
    return ev


def _redacted(value: Any) -> Any:
    """Details with every string redacted (bot.redact): an error text or a data source URI
    must not put a password or a signed query into the audit log."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def append(session: Session, action: str, actor: str, **fields: Unpack[EventFields]) -> AuditEvent:
    """Append one event in the session's transaction (the caller commits).

    Use a session on `db.writer(engine)` so SQLite holds the write lock from the start.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if session.get_bind().dialect.name == "postgresql":
        # Conflicts only with itself (readers go on); released at commit or rollback.
        session.execute(text("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE"))
    head = session.exec(
        select(AuditEvent.id, AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    ).first()
    prev_id, prev_hash = (int(head[0] or 0), head[1]) if head else (0, GENESIS)
    key = key_of(session.get_bind())  # type: ignore[arg-type]
    ev = chained_event(prev_id, prev_hash, action, actor, utcnow(), key, **fields)
    session.add(ev)
    session.flush()
    return ev


def record(engine: Engine, action: str, actor: str, **fields: Any) -> AuditEvent:
    """Append one event in its own transaction."""
    with db.session(engine, write=True) as session:
        ev = append(session, action, actor, **fields)
        session.commit()
        session.refresh(ev)
        return ev


def recent(
    engine: Engine,
    *,
    model: str | None = None,
    limit: int = 20,
    actions: set[str] | None = None,
    alias: str | None = None,
) -> list[AuditEvent]:
    """Newest first."""
    with db.session(engine) as session:
        q = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if model is not None:
            q = q.where(col(AuditEvent.model_name) == model)
        if alias is not None:
            q = q.where(col(AuditEvent.alias) == alias)
        if actions:
            q = q.where(col(AuditEvent.action).in_(sorted(actions)))
        return list(session.exec(q).all())


def for_request(session: Session, request_id: str) -> list[AuditEvent]:
    """The events of one request that are chained, oldest first: each one's hash matches its
    content (under the chain's key, when it has one) and its `prev_hash` is the hash of the row
    before it. A row written into the table by hand, without the chain, is left out."""
    events = list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.request_id) == request_id)
            .order_by(col(AuditEvent.id))
        ).all()
    )
    before = {ev.id - 1 for ev in events if ev.id}
    rows = session.exec(
        select(AuditEvent.id, AuditEvent.hash).where(col(AuditEvent.id).in_(before))
    )
    hashes: dict[int | None, str] = {row_id: row_hash for row_id, row_hash in rows.all()}
    hashes[0] = GENESIS
    key = key_of(session.get_bind())  # type: ignore[arg-type]
    return [
        ev
        for ev in events
        if ev.id
        and hashes.get(ev.id - 1) == ev.prev_hash
        and compute_hash(ev.prev_hash, _hashed_fields(ev), key) == ev.hash
    ]


def to_dict(ev: AuditEvent) -> dict[str, Any]:
    d = _hashed_fields(ev)
    d["prev_hash"] = ev.prev_hash
    d["hash"] = ev.hash
    return d


def iter_events(
    engine: Engine, *, model: str | None = None, since: datetime | None = None, batch: int = 5000
) -> Iterator[AuditEvent]:
    """Every event in chain order, streamed in batches."""
    last_id = 0
    while True:
        with db.session(engine) as session:
            q = (
                select(AuditEvent)
                .where(col(AuditEvent.id) > last_id)
                .order_by(col(AuditEvent.id))
                .limit(batch)
            )
            if model is not None:
                q = q.where(col(AuditEvent.model_name) == model)
            if since is not None:
                q = q.where(col(AuditEvent.at) >= since)
            rows = list(session.exec(q).all())
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id or last_id


def export(
    engine: Engine,
    out: io.TextIOBase | Any,
    fmt: Literal["csv", "json", "jsonl"] = "jsonl",
    *,
    model: str | None = None,
    since: datetime | None = None,
) -> int:
    """Write events to `out`; returns how many."""
    n = 0
    events = iter_events(engine, model=model, since=since)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(FIELDS))
        writer.writeheader()
        for ev in events:
            row = to_dict(ev)
            row["details"] = canonical(row["details"])
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
            n += 1
    elif fmt == "json":
        out.write("[")
        for ev in events:
            out.write(("," if n else "") + "\n" + json.dumps(to_dict(ev), ensure_ascii=False))
            n += 1
        out.write("\n]\n")
    else:
        for ev in events:
            out.write(json.dumps(to_dict(ev), ensure_ascii=False) + "\n")
            n += 1
    return n


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: `'` before a leading =, +, -, @, tab or CR."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    bad_id: int | None = None
    reason: str = ""
    # Not part of the verdict (bench/audit.py compares verdicts): what a reader should know.
    warnings: tuple[str, ...] = field(default=(), compare=False)


UNKEYED = (
    "MLOPS_BOT_AUDIT_KEY is not set: the chain was checked as plain SHA-256, which anyone who "
    "can write the database can recompute after editing it"
)


def _plain_before_key(n: int) -> str:
    return (
        f"events 1–{n} were written without MLOPS_BOT_AUDIT_KEY (before it was set): anyone who "
        "could write the database could have rewritten them undetected"
    )


# The stored time as the text that was hashed, computed by the database so verify() reads
# plain strings: SQLAlchemy's per-row datetime parsing was a third of verify's time.
# SQLite stores `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's format, UTC); PostgreSQL formats.
_AT_TEXT = {
    "sqlite": "CASE WHEN length(at) = 26 AND substr(at, 11, 1) = ' '"
    " THEN substr(at, 1, 10) || 'T' || substr(at, 12) || 'Z' END",
    "postgresql": "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
}
_VERIFY_SQL = (
    "SELECT id, {at}, actor, action, model_name, model_version, alias, run_id, request_id,"
    " details, prev_hash, hash FROM audit_event WHERE id > :after ORDER BY id LIMIT {n}"
)


def verify(engine: Engine, batch: int = 20000) -> VerifyResult:
    """Walk the chain; the first row that was changed, removed or inserted fails it.

    Each row is hashed from its stored text (row_hash); a row whose text is not byte-for-byte
    what append() hashed (say, `details` re-serialised) gets the full canonical check. With a
    key (use_key), rows before the first keyed one may be plain (a log started unkeyed, with a
    warning); after it, a plain row fails: someone re-hashed it without the key.
    """
    key = key_of(engine)
    prev_hash, expected_id, n = GENESIS, 1, 0
    last_id, keyed_from = 0, 0  # keyed_from: the id of the first keyed row
    query = text(_VERIFY_SQL.format(at=_AT_TEXT.get(engine.dialect.name, "NULL"), n=int(batch)))
    with engine.connect() as conn:
        while True:
            rows = conn.execute(query, {"after": last_id}).all()
            if not rows:
                break
            for row in rows:
                ev_id, at, actor, action, model, version, alias, run_id, req, details, ph, h = row
                if ev_id != expected_id:
                    return VerifyResult(
                        False, n, ev_id, f"row {expected_id} is missing before row {ev_id}"
                    )
                if ph != prev_hash:
                    return VerifyResult(False, n, ev_id, "prev_hash does not match the row before")
                fields = (ph, ev_id, at, actor, action, model, version, alias, run_id, req, details)
                # The hot paths: keyed rows after the first keyed one, plain rows before it.
                if at is not None and (
                    row_hash(*fields, key) == h if keyed_from else row_hash(*fields) == h
                ):
                    prev_hash, expected_id, n = h, expected_id + 1, n + 1
                    continue
                kind = _slow_kind(conn, key, h, fields)
                if kind is None:
                    return VerifyResult(False, n, ev_id, _mismatch(key, n))
                if kind is RowHash.KEYED:
                    keyed_from = keyed_from or ev_id
                elif keyed_from:
                    reason = "hash is plain SHA-256 after keyed rows: re-hashed without the key"
                    return VerifyResult(False, n, ev_id, reason)
                prev_hash, expected_id, n = h, expected_id + 1, n + 1
            last_id = rows[-1][0]
    if key is None:
        warnings: tuple[str, ...] = (UNKEYED,) if n else ()
    else:
        plain = (keyed_from - 1) if keyed_from else n
        warnings = (_plain_before_key(plain),) if plain else ()
    return VerifyResult(True, n, warnings=warnings)


class RowHash(StrEnum):
    """How a stored row's hash was made."""

    KEYED = "keyed"  # HMAC-SHA256 under MLOPS_BOT_AUDIT_KEY
    PLAIN = "plain"  # SHA-256 (a log written without a key)


# The arguments of row_hash without the key, as read by verify (`at` is None when unreadable).
_RowText = tuple[
    str, int, str, str, str, str | None, str | None, str | None, str | None, str | None, str
]


def _slow_kind(conn: Any, key: bytes | None, stored: str, fields: _RowText) -> RowHash | None:
    """A row off the hot path: keyed or plain (from its stored text, else parsed), or bad."""
    if fields[2] is not None:
        if key is not None and row_hash(*fields, key) == stored:
            return RowHash.KEYED
        if row_hash(*fields) == stored:
            return RowHash.PLAIN
    if key is not None and _row_verifies(conn, fields[1], key):
        return RowHash.KEYED
    return RowHash.PLAIN if _row_verifies(conn, fields[1], None) else None


def _mismatch(key: bytes | None, n: int) -> str:
    if key is None and n == 0:
        return (
            "hash does not match the row's content "
            "(if the log is keyed, set MLOPS_BOT_AUDIT_KEY to verify it)"
        )
    return "hash does not match the row's content"


def _row_verifies(conn: Any, ev_id: int, key: bytes | None) -> bool:
    """The slow path for one row, read back through the ORM types."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    row = conn.execute(sa_select(*[table.c[f] for f in FIELDS]).where(table.c.id == ev_id)).one()
    return _same_after_parsing(row, key)


def _same_after_parsing(row: Sequence[Any], key: bytes | None = None) -> bool:
    """A stored row (the columns of FIELDS, typed) hashed by the definition: `details` may be
    valid but not byte-canonical (e.g. re-serialised)."""
    fields = dict(zip(FIELDS, row, strict=True))
    prev_hash, stored_hash = fields.pop("prev_hash"), fields.pop("hash")
    if not isinstance(fields["at"], datetime):
        return False
    try:
        fields["details"] = json.loads(fields["details"])
    except ValueError:
        return False
    fields["at"] = fmt_at(fields["at"])
    return compute_hash(prev_hash, fields, key) == stored_hash
