"""HTTP mode: Starlette + uvicorn in front of the sync Bolt app.

Bolt's own Starlette adapter calls `app.dispatch` on the event loop, which serialises every
request behind the slowest listener. Here each dispatch runs in a worker thread
(`anyio.to_thread`), so the loop keeps accepting and acking while listeners wait on MLflow,
the database or Slack; listeners ack first and hand the slow part to the after-ack pool
(handlers.later).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

import anyio
from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.request.internals import build_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.registry import events as registry_events
from bot.storage.deliveries import first_delivery
from handlers.api.promotions import api_routes
from handlers.context import Services
from handlers.metrics import register_probes
from handlers.notices.posting import post_notice
from handlers.transport.pages import report_page_route

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # Slack payloads are a few kB; refuse anything over 1 MiB
MAX_WEBHOOK_BODY = 256 << 10
_THREADS = 64


class BodyTooLargeError(Exception):
    pass


class MalformedBodyError(Exception):
    pass


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """Parse a Slack request body.

    Written here because Bolt's `parse_body` treats any form body containing the substring
    "payload" (say, `/mlops show payload`) as an interaction and drops the command, and raises
    on broken `payload=` JSON.
    """
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise MalformedBodyError("body is not valid JSON") from None
    else:
        params = dict(parse_qsl(text, keep_blank_values=True))
        if set(params) != {"payload"}:
            return params
        try:
            parsed = json.loads(params["payload"])
        except ValueError:
            raise MalformedBodyError("payload is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedBodyError("body is not a JSON object")
    _check_interaction(parsed)
    return parsed


def _check_interaction(payload: dict[str, Any]) -> None:
    """The fields Bolt indexes without checking; Slack always sends them, forgers may not."""
    kind = payload.get("type")
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            raise MalformedBodyError("view payload without a view type")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            raise MalformedBodyError("block_actions payload without actions")
    if kind in ("view_submission", "view_closed", "block_actions"):
        user = payload.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise MalformedBodyError("interaction payload without a user")


def to_bolt_request(request: Request, text: str) -> BoltRequest:
    """A BoltRequest whose body was parsed by `parse_slack_body` (raw body kept for signing)."""
    bolt_req = BoltRequest(body="", query=str(request.query_params), headers=dict(request.headers))
    bolt_req.raw_body = text
    bolt_req.body = parse_slack_body(text, bolt_req.content_type)
    bolt_req.context = build_context(BoltContext(), bolt_req.body)
    return bolt_req


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def create_asgi(app: App, services: Services) -> Starlette:
    """The ASGI app: `POST /slack/events`, `GET /healthz`, `GET /metrics`,
    `POST /mlflow/webhook`, the pipelines' API (`/api/v1/promotions`) and `GET /reports/<id>`
    (signed report page links)."""
    rt = services.rt
    limiter = anyio.CapacityLimiter(_THREADS)
    register_probes(services)

    async def slack_events(request: Request) -> Response:
        try:
            body = await read_body(request)
            bolt_req = to_bolt_request(request, body.decode("utf-8"))
        except BodyTooLargeError:
            return PlainTextResponse("payload too large", status_code=413)
        except UnicodeDecodeError:
            return PlainTextResponse("body is not UTF-8", status_code=400)
        except MalformedBodyError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        bolt_resp = await anyio.to_thread.run_sync(app.dispatch, bolt_req, limiter=limiter)
        return to_starlette_response(bolt_resp)

    async def healthz(request: Request) -> Response:
        """`ok` or `unavailable` per part and nothing else: the endpoint is unauthenticated,
        and a failure's text can name hosts and paths (`/mlops status` shows it, redacted)."""
        items = await anyio.to_thread.run_sync(services.health.check, limiter=limiter)
        state = {i.name: i.ok for i in items}
        ok = state.get("database", False) and state.get("mlflow", False)

        def word(up: bool) -> str:
            return "ok" if up else "unavailable"

        body = {
            "status": word(ok),
            "db": word(state.get("database", False)),
            "mlflow": word(state.get("mlflow", False)),
            "scheduler": word(state.get("scheduler", False)),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_page(request: Request) -> Response:
        """Prometheus text format; unauthenticated like /healthz (counts and timings only)."""
        body = await anyio.to_thread.run_sync(metrics.render, limiter=limiter)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    async def mlflow_webhook(request: Request) -> Response:
        if rt.settings.mlflow_webhook_secret is None:
            log.warning("MLflow webhook received but MLFLOW_WEBHOOK_SECRET is not set")
            metrics.WEBHOOKS.labels("disabled").inc()
            return JSONResponse({"error": "MLflow webhooks are not configured"}, status_code=503)
        try:
            body = await read_body(request, MAX_WEBHOOK_BODY)
        except BodyTooLargeError:
            metrics.WEBHOOKS.labels("invalid").inc()
            return JSONResponse({"error": "payload too large"}, status_code=413)
        h = request.headers
        try:
            registry_events.verify_signature(
                rt.settings.mlflow_webhook_secret.get_secret_value(),
                h.get("x-mlflow-delivery-id", ""),
                h.get("x-mlflow-timestamp", ""),
                body,
                h.get("x-mlflow-signature", ""),
            )
        except registry_events.SignatureError as exc:
            log.warning("MLflow webhook refused: %s", exc)
            metrics.WEBHOOKS.labels("refused").inc()
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            payload = registry_events.parse_payload(body)
        except ValueError:
            metrics.WEBHOOKS.labels("invalid").inc()
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        delivery = h["x-mlflow-delivery-id"]
        outcome = await anyio.to_thread.run_sync(
            _handle_webhook, delivery, payload, limiter=limiter
        )
        metrics.WEBHOOKS.labels(outcome).inc()
        return JSONResponse({"status": outcome})

    def _handle_webhook(delivery: str, payload: dict[str, Any]) -> str:
        if not first_delivery(rt.engine, delivery):
            return "duplicate"
        try:
            notices = registry_events.handle_event(rt, payload)
        except Exception:  # MLflow down, odd payload: acknowledged, reconciliation catches up
            log.exception("MLflow webhook %s could not be handled", delivery)
            return "error"
        for notice in notices:
            post_notice(app.client, rt, notice)
        return "ok"

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            Route("/mlflow/webhook", mlflow_webhook, methods=["POST"]),
            *api_routes(app.client, services, limiter),
            report_page_route(rt, limiter),
        ]
    )


def serve_http(app: App, services: Services, host: str, port: int) -> None:
    """Run uvicorn until SIGTERM/SIGINT; in-flight requests finish (graceful shutdown)."""
    import signal
    import sys

    import uvicorn

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the previous
    # handler in place; this handler turns that into a clean exit status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        create_asgi(app, services),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=15,
        # Longer than a load balancer's idle timeout (AWS ALB: 60 s), so the balancer, not the
        # bot, closes idle connections: otherwise a request can race the bot's close.
        timeout_keep_alive=75,
    )
