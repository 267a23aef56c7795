"""Building the runtime from settings: load the policy, connect, migrate, sync file monitors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import audit
from bot.clock import SYSTEM, Clock
from bot.config import Settings, secret
from bot.monitoring.schedules import sync_file_monitors
from bot.policy.file import load_policy
from bot.redact import redact
from bot.registry.gateway import Registry
from bot.runtime import Runtime
from bot.storage import db

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class StartError(RuntimeError):
    """The runtime cannot be built; the message starts with the variable at fault. `code` is
    the exit status: 2 for a value that can never work, 1 for a dependency that fails now."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _database(settings: Settings, migrate: bool) -> Engine:
    """The engine for DATABASE_URL, migrated; StartError naming DATABASE_URL when it fails."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    url = settings.database_url
    try:
        engine = db.make_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StartError(
            f"DATABASE_URL: {redact(url)!r} is not a database URL like sqlite:///path/to.db "
            f"or postgresql+psycopg://user@host/db ({_first_line(exc)})",
            2,
        ) from None
    except ImportError as exc:
        raise StartError(
            f"DATABASE_URL: the driver is not installed: {_first_line(exc)}", 2
        ) from None
    audit.use_key(engine, secret(settings.mlops_bot_audit_key))
    if migrate:
        try:
            db.upgrade(engine)
        except SQLAlchemyError as exc:
            raise StartError(
                f"DATABASE_URL: cannot open {redact(url)}: {_first_line(exc)}", 1
            ) from None
    return engine


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return redact(text.splitlines()[0][:300] if text else type(exc).__name__)


def build_runtime(
    settings: Settings | None = None, *, migrate: bool = True, clock: Clock = SYSTEM
) -> Runtime:
    """Load settings and policy (PolicyError on a bad file), connect, migrate (StartError
    naming DATABASE_URL when the database cannot be used)."""
    settings = settings or Settings()
    settings.ensure_local_dirs()
    policy = load_policy(settings)
    engine = _database(settings, migrate)
    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    rt = Runtime(settings=settings, policy=policy, engine=engine, registry=registry, clock=clock)
    if migrate:
        sync_file_monitors(rt)  # the policy file's monitors, as schedules every replica sees
    return rt
