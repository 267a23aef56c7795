"""Slack's Web API on a loopback port for tests: a thin HTTP front over the project's one
Slack emulator (``handlers/slack_emulator``, which the local shell also runs in-process).

Point the real ``slack_sdk.WebClient`` at it with ``base_url=fake.api_url`` (or set
``SLACK_API_URL``). The emulator answers like Slack does: ``{"ok": false, "error": ...}`` for
API errors, ``invalid_blocks`` for Block Kit that breaks Slack's limits, the three-step
``files_upload_v2`` flow; this front adds what only tests need: every request recorded as a
:class:`Call`, failures (HTTP 429 with ``Retry-After``, 5xx, API errors) and slow answers on
demand, an upload URL and response URLs that point back at this server, and the workspace's
state to look at (see :meth:`FakeSlack.messages`).

As a fixture: ``with FakeSlack() as fake: yield fake`` (``tests/conftest.py`` provides
``fake_slack``). :func:`web_client` builds a ``WebClient`` with slack_sdk's rate-limit and
server-error retry handlers pointed at a fake.
"""

from __future__ import annotations

import contextlib
import copy
import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from handlers.slack_emulator.blocks_check import validate_blocks, validate_view
from handlers.slack_emulator.web_api import WebAPI, decode_json_fields
from handlers.slack_emulator.workspace import Team, Workspace

__all__ = ["Call", "FakeSlack", "validate_blocks", "validate_view", "web_client"]


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    path: str
    body: bytes
    at: float
    status: int
    response: dict[str, Any] | str | None = None  # what we answered (JSON object or text)

    @property
    def decoded(self) -> dict[str, Any]:
        """``params`` with JSON-encoded form fields (blocks, view, files, ...) decoded."""
        return decode_json_fields(self.params)

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        """The ``blocks`` parameter, decoded (``None`` when absent)."""
        value = self.decoded.get("blocks")
        return value if isinstance(value, list) else None

    @property
    def ok(self) -> bool:
        """Whether the fake answered this call successfully."""
        if self.status != 200:
            return False
        if isinstance(self.response, dict):
            return bool(self.response.get("ok"))
        return True

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def summary(self) -> str:
        """One line describing the call, for assertion messages."""
        error = self.response.get("error") if isinstance(self.response, dict) else None
        shown = {k: v for k, v in self.params.items() if k not in ("blocks", "view")}
        text = json.dumps(shown, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        return f"{self.method} -> {self.status}{f' {error}' if error else ''} {text}"


@dataclass
class _Failure:
    status: int
    retry_after: int
    error: str | None
    remaining: int


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- server


def _handler_class(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # idle keep-alive connections end by themselves

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            fake._serve(self)

        def do_GET(self) -> None:  # noqa: N802
            fake._serve(self)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        params.update(data)
    elif ctype == "multipart/form-data":
        raw = f"Content-Type: {content_type}\r\n\r\n".encode() + body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            params[str(name)] = data if part.get_filename() else data.decode("utf-8")
    else:  # application/x-www-form-urlencoded (Slack's default)
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


class FakeSlack:
    """The Slack emulator served on 127.0.0.1: Web API, upload URLs and response URLs."""

    token: str = "xoxb-test"

    def __init__(self) -> None:
        self.token = type(self).token
        team = Team("T0TEAM", "Example", "https://example.slack.com/", "A0APP", self.token)
        self.workspace = Workspace(team)
        self.api = WebAPI(self.workspace)
        # The workspace's state, for tests to set up (users, groups…) and look at.
        self.usergroups = self.workspace.usergroups
        self.users = self.workspace.users
        self.channel_members = self.workspace.channel_members
        self.channels = self.workspace.channels
        self.views = self.workspace.views  # view id -> view (modals and home tabs)
        self.home_views = self.workspace.home_views  # user id -> published home view
        self.files = self.workspace.files  # file id -> upload state
        self.ephemerals = self.workspace.ephemerals
        self.calls: list[Call] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, list[list[float]]] = {}  # method -> [[seconds, times left]]
        self._lock = self.workspace.lock
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread (no-op when running)."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self.workspace.upload_url = f"{self.base_url}/upload/"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-slack-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Web API base URL, for ``WebClient(base_url=...)`` / ``SLACK_API_URL``."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r") -> str:
        """A response_url whose JSON POSTs are recorded as ``Call(method="response_url")``."""
        return f"{self.base_url}/response/{name}"

    # ------------------------------------------------------------------ test helpers

    def reset(self) -> None:
        """Forget calls, messages, views, files and queued failures (keeps users/groups)."""
        with self._lock:
            self.calls.clear()
            self.workspace.reset()
            self._failures.clear()
            self._delays.clear()

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls to ``method`` (API method name, ``"upload"`` or ``"response_url"``)."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 30.0,
        count: int = 1,
    ) -> list[Call]:
        """Wait until ``count`` calls to ``method`` match ``predicate``; return the matches.

        Raises AssertionError listing every call seen when the deadline passes.
        """
        deadline = time.monotonic() + timeout
        while True:
            matches = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if len(matches) >= count:
                return matches
            if time.monotonic() >= deadline:
                with self._lock:
                    seen = [c.summary() for c in self.calls]
                listing = "\n  ".join(seen) if seen else "(none)"
                raise AssertionError(
                    f"timed out after {timeout:.1f}s waiting for {count} call(s) to {method} "
                    f"(matched {len(matches)}); calls seen:\n  {listing}"
                )
            time.sleep(0.02)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        429 answers carry ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``; 5xx answer
        ``{"ok": false, "error": "internal_error"}``; status 200 with ``error`` answers
        ``{"ok": false, "error": error}`` (a Slack API error such as ``channel_not_found``).
        """
        if status == 200 and not error:
            raise ValueError("fail_next with status 200 needs an error code")
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, int(retry_after), error, times)
            )

    def slow_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Do the next ``times`` calls to ``method`` but answer only after ``seconds``.

        Slack did the work (the message is posted, the call recorded); the answer is late, as
        when a client times out waiting for it.
        """
        with self._lock:
            self._delays.setdefault(method, []).append([float(seconds), float(times)])

    def _delay_for(self, method: str) -> float:
        with self._lock:
            queue = self._delays.get(method)
            if not queue:
                return 0.0
            seconds = queue[0][0]
            queue[0][1] -= 1
            if queue[0][1] <= 0:
                queue.pop(0)
            return seconds

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current messages (posted, updated, not deleted), oldest first, as copies."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self.workspace.messages.values()
                if channel is None or m["channel"] == channel
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One current message by channel and ts."""
        with self._lock:
            found = self.workspace.messages.get((channel, ts))
            return copy.deepcopy(found) if found else None

    # ------------------------------------------------------------------ request handling

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        at = time.monotonic()
        split = urlsplit(handler.path)
        body = _read_body(handler)
        headers = {k: v for k, v in handler.headers.items()}
        parts = split.path.strip("/").split("/", 1)
        prefix, rest = parts[0], parts[1] if len(parts) > 1 else ""

        params: dict[str, Any] = {}
        reply: _Reply | None = None
        if prefix == "api" and rest:
            method = rest
        elif prefix == "upload" and rest:
            method = "upload"
        elif prefix == "response" and rest:
            method = "response_url"
        else:
            method = split.path
            reply = _Reply(404, "not_found")

        if reply is None:
            reply = self._failure_for(method)
        if method == "upload":
            params = {"file_id": rest, "size": len(body)}
            with self._lock:
                info = self.files.get(rest)
            if info is not None:
                params["filename"] = info["filename"]
        else:
            try:
                params = _parse_params(_headers_get(headers, "Content-Type"), body, split.query)
            except (ValueError, UnicodeDecodeError):
                if reply is None:
                    reply = (
                        _Reply(400, "invalid_payload")
                        if method == "response_url"
                        else _Reply(200, {"ok": False, "error": "invalid_json"})
                    )

        if reply is None:
            try:
                if method == "upload":
                    reply = self._upload(rest, body)
                elif method == "response_url":
                    reply = _Reply(*self.api.post_to_response_url(rest, params))
                else:
                    reply = self._api(method, params, headers)
            except Exception as exc:  # a bug in the fake: answer (and record) it, don't hang
                reply = _Reply(500, {"ok": False, "error": f"fake_slack_bug: {exc!r}"})

        call = Call(
            method=method,
            params=params,
            headers=headers,
            path=split.path,
            body=body,
            at=at,
            status=reply.status,
            response=reply.payload,
        )
        with self._lock:
            self.calls.append(call)
        delay = self._delay_for(method)
        if delay:
            time.sleep(delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it gave up
                self._send(handler, reply)
            return
        self._send(handler, reply)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        if isinstance(reply.payload, dict):
            data = json.dumps(reply.payload).encode()
            ctype = "application/json; charset=utf-8"
        else:
            data = reply.payload.encode()
            ctype = "text/plain; charset=utf-8"
        handler.send_response(reply.status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    def _failure_for(self, method: str) -> _Reply | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
        if failure.status == 429:
            return _Reply(
                429,
                {"ok": False, "error": "ratelimited"},
                {"Retry-After": str(failure.retry_after)},
            )
        if failure.status >= 500:
            return _Reply(failure.status, {"ok": False, "error": failure.error or "internal_error"})
        return _Reply(failure.status, {"ok": False, "error": failure.error or "invalid_request"})

    def _api(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> _Reply:
        auth = _headers_get(headers, "Authorization")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        return _Reply(200, self.api.call(method, params, token), self.api.headers(token))

    def _upload(self, file_id: str, body: bytes) -> _Reply:
        if not self.workspace.receive_upload(file_id, body):
            return _Reply(404, "file_not_found")
        return _Reply(200, f"OK - {len(body)}")


def _headers_get(headers: dict[str, str], name: str) -> str:
    """Case-insensitive lookup in a plain header dict ('' when absent)."""
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def web_client(
    fake: FakeSlack, *, token: str | None = None, server_retry_wait: float = 0.05
) -> WebClient:
    """A real ``slack_sdk.WebClient`` for ``fake`` with rate-limit and 5xx retry handlers.

    The 5xx handler waits ``server_retry_wait`` seconds instead of slack_sdk's 0.5-1.5 s backoff;
    the 429 handler is slack_sdk's own (it sleeps ``Retry-After`` + up to 1 s of jitter).
    """
    return WebClient(
        token=token or fake.token,
        base_url=fake.api_url,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=1),
            ServerErrorRetryHandler(
                max_retry_count=1,
                interval_calculator=FixedValueRetryIntervalCalculator(server_retry_wait),
            ),
        ],
    )
