"""Deploy hooks: after an approved promotion is applied, a signed POST to each of the model's
`[[models.<name>.deploy]]` hooks whose `aliases` name the alias (issue 16).

Signed per Standard Webhooks (https://www.standardwebhooks.com): headers `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`.
The key is the value of the hook's `secret_env`: `whsec_<base64>` is decoded (the spec's form),
anything else is used as its UTF-8 bytes. The signing is written here (a few lines of hmac)
rather than taking the `standardwebhooks` package, which is not in the lock and would pull in
its own HTTP client for one function.

At most once per promotion: each (request, hook) is claimed in the database before it is sent
(bot.storage.deliveries, shared by every replica, kept across restarts), so a second process
or a repeated call never sends it again. 5xx, 429, timeouts and connection errors are retried
with exponential backoff under the same `webhook-id`, so a receiver that saw an attempt whose
answer was lost can drop the repeat. Each outcome is audited (`deploy_hook_delivered` /
`deploy_hook_failed`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot import audit
from bot.approvals.store import ids
from bot.clock import Clock
from bot.policy.file import DeployFormat, DeployHookConfig
from bot.storage.deliveries import first_delivery
from bot.storage.tables import PromotionRequest

log = logging.getLogger(__name__)
ATTEMPTS = 4
TIMEOUT = 10.0
EVENT = "mlops_bot.promotion_applied"  # `type` of the body, GitHub's `event_type`


@dataclass(frozen=True)
class HookResult:
    """What became of one hook: delivered, failed, or skipped (sent before)."""

    where: str  # scheme://host/path, never the query (it may carry a token)
    webhook_id: str
    ok: bool
    detail: str
    status: int | None = None
    attempts: int = 0
    skipped: bool = False


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret given as `whsec_<base64>` or raw text."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    return secret.encode()


def sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` header value: `v1,<base64 HMAC-SHA256>`."""
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def where(url: str) -> str:
    """The URL as shown in Slack and the audit: without query, fragment or credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}" + (
        parts.path or "/"
    )


def payload(req: PromotionRequest, audit_id: int, at: str) -> dict[str, Any]:
    """What the receiver learns: the model, version, alias, previous version, request and
    audit event (in Standard Webhooks' {type, timestamp, data} envelope)."""
    return {
        "type": EVENT,
        "timestamp": at,
        "data": {
            "model": req.model_name,
            "version": req.version,
            "alias": req.alias,
            "previous_version": req.previous_version,
            "request_id": req.id,
            "audit_id": audit_id,
            "requester": req.requester,
        },
    }


def body_for(hook: DeployHookConfig, event: dict[str, Any]) -> dict[str, Any]:
    """The body in the hook's format: ours, or GitHub's `repository_dispatch`."""
    if hook.format == DeployFormat.GITHUB_DISPATCH:
        return {"event_type": EVENT, "client_payload": event["data"]}
    return event


class DeployHooks:
    """Sends a model's deploy hooks for an applied request; every dependency passed in."""

    def __init__(
        self,
        engine: Any,
        clock: Clock,
        environ: Mapping[str, str],
        *,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = TIMEOUT,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.environ = environ
        self.backoff = backoff
        self.sleep = sleep
        self.timeout = timeout

    def run(
        self, hooks: tuple[DeployHookConfig, ...], req: PromotionRequest, audit_id: int
    ) -> list[HookResult]:
        """Send each hook of `req`'s alias once; the results, skipped ones included."""
        results = []
        for n, hook in enumerate(hooks):
            if req.alias not in hook.aliases:
                continue
            webhook_id = f"msg_{req.id}_{n}"
            if not first_delivery(self.engine, f"deploy-hook:{webhook_id}"):
                results.append(
                    HookResult(where(hook.url), webhook_id, True, "sent before", skipped=True)
                )
                continue
            result = self._deliver(hook, req, audit_id, webhook_id)
            action = "deploy_hook_delivered" if result.ok else "deploy_hook_failed"
            details = {
                "url": result.where,
                "webhook_id": webhook_id,
                "format": str(hook.format),
                "status": result.status,
                "attempts": result.attempts,
                "detail": result.detail,
                "promotion_audit_id": audit_id,
            }
            audit.record(self.engine, action, "system", **ids(req), details=details)
            log.info("deploy hook %s for %s: %s", result.where, req.id, result.detail)
            results.append(result)
        return results

    def _deliver(
        self, hook: DeployHookConfig, req: PromotionRequest, audit_id: int, webhook_id: str
    ) -> HookResult:
        shown = where(hook.url)
        secret = self.environ.get(hook.secret_env) or ""
        if not secret:
            return HookResult(shown, webhook_id, False, f"not sent: {hook.secret_env} is not set")
        try:
            key = signing_key(secret)
        except ValueError as exc:
            return HookResult(shown, webhook_id, False, f"not sent: {hook.secret_env}: {exc}")
        event = payload(req, audit_id, audit.fmt_at(self.clock.now()))
        body = json.dumps(body_for(hook, event), separators=(",", ":")).encode()
        last = HookResult(shown, webhook_id, False, "not sent")
        for attempt in range(1, ATTEMPTS + 1):
            ts = str(int(self.clock.now().timestamp()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "mlops-bot",
                "webhook-id": webhook_id,
                "webhook-timestamp": ts,
                "webhook-signature": sign(key, webhook_id, ts, body),
            }
            if hook.format == DeployFormat.GITHUB_DISPATCH:  # GitHub authenticates the token
                headers["Authorization"] = f"Bearer {secret}"
                headers["Accept"] = "application/vnd.github+json"
            try:
                resp = httpx.post(hook.url, content=body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                last = HookResult(
                    shown, webhook_id, False, f"{type(exc).__name__} reaching it", None, attempt
                )
            else:
                code = resp.status_code
                if code < 300:
                    return HookResult(shown, webhook_id, True, f"HTTP {code}", code, attempt)
                last = HookResult(shown, webhook_id, False, f"HTTP {code}", code, attempt)
                if code < 500 and code != 429:
                    return last  # a 4xx will not get better by retrying
            if attempt < ATTEMPTS:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        return last
