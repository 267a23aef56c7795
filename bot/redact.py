"""Credentials out of everything the bot shows or writes: one function, used everywhere.

`redact(text)` rewrites every URI in a text without its userinfo (`user:password@`), query
string and fragment (signed URLs carry their signature there: `X-Amz-Signature=…`), and masks
token-like values (Slack tokens, `Bearer …`, `password=…`). It is applied to error texts shown
in Slack, report failures, audit details, `/mlops status` and every log record
(`RedactingFilter`, installed by bot.logs).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

MASK = "***"

# scheme://… up to whitespace, quotes, angle brackets, backticks, `|` (Slack link text) or `)`.
_URI = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s<>\"'`|)\]]+")
_TOKENS = [
    re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+"),  # Slack bot/user tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(
        r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|signature"
        r"|x-amz-signature|x-amz-credential|x-amz-security-token|sig)=[^\s&\"'`<>]+"
    ),
]


def redact(text: Any) -> str:
    """`text` (or a URI) with userinfo, query strings and token-like values removed."""
    out = _URI.sub(lambda m: _redact_uri(m.group(0)), str(text))
    for pattern in _TOKENS:
        out = pattern.sub(_mask_token, out)
    return out


def _mask_token(m: re.Match[str]) -> str:
    if m.lastindex:  # `key=value` or `Bearer value`: keep the key, mask the value
        sep = "=" if "=" in m.group(0) else " "
        return f"{m.group(1)}{sep}{MASK}"
    return MASK


def _redact_uri(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError:  # an unparsable URI (a broken IPv6 host, say): keep only its scheme
        return uri.split("://", 1)[0] + f"://{MASK}"
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{MASK}" if parts.query else "")


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments and exception text in place (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, arguments and traceback redacted.

    Arguments stay arguments (formatters such as uvicorn's access log unpack them): numbers
    are kept, anything else becomes its redacted text.
    """
    if getattr(record, "redacted", False):
        return record
    msg = record.msg if isinstance(record.msg, str) else str(record.msg)
    if redact(msg) != msg and record.args:  # a URI in the format itself: format, then redact
        try:
            msg, record.args = record.getMessage(), ()
        except Exception:  # a bad format string: logging reports it; keep the raw format
            record.args = ()
    record.msg = redact(msg)
    if isinstance(record.args, dict):
        record.args = {k: _redact_arg(v) for k, v in record.args.items()}
    elif record.args:
        record.args = tuple(_redact_arg(a) for a in record.args)
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record.redacted = True
    return record


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    return redact(value)
