"""The retraining trigger: a signed JSON POST to a monitor's `retrain_url` (SPEC §3).

Signature: `X-Mlops-Bot-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">` with
MLOPS_BOT_OUTBOUND_SECRET, and `X-Mlops-Bot-Timestamp: <unix seconds>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

ATTEMPTS = 3
TIMEOUT = 10.0


@dataclass(frozen=True)
class RetrainResult:
    ok: bool
    status: int | None
    detail: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def trigger(url: str, payload: dict[str, Any], secret: str, backoff: float = 1.0) -> RetrainResult:
    """POST the signed payload; retry connection errors and 5xx (bounded); never raises.
    Without a secret nothing is sent: the receiver could not tell the bot from anyone."""
    if not secret:
        return RetrainResult(False, None, "not sent: MLOPS_BOT_OUTBOUND_SECRET is not set")
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    last = RetrainResult(False, None, "not sent")
    for attempt in range(ATTEMPTS):
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Mlops-Bot-Timestamp": ts,
            "User-Agent": "mlops-bot",
            "X-Mlops-Bot-Signature": sign(secret, ts, body),
        }
        try:
            resp = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            last = RetrainResult(False, None, f"{type(exc).__name__} reaching the retrain URL")
        else:
            if resp.status_code < 300:
                return RetrainResult(True, resp.status_code, "accepted")
            last = RetrainResult(False, resp.status_code, f"HTTP {resp.status_code}")
            if resp.status_code < 500:
                return last  # a 4xx will not get better by retrying
        if attempt + 1 < ATTEMPTS:
            time.sleep(backoff * (2**attempt))
    return last
