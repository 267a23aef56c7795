"""`POST /api/v1/promotions` and `GET /api/v1/promotions/{id}`: pipelines ask for a promotion
and poll its outcome (issue 16).

A request opened here is the one `/mlops promote` opens: the same service call and the same
card, posted by the same function (handlers.approvals.messages.open_request) in the
pipeline's channel, with `pipeline:<name>` as the requester. Every answer is JSON; errors are
`{"error": "<one line>"}` (422 adds the `field`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import anyio
from slack_sdk import WebClient
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.approvals.outcomes import ApprovalError, OutcomeKind
from bot.failures import explain
from bot.pipelines import (
    BodyError,
    Pipeline,
    PromotionBody,
    TokenBuckets,
    authenticate,
    parse_body,
    request_view,
)
from bot.registry.gateway import NotFoundError, RegistryUnavailableError
from handlers.approvals.messages import open_request
from handlers.context import Services
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)
MAX_API_BODY = 16 << 10  # four short strings
_REQUEST_ID = re.compile(r"^[0-9a-f]{12}$")
# Per token (and, for bad tokens, per client address): a burst of 30, then one a second.
BURST, PER_SECOND = 30.0, 1.0


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def api_routes(
    client: WebClient,
    services: Services,
    limiter: anyio.CapacityLimiter,
    buckets: TokenBuckets | None = None,
) -> list[Route]:
    """The API's routes, over the process's services and Slack client."""
    rt = services.rt
    svc = services.approvals
    buckets = buckets or TokenBuckets(BURST, PER_SECOND)

    async def authorised(request: Request) -> Pipeline | JSONResponse:
        """The calling pipeline, or the answer to send: 401 (audited) or 429."""
        pipeline = authenticate(rt.policy, request.headers.get("authorization"))
        address = request.client.host if request.client else "unknown"
        key = f"pipeline:{pipeline.name}" if pipeline else f"address:{address}"
        if not buckets.take(key):
            return _error(429, "too many requests; slow down", retry_after_seconds=1)
        if pipeline is None:
            fields = {"path": request.url.path[:200], "client": address}
            await anyio.to_thread.run_sync(_record_refusal, fields, limiter=limiter)
            return JSONResponse(
                {"error": "missing or unknown bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return pipeline

    def _record_refusal(fields: dict[str, str]) -> None:
        try:
            svc.store.record("api_token_refused", "api", details=fields)
        except Exception as exc:  # the 401 stands; the log says why it is not in the audit
            log.warning("could not audit a refused API token: %s", explain(exc, "audit"))

    async def create(request: Request) -> JSONResponse:
        who = await authorised(request)
        if isinstance(who, JSONResponse):
            return who
        if "json" not in (request.headers.get("content-type") or "json"):
            return _error(415, "send the body as application/json")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_API_BODY:
                return _error(413, "body too large")
        try:
            body = parse_body(raw)
        except BodyError as exc:
            return _error(422, str(exc), field=exc.field)
        refused = who.refusal(body.model, body.alias)
        if refused is not None:
            return _error(403, refused)
        base = str(request.base_url).rstrip("/")
        return await anyio.to_thread.run_sync(_open, who, body, base, limiter=limiter)

    def _open(who: Pipeline, body: PromotionBody, base: str) -> JSONResponse:
        try:
            outcome = open_request(
                client,
                svc,
                body.model,
                body.version,
                body.alias,
                who.actor,
                body.reason,
                who.config.channel,
            )
        except NotFoundError as exc:
            return _error(404, explain(exc))
        except ApprovalError as exc:
            return _error(409, explain(exc))
        except RegistryUnavailableError as exc:
            return _error(503, explain(exc))
        except Exception as exc:  # the database down or locked: nothing was recorded
            return _error(503, explain(exc, "POST /api/v1/promotions"))
        req = outcome.request
        if outcome.kind == OutcomeKind.APPLIED_NOW or req is None:
            return JSONResponse(
                {"id": None, "state": "applied", "url": None, "outcome": outcome.message}
            )
        status_url = f"{base}/api/v1/promotions/{req.id}"
        answer = {"id": req.id, "state": "pending", "url": _permalink(req.id) or status_url}
        if outcome.kind == OutcomeKind.UNPOSTED:
            answer["warning"] = outcome.message
        return JSONResponse({**answer, "status_url": status_url}, status_code=201)

    def _permalink(request_id: str) -> str | None:
        """The card's link in Slack (None when Slack does not give one)."""
        req, _ = svc.get(request_id)
        if req is None or not req.channel or not req.message_ts:
            return None
        try:
            resp = client.chat_getPermalink(channel=req.channel, message_ts=req.message_ts)
        except SLACK_FAILURES as exc:
            log.warning("no permalink for the card of %s: %s", request_id, slack_error(exc))
            return None
        link = resp.get("permalink")
        return str(link) if link else None

    async def show(request: Request) -> JSONResponse:
        who = await authorised(request)
        if isinstance(who, JSONResponse):
            return who
        request_id = request.path_params["id"]
        if not _REQUEST_ID.match(request_id):
            return _error(404, "no such request")
        try:
            req, votes = await anyio.to_thread.run_sync(svc.get, request_id, limiter=limiter)
        except Exception as exc:
            return _error(503, explain(exc, "GET /api/v1/promotions"))
        # A pipeline sees the requests of its own models only (others' are not its business).
        if req is None or req.model_name not in who.config.models:
            return _error(404, "no such request")
        return JSONResponse(request_view(req, votes))

    return [
        Route("/api/v1/promotions", create, methods=["POST"]),
        Route("/api/v1/promotions/{id}", show, methods=["GET"]),
    ]
