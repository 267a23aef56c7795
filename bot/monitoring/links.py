"""Signed, expiring links to report pages: `<public URL>/reports/<id>?expires=<unix>&sig=<hex>`.

`sig` is HMAC-SHA256 over `"<id>.<expires>"` under MLOPS_BOT_REPORT_LINK_SECRET, or under a key
derived from SLACK_SIGNING_SECRET when that is unset, so a link can neither be guessed nor
stretched past its expiry. The signature is checked before the expiry: an unsigned request
learns nothing, not even whether the report exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode

from bot.config import Settings, secret

_DERIVE = b"mlops-bot report page links"
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIG = re.compile(r"[0-9a-fA-F]{64}")


class LinkCheck(StrEnum):
    """What a request's `expires` and `sig` say about it."""

    VALID = "valid"
    BAD = "bad"  # missing, malformed or wrong signature
    EXPIRED = "expired"  # signed by us, past its expiry


def link_key(settings: Settings) -> bytes | None:
    """The links' HMAC key, or None when neither secret is set (no links then)."""
    explicit = secret(settings.mlops_bot_report_link_secret)
    if explicit is not None:
        return explicit.encode()
    signing = secret(settings.slack_signing_secret)
    if signing is None:
        return None
    # a key of its own, so a link's signature says nothing about the Slack signing secret
    return hmac.new(signing.encode(), _DERIVE, hashlib.sha256).digest()


def signature(key: bytes, record_id: str, expires: int) -> str:
    return hmac.new(key, f"{record_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def page_link(settings: Settings, record_id: str, now: datetime) -> tuple[str, datetime] | None:
    """The page's URL and its expiry, or None without MLOPS_BOT_PUBLIC_URL or a key."""
    key = link_key(settings)
    if settings.mlops_bot_public_url is None or key is None:
        return None
    until = now + timedelta(hours=settings.mlops_bot_report_link_ttl_hours)
    expires = int(until.timestamp())
    query = urlencode({"expires": expires, "sig": signature(key, record_id, expires)})
    return f"{settings.mlops_bot_public_url}/reports/{quote(record_id)}?{query}", until


def check_link(key: bytes, record_id: str, expires: str, sig: str, now: datetime) -> LinkCheck:
    """VALID, BAD (a wrong or missing signature) or EXPIRED (ours, but too old)."""
    if not _EXPIRES.fullmatch(expires) or not _SIG.fullmatch(sig):
        return LinkCheck.BAD
    if not hmac.compare_digest(signature(key, record_id, int(expires)), sig.lower()):
        return LinkCheck.BAD
    if int(expires) <= now.timestamp():
        return LinkCheck.EXPIRED
    return LinkCheck.VALID
