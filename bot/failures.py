"""What a user is told when a step fails: a clear sentence, never a stack trace."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import DBAPIError

from bot.approvals.outcomes import ApprovalError
from bot.redact import redact
from bot.registry.gateway import RegistryError
from bot.storage.db import DatabaseError

log = logging.getLogger(__name__)

# Failures whose message is written for Slack already.
EXPECTED: tuple[type[Exception], ...] = (ApprovalError, RegistryError, DatabaseError)


def explain(exc: Exception, what: str = "that") -> str:
    """The sentence for `exc`; anything unexpected is logged with a reference to quote."""
    if isinstance(exc, EXPECTED):
        return redact(str(exc))
    ref = "e" + uuid.uuid4().hex[:7]  # an error reference, never a trace or request ID
    if isinstance(exc, DBAPIError):
        # Locked (SQLite busy past its timeout) or unreachable: the transaction rolled back.
        log.warning("%s: database error (ref %s): %s", what, ref, type(exc.orig).__name__)
        return (
            "The bot's database is unavailable or locked, so nothing was recorded or changed. "
            f"Try again in a minute (ref `{ref}`)."
        )
    log.exception("%s failed (ref %s)", what, ref)
    return f"Something went wrong (ref `{ref}`); the error is in the bot's log."
