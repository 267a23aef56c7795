"""Building the runtime from settings: load the policy, connect, migrate, sync file monitors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot import audit
from bot.clock import SYSTEM, Clock
from bot.config import Settings, secret, sqlite_path
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


def _local_dirs(settings: Settings) -> None:
    """The directories of the SQLite stores; StartError naming the variable when one cannot be
    made (unset, both are files of MLOPS_BOT_DATA_DIR)."""
    stores = (
        ("DATABASE_URL", settings.database_url, "mlops_bot.db"),
        ("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri, "mlflow.db"),
    )
    for var, url, default_name in stores:
        path = sqlite_path(url)
        if path is None or path.parent == Path(""):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            default = url == f"sqlite:///{settings.mlops_bot_data_dir}/{default_name}"
            name = f"MLOPS_BOT_DATA_DIR (where {var} is by default)" if default else var
            raise StartError(
                f"{name}: cannot create the directory {path.parent}: "
                f"{exc.strerror or type(exc).__name__}",
                1,
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return redact(text.splitlines()[0][:300] if text else type(exc).__name__)


def build_runtime(
    settings: Settings | None = None, *, migrate: bool = True, clock: Clock = SYSTEM
) -> Runtime:
    """Load settings and policy (PolicyError on a bad file), connect, migrate (StartError
    naming DATABASE_URL when the database cannot be used)."""
    settings = settings or Settings()
    _local_dirs(settings)
    policy = load_policy(settings)
    engine = _database(settings, migrate)
    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    rt = Runtime(settings=settings, policy=policy, engine=engine, registry=registry, clock=clock)
    if migrate:
        sync_file_monitors(rt)  # the policy file's monitors, as schedules every replica sees
    return rt
