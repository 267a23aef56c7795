"""The Slack Web API client: retries, and what counts as a failed call."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config import Settings, secret

# A call that failed for good: an API error, or the network (a timeout, a reset) after retries.
SLACK_FAILURES = (SlackApiError, OSError)


def slack_error(exc: BaseException) -> str:
    """Slack's error code, or the kind of network failure."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__


class IdempotentTimeoutRetryHandler(RetryHandler):
    """Retry a call that timed out, but only one that is safe to repeat.

    slack_sdk's handlers retry connection errors, 429 and 5xx, never a read timeout, because
    Slack may have done the work before the answer was lost. Setting a card's or a Home tab's
    content twice is harmless, so those are retried; posting twice is not, so a timed-out
    chat.postMessage is not retried (the message most likely arrived).
    """

    IDEMPOTENT = frozenset(
        {"chat.update", "views.publish", "views.update", "usergroups.users.list", "auth.test"}
    )

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
        **_: Any,
    ) -> bool:
        method = request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return isinstance(error, TimeoutError) and method in self.IDEMPOTENT


def make_client(settings: Settings) -> WebClient:
    """Web API client on SLACK_API_URL with retries for connection errors, 429, 5xx and
    timeouts of calls that are safe to repeat."""
    return WebClient(
        token=secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        timeout=settings.mlops_bot_slack_timeout_seconds,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),  # honours Retry-After
            ServerErrorRetryHandler(max_retry_count=2),
            IdempotentTimeoutRetryHandler(max_retry_count=2),
        ],
    )
