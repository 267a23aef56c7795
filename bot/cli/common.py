"""What every `mlops-bot` command shares: one-line failures, logging, the runtime."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from bot.config import Settings
    from bot.policy.file import Policy
    from bot.runtime import Runtime


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"mlops-bot: {message}", err=True)
    raise typer.Exit(code)


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr in MLOPS_BOT_LOG_FORMAT (text or json; read before the rest of the
    settings, so that a bad setting is itself logged in the right format)."""
    from bot.logs import setup

    fmt = os.environ.get("MLOPS_BOT_LOG_FORMAT", "text").strip().lower()
    setup(level, "json" if fmt == "json" else "text")


def load_runtime(say_where: bool = False) -> Runtime:
    """Settings + policy + database, or a one-line error naming the variable at fault: exit 2
    for a bad setting or policy file, 1 for a dependency that fails (README "Exit codes").
    `say_where`: name the default stores that do not exist yet (commands that start the bot)."""
    from pydantic import ValidationError

    from bot.bootstrap import StartError, build_runtime
    from bot.config import Settings, unknown_settings
    from bot.policy.file import PolicyError

    for warning in unknown_settings(os.environ):
        logging.getLogger("bot.config").warning(warning)
    try:
        settings = Settings()
        if say_where:
            _say_where_new_stores_go(settings)
        return build_runtime(settings)
    except ValidationError as exc:
        fail(_invalid_settings(exc))
    except PolicyError as exc:
        problems = str(exc).splitlines()
        if len(problems) == 1:
            fail(f"cannot start: MLOPS_BOT_CONFIG: invalid policy file: {problems[0]}")
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        fail(f"cannot start: MLOPS_BOT_CONFIG: invalid policy file: {len(problems)} problems above")
    except StartError as exc:
        fail(f"cannot start: {exc}", exc.code)
    except Exception as exc:  # database unreachable, bad URL…
        fail(f"cannot start: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")


def load_settings_and_policy() -> tuple[Settings, Policy]:
    """Settings and policy without the database (commands that only read), or the same
    one-line errors as `load_runtime` (exit 2)."""
    from pydantic import ValidationError

    from bot.config import Settings, unknown_settings
    from bot.policy.file import PolicyError, load_policy

    for warning in unknown_settings(os.environ):
        logging.getLogger("bot.config").warning(warning)
    try:
        settings = Settings()
        return settings, load_policy(settings)
    except ValidationError as exc:
        fail(_invalid_settings(exc))
    except PolicyError as exc:
        fail(f"invalid policy file:\n{exc}")


def _invalid_settings(exc: ValidationError) -> str:
    errors = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
    )
    return f"invalid configuration: {errors}"


def _say_where_new_stores_go(settings: Settings) -> None:
    """A default SQLite store that does not exist yet is named: a bot started outside its
    workspace would otherwise start an empty one silently."""
    from bot.config import sqlite_path

    stores = [
        ("mlflow_tracking_uri", "MLflow store", "mlflow.db"),
        ("database_url", "database", "mlops_bot.db"),
    ]
    for field, what, name in stores:
        default = f"sqlite:///{settings.mlops_bot_data_dir}/{name}"
        path = sqlite_path(getattr(settings, field))
        if getattr(settings, field) == default and path is not None and not path.exists():
            logging.getLogger("bot.config").warning(
                f"no {what} at {path.resolve()} yet: starting an empty one (run in the bot's "
                f"directory, or set MLOPS_BOT_DATA_DIR or {field.upper()})"
            )
