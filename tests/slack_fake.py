"""A loopback fake of Slack's Web API for tests (standard library only).

Point the real ``slack_sdk.WebClient`` at it with ``base_url=fake.api_url`` (or set
``SLACK_API_URL``). It answers like Slack does: HTTP 200 with ``{"ok": false, "error": ...}`` for
API errors, HTTP 429 with ``Retry-After`` when rate limited, ``invalid_blocks`` for Block Kit that
breaks Slack's limits, and the three-step ``files_upload_v2`` flow with an upload URL that points
back at this server. Every request is recorded as a :class:`Call`; posted messages are kept as
state (see :meth:`FakeSlack.messages`).

As a fixture: ``with FakeSlack() as fake: yield fake`` (``tests/conftest.py`` provides
``fake_slack``). :func:`web_client` builds a ``WebClient`` with slack_sdk's rate-limit and
server-error retry handlers pointed at a fake.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import re
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

__all__ = ["Call", "FakeSlack", "validate_blocks", "validate_view", "web_client"]

BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
TEAM_ID = "T0TEAM"
APP_ID = "A0APP"

# Parameters that Slack accepts as JSON-encoded strings in form-encoded requests.
JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")

MAX_TEXT = 40_000
RESPONSE_URL_MAX_USES = 5  # Slack: "up to 5 times within 30 minutes"


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
        return _decode_json_fields(self.params)

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


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.payload: dict[str, Any] = {"ok": False, "error": error, **extra}


def _decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for key in JSON_FIELDS:
        value = out.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


# --------------------------------------------------------------------------- Block Kit checks

KNOWN_BLOCKS = {
    "section",
    "header",
    "context",
    "actions",
    "divider",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
}
KNOWN_ELEMENTS = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "external_select",
    "file_input",
    "image",
    "multi_channels_select",
    "multi_conversations_select",
    "multi_external_select",
    "multi_static_select",
    "multi_users_select",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "static_select",
    "channels_select",
    "conversations_select",
    "users_select",
    "timepicker",
    "url_text_input",
    "workflow_button",
}


class _Checker:
    """Collects Slack-style error strings: ``<problem> [json-pointer:/path]``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, msg: str, ptr: str) -> None:
        self.errors.append(f"{msg} [json-pointer:{ptr}]")

    def max_len(self, value: Any, limit: int, ptr: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", ptr)

    def ident(self, obj: dict[str, Any], key: str, ptr: str) -> None:
        if key in obj:
            if not isinstance(obj[key], str) or not obj[key]:
                self.err("must be a non-empty string", f"{ptr}/{key}")
            else:
                self.max_len(obj[key], 255, f"{ptr}/{key}")

    def text(
        self,
        obj: Any,
        ptr: str,
        limit: int,
        *,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.err("missing required field: text", ptr)
            return
        if not isinstance(obj, dict):
            self.err("must be a text object", ptr)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.err(f"must be one of {', '.join(allowed)}", f"{ptr}/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.err("missing required field: text", f"{ptr}/text")
        elif not value:
            self.err("must be more than 0 characters", f"{ptr}/text")
        else:
            self.max_len(value, limit, f"{ptr}/text")

    def confirm(self, obj: Any, ptr: str) -> None:
        if not isinstance(obj, dict):
            self.err("must be a confirmation dialog object", ptr)
            return
        self.text(obj.get("title"), f"{ptr}/title", 100, plain_only=True)
        self.text(obj.get("text"), f"{ptr}/text", 300)
        self.text(obj.get("confirm"), f"{ptr}/confirm", 30, plain_only=True)
        self.text(obj.get("deny"), f"{ptr}/deny", 30, plain_only=True)

    def options(self, opts: Any, ptr: str, limit: int, *, minimum: int = 1) -> None:
        if not isinstance(opts, list):
            self.err("must be an array", ptr)
            return
        if len(opts) < minimum:
            self.err(f"must provide at least {minimum} items", ptr)
        if len(opts) > limit:
            self.err(f"no more than {limit} items allowed", ptr)
        for i, opt in enumerate(opts):
            p = f"{ptr}/{i}"
            if not isinstance(opt, dict):
                self.err("must be an option object", p)
                continue
            self.text(opt.get("text"), f"{p}/text", 75)
            if "value" in opt:
                self.max_len(opt["value"], 150, f"{p}/value")

    def element(self, el: Any, ptr: str) -> None:
        if not isinstance(el, dict):
            self.err("must be an element object", ptr)
            return
        kind = el.get("type")
        if kind not in KNOWN_ELEMENTS:
            self.err(f"unsupported element type: {kind!r}", f"{ptr}/type")
            return
        self.ident(el, "action_id", ptr)
        if "placeholder" in el:
            self.text(el["placeholder"], f"{ptr}/placeholder", 150, plain_only=True)
        if "confirm" in el:
            self.confirm(el["confirm"], f"{ptr}/confirm")
        if kind == "button":
            self.text(el.get("text"), f"{ptr}/text", 75, plain_only=True)
            self.max_len(el.get("value"), 2000, f"{ptr}/value")
            self.max_len(el.get("url"), 3000, f"{ptr}/url")
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be one of primary, danger", f"{ptr}/style")
        elif kind == "image":
            if not el.get("image_url") and not el.get("slack_file"):
                self.err("must provide either image_url or slack_file", ptr)
            if not el.get("alt_text"):
                self.err("missing required field: alt_text", f"{ptr}/alt_text")
        elif kind in ("static_select", "multi_static_select"):
            if "options" in el:
                self.options(el["options"], f"{ptr}/options", 100)
            elif "option_groups" not in el:
                self.err("must provide either options or option_groups", ptr)
        elif kind == "overflow":
            self.options(el.get("options"), f"{ptr}/options", 5)
        elif kind in ("checkboxes", "radio_buttons"):
            self.options(el.get("options"), f"{ptr}/options", 10)
        elif kind == "plain_text_input":
            max_length = el.get("max_length")
            if isinstance(max_length, int) and max_length > 3000:
                self.err("must be less than 3001", f"{ptr}/max_length")

    def block(self, block: Any, ptr: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.err("must be a block object", ptr)
            return
        kind = block.get("type")
        if not kind:
            self.err("missing required field: type", ptr)
            return
        if kind not in KNOWN_BLOCKS:
            self.err(f"unsupported type: {kind!r}", f"{ptr}/type")
            return
        self.ident(block, "block_id", ptr)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                self.err(f"duplicate block_id: {block_id}", f"{ptr}/block_id")
            block_ids.add(block_id)
        if kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                self.err("must provide either text or fields", ptr)
            if "text" in block:
                self.text(block["text"], f"{ptr}/text", 3000)
            if fields is not None:
                if not isinstance(fields, list):
                    self.err("must be an array", f"{ptr}/fields")
                else:
                    if len(fields) > 10:
                        self.err("no more than 10 items allowed", f"{ptr}/fields")
                    for i, f in enumerate(fields):
                        self.text(f, f"{ptr}/fields/{i}", 2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{ptr}/accessory")
        elif kind == "header":
            self.text(block.get("text"), f"{ptr}/text", 150, plain_only=True)
        elif kind in ("context", "actions"):
            elements = block.get("elements")
            limit = 10 if kind == "context" else 25
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > limit:
                self.err(f"no more than {limit} items allowed", f"{ptr}/elements")
            action_ids: set[str] = set()
            for i, el in enumerate(elements):
                p = f"{ptr}/elements/{i}"
                if kind == "context":
                    if isinstance(el, dict) and el.get("type") == "image":
                        self.element(el, p)
                    else:
                        self.text(el, p, 3000)
                    continue
                self.element(el, p)
                action_id = el.get("action_id") if isinstance(el, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        self.err(f"duplicate action_id: {action_id}", f"{p}/action_id")
                    action_ids.add(action_id)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.err("must provide either image_url or slack_file", ptr)
            self.max_len(block.get("image_url"), 3000, f"{ptr}/image_url")
            alt = block.get("alt_text")
            if not alt:
                self.err("missing required field: alt_text", f"{ptr}/alt_text")
            self.max_len(alt, 2000, f"{ptr}/alt_text")
            if "title" in block:
                self.text(block["title"], f"{ptr}/title", 2000, plain_only=True)
        elif kind == "input":
            self.text(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], f"{ptr}/hint", 2000, plain_only=True)
            if "element" not in block:
                self.err("missing required field: element", ptr)
            else:
                self.element(block["element"], f"{ptr}/element")
        elif kind == "rich_text":
            if not isinstance(block.get("elements"), list):
                self.err("missing required field: elements", f"{ptr}/elements")
        elif kind == "video":
            for key in ("alt_text", "thumbnail_url", "video_url"):
                if not block.get(key):
                    self.err(f"missing required field: {key}", f"{ptr}/{key}")
            self.text(block.get("title"), f"{ptr}/title", 200, plain_only=True)
        elif kind == "file" and not block.get("external_id"):
            self.err("missing required field: external_id", f"{ptr}/external_id")

    def blocks(self, blocks: Any, ptr: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.err("must be an array", ptr)
            return
        if len(blocks) > limit:
            self.err(f"no more than {limit} items allowed", ptr)
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{ptr}/{i}", block_ids)


def validate_blocks(blocks: Any, *, limit: int = 50, pointer: str = "/blocks") -> list[str]:
    """Check message blocks against Slack's Block Kit limits; returns Slack-style error strings."""
    checker = _Checker()
    checker.blocks(blocks, pointer, limit)
    return checker.errors


def validate_view(view: Any, *, kinds: tuple[str, ...] = ("modal", "home")) -> list[str]:
    """Check a modal or App Home view; returns Slack-style error strings (empty when valid)."""
    c = _Checker()
    ptr = "/view"
    if not isinstance(view, dict):
        c.err("must be a view object", ptr)
        return c.errors
    kind = view.get("type")
    if kind not in kinds:
        c.err(f"must be one of {', '.join(kinds)}", f"{ptr}/type")
        return c.errors
    c.blocks(view.get("blocks"), f"{ptr}/blocks", 100)
    c.ident(view, "callback_id", ptr)
    c.ident(view, "external_id", ptr)
    c.max_len(view.get("private_metadata"), 3000, f"{ptr}/private_metadata")
    if kind == "modal":
        c.text(view.get("title"), f"{ptr}/title", 24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                c.text(view[key], f"{ptr}/{key}", 24, plain_only=True)
        raw_blocks = view.get("blocks")
        blocks: list[Any] = raw_blocks if isinstance(raw_blocks, list) else []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            c.err("must provide submit when using input blocks", f"{ptr}/submit")
    return c.errors


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
    """In-process fake of Slack's Web API, upload URLs and response URLs on 127.0.0.1."""

    token: str = "xoxb-test"

    def __init__(self) -> None:
        self.token = type(self).token
        self.calls: list[Call] = []
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channel_members: dict[str, list[str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (modals and home tabs)
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published home view
        self.files: dict[str, dict[str, Any]] = {}  # file id -> upload state
        self.ephemerals: list[dict[str, Any]] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, list[list[float]]] = {}  # method -> [[seconds, times left]]
        self._response_url_uses: dict[str, int] = {}
        self._lock = threading.RLock()
        self._ts_base = int(time.time())
        self._counter = itertools.count(100)
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
            self._messages.clear()
            self.views.clear()
            self.home_views.clear()
            self.files.clear()
            self.ephemerals.clear()
            self._failures.clear()
            self._delays.clear()
            self._response_url_uses.clear()

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
                for m in self._messages.values()
                if channel is None or m["channel"] == channel
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One current message by channel and ts."""
        with self._lock:
            found = self._messages.get((channel, ts))
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
                    reply = self._response_url_post(rest, params)
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
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method", "req_method": method})
        auth = _headers_get(headers, "Authorization")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        try:
            with self._lock:
                answer = handler(_decode_json_fields(params))
        except _ApiError as exc:
            return _Reply(200, exc.payload)
        return _Reply(200, {"ok": True, **answer})

    # ------------------------------------------------------------------ helpers for methods

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._counter):06d}"

    @staticmethod
    def _require(params: dict[str, Any], *names: str) -> None:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": [f"[ERROR] missing required field: {n}" for n in missing]
                },
            )

    @staticmethod
    def _blocks_error(errors: list[str], error: str = "invalid_blocks") -> _ApiError:
        return _ApiError(
            error,
            errors=errors,
            response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
        )

    def _check_message(self, params: dict[str, Any], *, need_content: bool = True) -> None:
        text = params.get("text")
        blocks = params.get("blocks")
        if isinstance(blocks, str):  # not valid JSON
            raise _ApiError("invalid_blocks_format")
        if need_content and not text and not blocks and not params.get("attachments"):
            raise _ApiError("no_text")
        if not need_content and not any(k in params for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise self._blocks_error(errors)

    @staticmethod
    def _check_ts(value: Any, error: str) -> None:
        if value not in (None, "") and not re.fullmatch(r"\d+\.\d+", str(value)):
            raise _ApiError(error)

    def _channel(self, params: dict[str, Any]) -> str:
        channel = params.get("channel")
        if not channel:
            raise _ApiError("channel_not_found")
        return str(channel)

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id in self.users:
            return copy.deepcopy(self.users[user_id])
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user_id):
            raise _ApiError("user_not_found")
        name = user_id.lower()
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_admin": False,
            "is_bot": False,
            "tz": "UTC",
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }

    def _view_answer(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        vid = view_id or f"V{next(self._counter):08d}"
        stored = {
            "id": vid,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{next(self._counter):x}",
            "root_view_id": vid,
            "previous_view_id": None,
        }
        for key in ("title", "submit", "close", "clear_on_close", "notify_on_close"):
            if key in view:
                stored[key] = view[key]
        self.views[vid] = stored
        return copy.deepcopy(stored)

    def _find_view(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("view_id"):
            found = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            ext = params["external_id"]
            found = next((v for v in self.views.values() if v["external_id"] == ext), None)
        else:
            raise _ApiError("invalid_arguments")
        if found is None:
            raise _ApiError("not_found")
        return found

    @staticmethod
    def _view_param(params: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        errors = validate_view(view, kinds=kinds)
        if errors:
            # Slack answers view problems with invalid_arguments and the messages; "errors" is
            # added here so tests can look at the same list as for messages.
            raise _ApiError(
                "invalid_arguments",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        return view

    # ------------------------------------------------------------------ Web API methods

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "mlops-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = self._channel(params)
        self._check_message(params)
        self._check_ts(params.get("thread_ts"), "invalid_thread_ts")
        ts = self._next_ts()
        message: dict[str, Any] = {
            "channel": channel,
            "ts": ts,
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "thread_ts": params.get("thread_ts") or None,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
        }
        for key in ("attachments", "metadata", "reply_broadcast"):
            if key in params:
                message[key] = params[key]
        self._messages[(channel, ts)] = message
        answer = {k: v for k, v in message.items() if k != "channel" and v is not None}
        return {"channel": channel, "ts": ts, "message": {"type": "message", **answer}}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        self._require(params, "ts")
        ts = str(params["ts"])
        existing = self._messages.get((channel, ts))
        if existing is None:
            raise _ApiError("message_not_found")
        self._check_message(params, need_content=False)
        # Slack keeps the previous text/blocks when a field is left out ("blocks": [] clears).
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                existing[key] = params[key]
        existing["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": existing.get("text", ""),
            "message": {
                "type": "message",
                "text": existing.get("text", ""),
                "blocks": existing.get("blocks"),
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
            },
        }

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = self._channel(params)
        self._require(params, "user")
        self._check_message(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": params["user"],
                "ts": ts,
                "text": params.get("text", ""),
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts") or None,
            }
        )
        return {"message_ts": ts}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        self._require(params, "ts")
        ts = str(params["ts"])
        if self._messages.pop((channel, ts), None) is None:
            raise _ApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "trigger_id", "view")
        view = self._view_param(params, ("modal",))
        return {"view": self._view_answer(view)}

    def _m_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._m_views_open(params)

    def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "view")
        current = self._find_view(params)
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._view_param(params, (current["type"],))
        return {"view": self._view_answer(view, current["id"])}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "user_id", "view")
        user_id = str(params["user_id"])
        self._user(user_id)
        view = self._view_param(params, ("home",))
        current = self.home_views.get(user_id)
        if current and params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        answer = self._view_answer(view, current["id"] if current else None)
        self.home_views[user_id] = answer
        return {"view": answer}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "user")
        return {"user": self._user(str(params["user"]))}

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "usergroup")
        group = str(params["usergroup"])
        if group not in self.usergroups:
            raise _ApiError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel in self.channels:
            return {"channel": copy.deepcopy(self.channels[channel])}
        if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
            raise _ApiError("channel_not_found")
        return {
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel.startswith("C"),
                "is_private": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_member": True,
                "is_archived": False,
            }
        }

    def _m_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel not in self.channel_members and not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
            raise _ApiError("channel_not_found")
        members = self.channel_members.get(channel, [])
        limit = int(params.get("limit") or 100) or 100
        start = 0
        if params.get("cursor"):
            try:
                start = int(base64.b64decode(str(params["cursor"])).decode().split(":")[1])
            except (ValueError, IndexError) as exc:
                raise _ApiError("invalid_cursor") from exc
        page = members[start : start + limit]
        more = start + limit < len(members)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._require(params, "filename", "length")
        try:
            length = int(params["length"])
        except (TypeError, ValueError) as exc:
            raise _ApiError("invalid_arguments") from exc
        file_id = f"F{next(self._counter):08d}"
        self.files[file_id] = {
            "id": file_id,
            "filename": str(params["filename"]),
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "data": None,
            "uploaded": False,
            "completed": False,
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _upload(self, file_id: str, body: bytes) -> _Reply:
        with self._lock:
            info = self.files.get(file_id)
            if info is None:
                return _Reply(404, "file_not_found")
            info["data"] = body
            info["size"] = len(body)
            info["uploaded"] = True
        return _Reply(200, f"OK - {len(body)}")

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._require(params, "files")
        items = params["files"]
        if not isinstance(items, list) or not items:
            raise _ApiError("invalid_arguments")
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                raise _ApiError("invalid_arguments")
            info = self.files.get(str(item["id"]))
            if info is None or not info["uploaded"] or info["completed"]:
                raise _ApiError("invalid_arguments")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        if params.get("channel_id"):
            channels.append(str(params["channel_id"]))
        thread_ts = params.get("thread_ts") or None
        if thread_ts and len(channels) != 1:
            raise _ApiError("invalid_arguments")
        self._check_ts(thread_ts, "invalid_thread_ts")
        out = []
        for item in items:
            info = self.files[str(item["id"])]
            info.update(
                completed=True,
                title=item.get("title") or info["filename"],
                channels=channels,
                thread_ts=thread_ts,
                initial_comment=params.get("initial_comment"),
            )
            out.append(
                {
                    "id": info["id"],
                    "name": info["filename"],
                    "title": info["title"],
                    "size": info["size"],
                    "channels": channels,
                    "permalink": f"https://example.slack.com/files/{BOT_USER_ID}/{info['id']}",
                }
            )
        return {"files": out}

    # ------------------------------------------------------------------ response_url

    def _response_url_post(self, name: str, params: dict[str, Any]) -> _Reply:
        with self._lock:
            uses = self._response_url_uses.get(name, 0) + 1
            self._response_url_uses[name] = uses
        if uses > RESPONSE_URL_MAX_USES:
            return _Reply(404, "used_url")
        if params.get("delete_original") in (True, "true"):
            return _Reply(200, "ok")
        try:
            self._check_message(_decode_json_fields(params))
        except _ApiError as exc:
            return _Reply(400, str(exc.payload["error"]))
        return _Reply(200, "ok")


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
