"""Database engine and migrations (SQLite by default, PostgreSQL for replicas)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x6D6C6F7073  # advisory lock key: one replica migrates at a time


class DatabaseError(Exception):
    """The database is unreachable or failed; the message is fit for Slack."""


def make_engine(url: str) -> Engine:
    """An engine for DATABASE_URL; SQLite gets WAL, a busy timeout and immediate writes."""
    if url.startswith("sqlite"):
        # How long a write waits for another writer's lock before it fails (`?timeout=` seconds).
        timeout = float(make_url(url).query.get("timeout", 30))  # type: ignore[arg-type]
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # BEGIN IMMEDIATE takes the write lock up front, so read-then-write transactions
            # (hash chain head, compare-and-set) serialise across processes; reads stay shared.
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def writer(engine: Engine) -> Engine:
    """The engine for read-then-write transactions (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(immediate=True)


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upgrade(engine: Engine) -> None:
    """Apply Alembic migrations up to head (safe to call from several replicas at once)."""
    from alembic import command

    cfg = _alembic_config()
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def ping(engine: Engine) -> None:
    """Raise DatabaseError unless the database answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseError(f"database unavailable: {type(exc).__name__}") from exc


def rowcount(result: Any) -> int:
    """Rows an UPDATE/INSERT/DELETE changed (the typed CursorResult view of execute's result)."""
    cursor: CursorResult[Any] = result
    return int(cursor.rowcount)


def session(engine: Engine, *, write: bool = False) -> Session:
    """A session whose objects stay readable after commit; `write` takes the write lock first."""
    return Session(writer(engine) if write else engine, expire_on_commit=False)


def current_revisions(engine: Engine) -> set[str]:
    """The migration revisions the database is at (empty: none applied); read only."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())
