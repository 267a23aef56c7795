"""Logging: one line per record, text or JSON, each tagged with the Slack request it serves.

Three IDs appear in what the bot shows, each named so it cannot be taken for another:

* trace ID (`trace t…`): one per Slack request or webhook delivery, on every log line it
  causes. A context variable set when a request arrives (handlers.middleware);
  `ContextExecutor` carries it into Bolt's listener threads and the after-ack pool, which a
  plain ThreadPoolExecutor would not.
* error reference (`ref e…`): one per unexpected failure, told to the user and logged with
  the failure (bot.failures), so a quoted reference finds the log line and its trace.
* promotion request ID (12 hex digits, on the card as "request `…`"): stored with the
  request and its audit events; the log line of every click on a card names it
  ("action … request …").
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any, Literal

from bot.redact import RedactingFilter, redact_record

# Libraries whose lines below these levels are chatter an operator cannot act on: alembic's
# "setup plugin …"/"Running upgrade …", APScheduler's "Running job …"/"… executed successfully"
# every run, urllib3's "Retrying (Retry(total=…))" while MLflow is down (the bot's own line says
# that once). At DEBUG every line is shown.
QUIET_LIBRARIES: dict[str, int] = {
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
    "urllib3": logging.ERROR,
}
# Lines dropped below DEBUG whatever their level: Bolt's "As you gave `client` as well,
# `token` will be unused." (the bot gives Bolt a client on purpose), on the logger the bot
# hands Bolt (handlers.app) or Bolt's own; uvicorn's lifespan steps (its "Started server
# process", "Uvicorn running on …" and "Shutting down" stay).
_CHATTER = (
    "`token` will be unused",
    "Waiting for application startup",
    "Application startup complete",
    "Waiting for application shutdown",
    "Application shutdown complete",
)
_CHATTY_LOGGERS = ("mlops_bot.bolt", "slack_bolt.App", "uvicorn.error")

TRACE_ID: ContextVar[str] = ContextVar("mlops_bot_trace_id", default="-")
LogFormat = Literal["text", "json"]


def new_trace_id() -> str:
    """A short random ID for one Slack request, on every log line it causes."""
    tid = "t" + uuid.uuid4().hex[:11]
    TRACE_ID.set(tid)
    return tid


_base_factory = logging.getLogRecordFactory()


def _record_with_trace_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.trace_id = TRACE_ID.get()
    return redact_record(record)


def tag_records() -> None:
    """Every log record gets `trace_id` ("-" outside a request) and is redacted
    (bot.redact: no credential in any URI, no token), whatever its handler."""
    logging.setLogRecordFactory(_record_with_trace_id)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at, level, logger, trace_id, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "trace_id": getattr(record, "trace_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(level: int = logging.INFO, fmt: LogFormat = "text") -> None:
    """Configure the root logger on stderr (again, if called twice)."""
    tag_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [trace %(trace_id)s] %(message)s"
        )
    )
    handler.addFilter(RedactingFilter())  # records made before tag_records, too
    quiet = level > logging.DEBUG
    if quiet:  # MLflow logs through a handler of its own ("Creating initial MLflow database
        # tables…" when a store is new), at the level this variable gives, read at its import
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name, least in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(least if quiet else logging.NOTSET)
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeFilter(_drop_chatter)
        if quiet:
            logger.addFilter(_drop_chatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _drop_chatter(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(c in message for c in _CHATTER)


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context variables."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(copy_context().run, fn, *args, **kwargs)
