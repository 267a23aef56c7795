"""`GET /reports/<id>?expires=…&sig=…`: a posted report's page, read-only, behind a signed,
expiring link (bot/monitoring/links.py). A refused or failed request gets a plain page with
one sentence and its status, never a stack trace."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.monitoring import links
from bot.monitoring.page import content_security_policy, error_page
from bot.monitoring.pages import PageError, stored_page
from bot.runtime import Runtime

log = logging.getLogger(__name__)
# the link's signature is in its URL: no referrer, no caching by shared caches, no framing
_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex",
}


def _plain(status: int, message: str) -> Response:
    headers = {**_HEADERS, "Content-Security-Policy": "default-src 'none'"}
    return HTMLResponse(error_page(status, message), status_code=status, headers=headers)


def report_page_route(rt: Runtime, limiter: anyio.CapacityLimiter) -> Route:
    """The route of report pages, reading `rt`'s database on a worker thread."""

    async def report_page(request: Request) -> Response:
        record_id = request.path_params["record_id"]
        key = links.link_key(rt.settings)
        if key is None:
            return _plain(404, "Report pages are not enabled on this bot.")
        query = request.query_params
        state = links.check_link(
            key, record_id, query.get("expires", ""), query.get("sig", ""), rt.clock.now()
        )
        if state is links.LinkCheck.BAD:
            return _plain(403, "This link is not valid. Use the link in the report's message.")
        if state is links.LinkCheck.EXPIRED:
            return _plain(410, "This link has expired. Run the report again for a new one.")
        try:
            html = await anyio.to_thread.run_sync(
                stored_page, rt.engine, record_id, limiter=limiter
            )
        except SQLAlchemyError as exc:
            log.warning("report page %s: database error %s", record_id, type(exc).__name__)
            return _plain(503, "The bot's database is unavailable. Try again in a minute.")
        except PageError as exc:
            log.warning("report page: %s", exc)
            return _plain(500, "This report cannot be shown.")
        if html is None:
            return _plain(404, "This report no longer exists.")
        headers = {**_HEADERS, "Content-Security-Policy": content_security_policy()}
        return HTMLResponse(html, headers=headers)

    return Route("/reports/{record_id}", report_page, methods=["GET"])
