"""`mlops-bot request promote <model> <version> <alias> --reason … [--wait]`: the pipeline
client of the bot's HTTP API (a CI step that waits on a decision).

Exit status: 0 applied (or opened, without --wait), 1 rejected, expired or failed (not
applied), 2 an error (bad input, refused token, the bot unreachable), 124 --timeout reached
(as timeout(1) does).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # httpx (~0.15 s) is imported by the request commands only, not every CLI start
    import httpx

request_cli = typer.Typer(
    help="Ask the bot for things over its HTTP API (for CI pipelines).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

APPLIED, NOT_APPLIED, ERROR, TIMED_OUT = 0, 1, 2, 124
_FINAL = {
    "applied": APPLIED,
    "rejected": NOT_APPLIED,
    "expired": NOT_APPLIED,
    "failed": NOT_APPLIED,
}
# `2h`, `30m`, `90s`, `1h30m`, `1d`, or plain seconds. Written here: the lock has no duration
# parser, and this is one regular expression.
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> float:
    """Seconds in `text` (`2h`, `45m`, `1h30m`, `600`); ValueError naming the problem."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration like 2h, 30m, 90s or 1h30m")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _say(message: str) -> None:
    typer.echo(f"mlops-bot: {message}", err=True)


def _answer(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"error": f"HTTP {resp.status_code} (not JSON)"}


class _Client:
    """The API over httpx, with the pipeline's token."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "mlops-bot-request"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        resp = self.http.request(method, path, **kwargs)
        return resp.status_code, _answer(resp)


def _settings() -> tuple[str, str]:
    from bot.cli.common import fail
    from bot.config import Settings, secret

    try:
        settings = Settings()
    except Exception as exc:
        fail(f"invalid configuration: {str(exc).splitlines()[0][:200]}", ERROR)
    url, token = settings.mlops_bot_url, secret(settings.mlops_bot_api_token)
    if not url or not url.startswith(("http://", "https://")):
        fail("set MLOPS_BOT_URL to the bot's http(s) base URL", ERROR)
    if not token:
        fail("set MLOPS_BOT_API_TOKEN to the pipeline's token", ERROR)
    return url, token


@request_cli.command("promote")
def promote(
    model: str = typer.Argument(..., help="registered model name"),
    version: str = typer.Argument(..., help="version number (3 or v3)"),
    alias: str = typer.Argument(..., help="alias to move (champion or @champion)"),
    reason: str = typer.Option(..., "--reason", help="why: shown on the card and audited"),
    wait: bool = typer.Option(False, "--wait", help="Wait for the decision (exit 0 applied)."),
    timeout: str = typer.Option("2h", "--timeout", help="With --wait: give up after (2h, 30m…)."),
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between polls."),
) -> None:
    """Open a promotion request (the card is posted in the pipeline's channel); print its link."""
    from bot.cli.common import fail

    try:
        limit = parse_duration(timeout)
    except ValueError as exc:
        fail(f"--timeout: {exc}", ERROR)
    import httpx

    url, token = _settings()
    client = _Client(url, token)
    body = {"model": model, "version": version, "alias": alias, "reason": reason}
    try:
        status, answer = client.call("POST", "/api/v1/promotions", json=body)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the bot at {url}: {type(exc).__name__}", ERROR)
    if status not in (200, 201):
        fail(f"request refused (HTTP {status}): {answer.get('error', answer)}", ERROR)
    if answer.get("id") is None:  # an unprotected alias, set at once
        typer.echo(str(answer.get("outcome") or "applied"))
        raise typer.Exit(APPLIED)
    request_id = str(answer["id"])
    typer.echo(f"request {request_id}: {answer.get('url')}")
    if answer.get("warning"):
        _say(str(answer["warning"]))
    if not wait:
        raise typer.Exit(APPLIED)
    raise typer.Exit(_wait(client, request_id, limit, interval))


@request_cli.command("wait")
def wait_for(
    request_id: str = typer.Argument(..., help="the id `request promote` printed"),
    timeout: str = typer.Option("2h", "--timeout", help="Give up after (2h, 30m…)."),
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between polls."),
) -> None:
    """Wait for a request opened earlier (another CI step); exit status as `promote --wait`."""
    from bot.cli.common import fail

    try:
        limit = parse_duration(timeout)
    except ValueError as exc:
        fail(f"--timeout: {exc}", ERROR)
    url, token = _settings()
    raise typer.Exit(_wait(_Client(url, token), request_id.strip(), limit, interval, False))


def _wait(
    client: _Client, request_id: str, limit: float, interval: float, reached: bool = True
) -> int:
    """Poll the request until it is decided; the exit status. Once the bot has answered
    (`reached`), a bot that stops answering (a restart) is waited for until the deadline."""
    import httpx

    deadline = time.monotonic() + limit
    last_state = "pending"
    while True:
        delay = interval
        try:
            status, answer = client.call("GET", f"/api/v1/promotions/{request_id}")
        except httpx.HTTPError as exc:
            if not reached:
                _say(f"cannot reach the bot: {type(exc).__name__}")
                return ERROR
            _say(f"the bot did not answer ({type(exc).__name__}); still waiting")
        else:
            reached = True
            if status == 200:
                state = str(answer.get("state"))
                if state != last_state:
                    _say(f"request {request_id} is {state}")
                    last_state = state
                if state in _FINAL:
                    typer.echo(f"{state}: {answer.get('outcome') or ''}".rstrip(": "))
                    return _FINAL[state]
            elif status == 429:
                delay = max(interval, float(answer.get("retry_after_seconds") or 6))
            elif status >= 500:
                _say(f"the bot answered HTTP {status}; still waiting")
            else:
                _say(f"cannot follow request {request_id} (HTTP {status}): {answer.get('error')}")
                return ERROR
        left = deadline - time.monotonic()
        if left <= 0:
            _say(f"request {request_id} still {last_state} after the timeout")
            return TIMED_OUT
        time.sleep(min(delay, left))  # the last poll comes at the deadline
