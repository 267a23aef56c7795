"""What every `mlops-bot` command shares: one-line failures, logging, the runtime."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
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


def load_runtime() -> Runtime:
    """Settings + policy + database, or a one-line error and exit 2."""
    from pydantic import ValidationError

    from bot.bootstrap import build_runtime
    from bot.config import Settings, unknown_settings
    from bot.policy.file import PolicyError

    for warning in unknown_settings(os.environ):
        logging.getLogger("bot.config").warning(warning)
    try:
        return build_runtime(Settings())
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid configuration: {errors}")
    except PolicyError as exc:
        fail(f"invalid policy file:\n{exc}")
    except Exception as exc:  # database unreachable, bad URL…
        fail(f"cannot start: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
