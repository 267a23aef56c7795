"""Local shell mode (SPEC §2): a terminal REPL over the same Bolt listeners as Slack.

Typed lines become real Slack payloads (slash commands, `block_actions`, `view_submission`,
`app_home_opened`) that are dispatched to the Bolt app built by `bot.app.build_app`, exactly as
Socket Mode hands them over: no second implementation of any command. What the listeners send
back comes to the terminal instead of Slack:

* Web API calls go to `ShellClient`, a `WebClient` whose `api_call` answers in-process like
  Slack would (`auth.test`, `chat.postMessage/update/postEphemeral/delete`, `views.open/push/
  update/publish`, the three steps of `files_upload_v2`, …) and renders messages as text.
* `respond()` (the response_url) is a `Respond` whose delivery is in-process too, so a proxy
  set in the environment (HTTPS_PROXY) or a firewall never gets in the way.
* The app runs with `process_before_response=True`: `dispatch` returns when the listener has
  finished, so the prompt comes back after all of a command's output (deterministic order).

Buttons are numbered (`[1 Approve] [2 Reject…]`) and `press N` clicks one; modals become prompts
answered on the next input line; `as U0BOB` switches the acting user. Piped stdin works the
same (each line is echoed after the prompt), and end of input exits 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import BoltContext, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.web.file_upload_v2_result import FileUploadV2Result
from slack_sdk.web.slack_response import SlackResponse
from slack_sdk.webhook import WebhookResponse

from bot.runtime import Runtime
from handlers.shell.render import Button, boxed, render_blocks, render_message, text_of

log = logging.getLogger(__name__)

TEAM_ID = "T0LOCAL"
APP_ID = "A0LOCAL"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
DEFAULT_USER = "U0YOU"
DEFAULT_CHANNEL = "C0SHELL"
_USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9_]{2,}$")
_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

HELP = """\
Shell commands (everything else goes to the bot as in Slack):
  /mlops <subcommand> …   the slash command, as the current user in the current channel
  press N                  click button N of the last message that showed buttons
  buttons                  list the buttons you can press now
  as U0BOB                 act as another Slack user (approvers come from the policy file)
  in C0OTHER               type in another channel
  home                     open your App Home tab (what waits for you)
  help                     this list (`/mlops help` lists the bot's subcommands)
  quit                     leave (end of input / Ctrl-D too)
A modal (Reject…, Override…) asks for its fields on the next lines; a blank line cancels it."""


NO_SLACK = "No Slack app: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN to serve Slack (README, .env)."
SLACK_SET = "Slack credentials are set, but this shell does not use them (`mlops-bot serve` does)."


@dataclass
class Origin:
    """Where a message lives, so a button press or a response_url can refer back to it."""

    kind: str  # message | ephemeral | home | modal | command
    channel: str | None = None
    ts: str | None = None
    user: str | None = None  # who typed the command / who sees the ephemeral or the Home tab
    view: dict[str, Any] | None = None


class ShellClient(WebClient):
    """A Web API client that answers in-process, like Slack would, and renders to the terminal."""

    def __init__(self, shell: Shell) -> None:
        super().__init__(token="xoxb-local-shell", base_url="https://slack.invalid/api/")
        self.shell = shell

    def api_call(  # type: ignore[override]
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict | None = None,
        data: dict | None = None,
        params: dict | None = None,
        json: dict | None = None,  # noqa: A002  (the name WebClient uses)
        headers: dict | None = None,
        auth: dict | None = None,
    ) -> SlackResponse:
        args: dict[str, Any] = {}
        for part in (params, data, json):
            if part:
                args.update(part)
        args = {k: _decoded(k, v) for k, v in args.items() if v is not None}
        body = self.shell.web_api(api_method, args)
        return SlackResponse(
            client=self,
            http_verb=http_verb,
            api_url=f"{self.base_url}{api_method}",
            req_args={"params": args},
            data=body,
            headers={},
            status_code=200,
        ).validate()

    def _upload_file(  # type: ignore[override]
        self, *, url: str, data: bytes, logger: Any, timeout: int, proxy: Any, ssl: Any
    ) -> FileUploadV2Result:
        """Step 2 of files_upload_v2: the bytes go to the shell instead of files.slack.com."""
        ok = self.shell.receive_upload(url, data)
        return FileUploadV2Result(status=200 if ok else 404, body="OK" if ok else "not found")


def _decoded(key: str, value: Any) -> Any:
    """Form fields that Slack takes as JSON strings (blocks, view, files…), decoded."""
    if key in _JSON_ARGS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class ShellRespond(Respond):
    """`respond()` delivered in-process to the shell (the response_url names the origin)."""

    def __init__(self, shell: Shell, response_url: str | None) -> None:
        super().__init__(response_url=response_url)
        self.shell = shell

    def __call__(  # type: ignore[override]
        self,
        text: str | dict = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = dict(text)
        else:
            message = {
                "text": text,
                "blocks": blocks,
                "attachments": attachments,
                "response_type": response_type,
                "replace_original": replace_original,
                "delete_original": delete_original,
                "thread_ts": thread_ts,
            }
        message = {k: _as_dicts(v) for k, v in message.items() if v is not None}
        status = self.shell.on_response(self.response_url, message)
        return WebhookResponse(
            url=self.response_url,
            status_code=status,
            body="ok" if status == 200 else "",
            headers={},
        )


def _as_dicts(value: Any) -> Any:
    """Block Kit objects (slack_sdk.models) as plain dicts."""
    if isinstance(value, list | tuple):
        return [_as_dicts(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


class Shell:
    """The REPL, and the in-process Slack workspace the listeners talk to."""

    def __init__(
        self,
        rt: Runtime,
        *,
        user: str,
        channel: str,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool = False,
    ) -> None:
        from handlers.app import build_app, build_services

        self.rt = rt
        self.user = user
        self.channel = channel
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self.files_dir = rt.settings.mlops_bot_data_dir / "shell-files"
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._ts_base = int(time.time())
        self.messages: dict[str, dict[str, Any]] = {}  # ts -> {"channel", "message", "number"}
        self._numbers = itertools.count(1)
        self.buttons: list[Button] = []
        self.button_origin: Origin | None = None
        self.opened_views: list[dict[str, Any]] = []
        self.responses: dict[str, Origin] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self._warm: threading.Thread | None = None
        self.client = ShellClient(self)
        self.app = build_app(build_services(rt, self.client, inline_work=True), self.client)

        def to_terminal(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
            # Bolt gives each request a fresh WebClient on the app client's base_url; the shell's
            # listeners must talk to the shell's client, and respond() to the shell.
            context["client"] = self.client
            context["respond"] = ShellRespond(self, context.response_url)
            next()

        self.app.middleware(to_terminal)

    # -- output ------------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        with self._lock:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _show(self, title: str, message: dict[str, Any], origin: Origin) -> None:
        """Render a message; its buttons become the ones `press N` clicks."""
        rendered = render_message(message)
        with self._lock:
            if rendered.buttons:
                self.buttons, self.button_origin = rendered.buttons, origin
            elif self._same_place(origin, self.button_origin):
                self.buttons, self.button_origin = [], None  # the buttons are gone
            self.emit(boxed(title, rendered.lines))

    @staticmethod
    def _same_place(a: Origin | None, b: Origin | None) -> bool:
        if a is None or b is None:
            return False
        if a.kind == "home" and b.kind == "home":
            return a.user == b.user
        return a.ts is not None and a.ts == b.ts

    # -- the in-process Web API --------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._counter):06d}"

    def web_api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            log.debug("shell: Web API method %s answered with ok", method)
            return {"ok": True}
        with self._lock:
            result: dict[str, Any] = handler(args)
            return result

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://local-shell.invalid/",
            "team": "Local shell",
            "user": "mlops-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _where(self, channel: str) -> str:
        return f"DM with @{channel}" if _USER_ID.match(channel) else f"#{channel}"

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "attachments": args.get("attachments") or [],
        }
        thread = args.get("thread_ts")
        number = None if thread else next(self._numbers)  # top-level messages are numbered
        self.messages[ts] = {"channel": channel, "message": message, "number": number}
        if thread:
            message["thread_ts"] = thread
            title = f"{self._where(channel)} · reply in the thread of {self._label(thread)}"
        else:
            title = f"{self._where(channel)} · message {number} from mlops-bot"
        self._show(title, message, Origin("message", channel=channel, ts=ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _label(self, ts: str) -> str:
        known = self.messages.get(ts)
        if known and known["number"] is None:
            return f"a reply in the thread of {self._label(known['message'].get('thread_ts', ''))}"
        return f"message {known['number']}" if known else f"message {ts}"

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        known = self.messages.get(ts)
        if known is None or known["channel"] != channel:
            return {"ok": False, "error": "message_not_found"}
        message = dict(known["message"])
        for key in ("text", "blocks", "attachments"):
            if key in args:
                message[key] = args[key]
        if message != known["message"]:  # Slack shows nothing for an identical update either
            known["message"] = message
            title = f"{self._where(channel)} · {self._label(ts)} updated"
            self._show(title, message, Origin("message", channel=channel, ts=ts))
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": message,
        }

    def _api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(args.get("channel") or ""), str(args.get("user") or "")
        if not channel or not user:
            return {"ok": False, "error": "channel_not_found" if not channel else "user_not_found"}
        self._ephemeral(channel, user, args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        ts = self._next_ts()
        title = f"{self._where(channel)} · only @{user} sees this"
        self._show(title, message, Origin("ephemeral", channel=channel, ts=ts, user=user))

    def _api_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        known = self.messages.pop(str(args.get("ts") or ""), None)
        if known is None:
            return {"ok": False, "error": "message_not_found"}
        self.emit(f"({self._where(known['channel'])} · message {known['number']} was deleted)")
        return {"ok": True, "channel": known["channel"], "ts": args.get("ts")}

    def _api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("message_ts") or "").replace(".", "")
        return {
            "ok": True,
            "channel": args.get("channel"),
            "permalink": f"https://local-shell.invalid/archives/{args.get('channel')}/p{ts}",
        }

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = args.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        opened = self._stored_view(view)
        self.opened_views.append(opened)  # asked for after the listener returns
        return {"ok": True, "view": opened}

    _api_views_push = _api_views_open

    def _stored_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._counter):06d}"
        return {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": self._next_ts(),
            "root_view_id": view_id,
            "previous_view_id": None,
            "state": {"values": {}},
        }

    def _api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view_id = str(args.get("view_id") or "")
        if not isinstance(view, dict) or not view_id:
            return {"ok": False, "error": "invalid_arguments"}
        for i, pending in enumerate(self.opened_views):
            if pending["id"] == view_id:
                self.opened_views[i] = self._stored_view(view, view_id)
                return {"ok": True, "view": self.opened_views[i]}
        return {"ok": True, "view": self._stored_view(view, view_id)}

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user, view = str(args.get("user_id") or ""), args.get("view")
        if not user or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        stored = self._stored_view(view, f"VHOME{user}")
        self._show(
            f"App Home of @{user}",
            {"blocks": view.get("blocks") or []},
            Origin("home", user=user, view=stored),
        )
        return {"ok": True, "view": stored}

    def _api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user") or "")
        profile = {"real_name": user, "display_name": user.lower()}
        return {
            "ok": True,
            "user": {"id": user, "name": user.lower(), "real_name": user, "tz": "UTC",
                     "is_bot": False, "is_admin": False, "profile": profile},
        }  # fmt: skip

    def _api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "users": []}  # no user groups in the shell: use user IDs

    def _api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        return {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_member": True}}

    def _api_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "members": [self.user], "response_metadata": {"next_cursor": ""}}

    def _api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._counter):06d}"
        self.uploads[file_id] = {"filename": str(args.get("filename") or "file"), "data": None}
        return {
            "ok": True,
            "upload_url": f"https://files.slack.invalid/upload/{file_id}",
            "file_id": file_id,
        }

    def receive_upload(self, url: str, data: bytes) -> bool:
        with self._lock:
            upload = self.uploads.get(url.rsplit("/", 1)[-1])
            if upload is None:
                return False
            upload["data"] = data
            return True

    def _api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel = args.get("channel_id") or (args.get("channels") or "").split(",")[0] or None
        thread = args.get("thread_ts")
        lines = [] if not args.get("initial_comment") else [text_of(args["initial_comment"])]
        done = []
        self.files_dir.mkdir(parents=True, exist_ok=True)
        for f in files:
            upload = self.uploads.pop(str(f.get("id")), None)
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            name = _FILENAME.sub("_", upload["filename"]).strip("._") or "file"
            path = self.files_dir / f"{f['id']}-{name}"
            path.write_bytes(upload["data"])
            title = f.get("title") or upload["filename"]
            lines.append(f"📎 {title} → saved to {path}")
            done.append(
                {
                    "id": f["id"],
                    "name": upload["filename"],
                    "title": title,
                    "permalink": path.resolve().as_uri(),
                    "url_private": path.resolve().as_uri(),
                }
            )
        if channel:
            where = self._where(str(channel))
            where += f" · in the thread of {self._label(str(thread))}" if thread else ""
        else:
            where = "file upload (not shared in a channel)"
        self.emit(boxed(where, lines))
        return {"ok": True, "files": done}

    # -- response_url ------------------------------------------------------------------------

    def _response_url(self, origin: Origin) -> str:
        url = f"https://hooks.slack.invalid/shell/{next(self._counter)}"
        self.responses[url] = origin
        return url

    def on_response(self, url: str, message: dict[str, Any]) -> int:
        """A message POSTed to a response_url: replace, delete, or post ephemeral / in channel."""
        with self._lock:
            origin = self.responses.get(url)
            if origin is None:
                return 404
            channel = origin.channel or self.channel
            user = origin.user or self.user
            target = self.messages.get(origin.ts or "") if origin.kind == "message" else None
            if message.get("delete_original"):
                if target is not None:
                    self._api_chat_delete({"ts": origin.ts})
                else:
                    self.emit(f"({self._where(channel)} · the message was deleted)")
                return 200
            if message.get("replace_original") and origin.kind in ("message", "ephemeral"):
                if target is not None:
                    self._api_chat_update(
                        {"channel": target["channel"], "ts": origin.ts, **message}
                    )
                else:
                    title = f"{self._where(channel)} · only @{user} sees this (replaced)"
                    self._show(title, message, origin)
                return 200
            if message.get("response_type") == "in_channel":
                self._api_chat_postMessage({"channel": channel, **message})
            else:
                self._ephemeral(channel, user, message)
            return 200

    # -- dispatching -------------------------------------------------------------------------

    def dispatch(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Hand a payload to Bolt as Socket Mode does; returns the status and the ack body."""
        if self._warm is not None:  # never import mlflow from two threads at once
            self._warm.join()
            self._warm = None
        resp = self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        payload: Any = resp.body
        if isinstance(payload, str) and payload:
            with contextlib.suppress(ValueError):
                payload = json.loads(payload)
        return resp.status, payload

    def _trigger(self) -> str:
        return f"{next(self._counter)}.{int(time.time())}.shell"

    def _problem(self, status: int, payload: Any) -> None:
        if status == 404:
            self.emit("(no listener of the bot handles this)")
        else:
            self.emit(f"(the bot answered {status}: {str(payload)[:200] or 'see its log'})")

    def slash(self, line: str) -> None:
        command, _, text = line.partition(" ")
        if command != "/mlops":
            self.emit(
                f"Only /mlops is installed in this workspace (not {command}); try /mlops help"
            )
            return
        origin = Origin("command", channel=self.channel, user=self.user)
        body = {
            "token": "local-shell",
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": self.channel,
            "channel_name": self.channel.lower(),
            "user_id": self.user,
            "user_name": self.user.lower(),
            "command": "/mlops",
            "text": text.strip(),
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._response_url(origin),
            "trigger_id": self._trigger(),
        }
        status, ack = self.dispatch(body)
        if status != 200:
            self._problem(status, ack)
        elif isinstance(ack, dict) and (ack.get("text") or ack.get("blocks")):
            url = self._response_url(origin)
            self.on_response(url, ack)  # the ack's message: shown like a response
        elif isinstance(ack, str) and ack:
            self._ephemeral(self.channel, self.user, {"text": ack})
        self._open_modals()

    def press(self, arg: str) -> None:
        if not arg.isdigit():
            self.emit("Usage: press N (the number shown on the button, e.g. press 1)")
            return
        with self._lock:
            buttons, origin = list(self.buttons), self.button_origin
        n = int(arg)
        if not buttons or origin is None:
            self.emit("There are no buttons to press yet.")
            return
        if not 1 <= n <= len(buttons):
            shown = " ".join(f"[{b.number} {b.label}]" for b in buttons)
            self.emit(f"There is no button {n}; the buttons are {shown}")
            return
        button = buttons[n - 1]
        if button.confirm:
            c = button.confirm
            self.emit(
                f"(confirmation “{text_of(c.get('title'))}”: {text_of(c.get('text'))} → "
                f"{text_of(c.get('confirm')) or 'Confirm'})"
            )
        status, ack = self.dispatch(self._block_actions(button, origin))
        if status != 200:
            self._problem(status, ack)
        self._open_modals()

    def _block_actions(self, button: Button, origin: Origin) -> dict[str, Any]:
        element = button.element
        action = {
            "action_id": element.get("action_id"),
            "block_id": button.block_id,
            "text": {"type": "plain_text", "text": button.label, "emoji": True},
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
        for key in ("value", "style"):
            if element.get(key) is not None:
                action[key] = element[key]
        payload: dict[str, Any] = {
            **self._interaction("block_actions"),
            "enterprise": None,
            "state": {"values": {}},
            "actions": [action],
        }
        if origin.kind in ("home", "modal"):
            view = origin.view or {}
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
            return payload
        channel = origin.channel or self.channel
        payload["container"] = {
            "type": "message",
            "message_ts": origin.ts,
            "channel_id": channel,
            "is_ephemeral": origin.kind == "ephemeral",
        }
        payload["channel"] = {"id": channel, "name": channel.lower()}
        known = self.messages.get(origin.ts or "")
        if known is not None:
            payload["message"] = known["message"]
        payload["response_url"] = self._response_url(
            Origin(origin.kind, channel=channel, ts=origin.ts, user=self.user)
        )
        return payload

    def _open_modals(self) -> None:
        while True:
            with self._lock:
                if not self.opened_views:
                    return
                view = self.opened_views.pop(0)
            self._run_modal(view)

    def _run_modal(self, view: dict[str, Any]) -> None:
        """A modal as prompts: each input on the next line, then a real view_submission."""
        shown = False
        while True:
            close = text_of(view.get("close")) or "Cancel"
            inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
            if not shown:  # after a validation error only the question is asked again
                submit = text_of(view.get("submit")) or "Submit"
                rendered = render_blocks(view.get("blocks") or [])
                hint = f"Answer on the next line to {submit}; a blank line to {close}."
                title = f"modal · {text_of(view.get('title')) or 'form'}"
                self.emit(boxed(title, [*rendered.lines, hint] if inputs else rendered.lines))
                if rendered.buttons:
                    self.buttons, self.button_origin = rendered.buttons, Origin("modal", view=view)
                shown = True
            values: dict[str, Any] = {}
            for block in inputs:
                element = block.get("element") or {}
                answer = self.read_line(f"{text_of(block.get('label'))} > ")
                if answer is None or (not answer.strip() and not block.get("optional")):
                    self.emit(f"(modal closed: {close})")
                    return
                kind = element.get("type", "plain_text_input")
                values.setdefault(str(block.get("block_id")), {})[str(element.get("action_id"))] = {
                    "type": kind,
                    "value": answer,
                }
            submitted = {**view, "state": {"values": values}}
            status, ack = self.dispatch(self._view_submission(submitted))
            if status != 200:
                self._problem(status, ack)
                return
            action = ack.get("response_action") if isinstance(ack, dict) else None
            if action == "errors":
                for message in (ack.get("errors") or {}).values():
                    self.emit(f"⚠️ {message}")
                continue  # the modal stays open: ask again
            if action in ("update", "push") and isinstance(ack.get("view"), dict):
                view, shown = self._stored_view(ack["view"]), False
                continue
            self._open_modals()
            return

    def _interaction(self, kind: str) -> dict[str, Any]:
        """The fields every interaction payload from the current user carries."""
        return {
            "type": kind,
            "team": {"id": TEAM_ID, "domain": "local"},
            "user": {
                "id": self.user,
                "username": self.user.lower(),
                "name": self.user.lower(),
                "team_id": TEAM_ID,
            },
            "api_app_id": APP_ID,
            "token": "local-shell",
            "trigger_id": self._trigger(),
            "is_enterprise_install": False,
        }

    def _view_submission(self, view: dict[str, Any]) -> dict[str, Any]:
        return {**self._interaction("view_submission"), "view": view, "response_urls": []}

    def home(self) -> None:
        now = time.time()
        body = {
            "token": "local-shell",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {
                "type": "app_home_opened",
                "user": self.user,
                "channel": f"D{self.user[1:]}",
                "tab": "home",
                "event_ts": f"{now:.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev{next(self._counter):06d}",
            "event_time": int(now),
            "authorizations": [
                {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}
            ],
        }  # fmt: skip
        status, ack = self.dispatch(body)
        if status != 200:
            self._problem(status, ack)
        self._open_modals()

    # -- the REPL ----------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return f"{self.user} #{self.channel}> "

    def read_line(self, prompt: str) -> str | None:
        """One input line (None at end of input); piped lines are echoed after the prompt."""
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                self.emit("")
                return None
        line = self.stdin.readline()
        if not line:
            return None
        line = line.rstrip("\r\n")
        self.emit(f"{prompt}{line}")
        return line

    def run(self) -> int:
        """Read and handle lines until `quit` or end of input; returns the exit status (0)."""
        while True:
            try:
                line = self.read_line(self.prompt)
            except KeyboardInterrupt:
                self.emit("")
                continue
            if line is None:
                return 0
            try:
                if not self.handle(line.strip()):
                    return 0
            except KeyboardInterrupt:
                self.emit("(interrupted)")
            except Exception as exc:  # a bug must not end the session
                log.exception("shell: %r failed", line)
                self.emit(f"(shell error: {type(exc).__name__}: {exc})")

    def handle(self, line: str) -> bool:
        """Run one line; False to leave."""
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        word, rest = word.lower(), rest.strip()
        if line.startswith("/"):
            self.slash(line)
        elif word == "mlops":
            self.slash("/" + line)
        elif word == "press":
            self.press(rest)
        elif word == "as":
            self.switch_user(rest)
        elif word == "in":
            self.switch_channel(rest)
        elif word == "home":
            self.home()
        elif word == "buttons":
            self.show_buttons()
        elif word in ("help", "?"):
            self.emit(HELP)
        elif word in ("quit", "exit"):
            return False
        else:
            self.emit(f"Unknown shell command `{word}`: type `help`, or /mlops help for the bot.")
        return True

    def switch_user(self, arg: str) -> None:
        user = arg.removeprefix("@").upper()
        if not user:
            self.emit(f"You are @{self.user}. Usage: as U0BOB")
        elif not _USER_ID.match(user):
            self.emit(f"`{arg}` is not a Slack user ID (U… or W…, e.g. as U0BOB)")
        else:
            self.user = user
            self.emit(f"You are now @{user}.")

    def switch_channel(self, arg: str) -> None:
        channel = arg.removeprefix("#").upper()
        if not channel:
            self.emit(f"You are in #{self.channel}. Usage: in C0OTHER")
        elif not _CHANNEL_ID.match(channel):
            self.emit(f"`{arg}` is not a Slack channel ID (C…, e.g. in C0OTHER)")
        else:
            self.channel = channel
            self.emit(f"You are now in #{channel}.")

    def show_buttons(self) -> None:
        if not self.buttons:
            self.emit("There are no buttons to press.")
        else:
            self.emit("Buttons: " + " ".join(f"[{b.number} {b.label}]" for b in self.buttons))

    # -- start-up ----------------------------------------------------------------------------

    def warm_up(self) -> threading.Thread:
        """Import mlflow and open the store in the background while the user reads and types.

        mlflow is not safe to import from two threads at once, so `dispatch` waits for this.
        """

        def work() -> None:
            with contextlib.suppress(Exception):  # the first command reports MLflow problems
                self.rt.registry.ping()

        thread = threading.Thread(target=work, name="mlflow-warm-up", daemon=True)
        thread.start()
        self._warm = thread
        return thread


# -- set-up helpers used by the CLI -----------------------------------------------------------


def adopt_demo_policy() -> Path | None:
    """Point MLOPS_BOT_CONFIG at the demo's policy file when no policy is configured.

    Call before the runtime is built (it loads the policy and syncs its monitors). Returns
    the file adopted, or None.
    """
    from pydantic import ValidationError

    from bot import demo
    from bot.config import Settings

    try:
        settings = Settings()
    except ValidationError:  # reported by whoever builds the runtime next
        return None
    path = demo.policy_file(settings)
    if settings.policy_path is not None or not path.exists():
        return None
    os.environ["MLOPS_BOT_CONFIG"] = str(path)
    return path


def prepare_runtime(rt: Runtime) -> tuple[Runtime, bool]:
    """The shell answers in the terminal: a runtime without any Slack credentials (so no
    request verification either), and whether Slack credentials were configured."""
    settings = rt.settings.model_copy(
        update={"slack_bot_token": None, "slack_signing_secret": None, "slack_app_token": None}
    )
    return dataclasses.replace(rt, settings=settings), rt.settings.has_slack_tokens


def default_user(rt: Runtime) -> str:
    """The first model owner of the policy (the demo's U0ALICE), else U0YOU."""
    for model in rt.policy.file.models.values():
        for owner in model.owners:
            if _USER_ID.match(owner):
                return owner
    return DEFAULT_USER


def default_channel(rt: Runtime) -> str:
    """The first monitor channel of the policy (the demo's C0DEMO), else C0SHELL."""
    for monitor in rt.policy.monitors().values():
        if monitor.channel:
            return monitor.channel
    return DEFAULT_CHANNEL


def welcome(
    rt: Runtime, user: str, channel: str, *, demo_model: bool, slack_configured: bool = False
) -> str:
    """One screen: what this is, where the data is, who you are, what to type."""
    from bot import demo

    model = demo.MODEL if demo_model else "<model>"
    approvers = [a for a in rt.policy.for_model(model).approvers if _USER_ID.match(a)]
    approver = next((a for a in approvers if a != user), "U0BOB")
    policy = str(rt.policy.source) if rt.policy.source else "none (set MLOPS_BOT_CONFIG)"
    if approvers:
        policy += f" (approvers: {', '.join(approvers)})"
    tour = [
        ("/mlops models", "registered models and their aliases"),
        (f"/mlops show {model} @challenger", "a version: metrics, params, source run"),
        (f"/mlops promote {model} 3 champion", "ask for approval: a card with buttons"),
        ("press 1", "click Approve (refused: it is your own request)"),
        (f"as {approver}", "become an approver, then: press 1"),
        (f"/mlops drift {model}", "drift of the current data vs. the training data"),
        ("help", "shell commands; quit or Ctrl-D leaves"),
    ]
    width = max(len(cmd) for cmd, _ in tour) + 3
    lines = [
        "mlops-bot local shell: the bot's own /mlops listeners, answered in this terminal.",
        SLACK_SET if slack_configured else NO_SLACK,
        f"  MLflow  {rt.settings.mlflow_tracking_uri}",
        f"  policy  {policy}",
    ]
    if not demo_model:
        lines.append("No demo model here: `mlops-bot demo` seeds one (model churn).")
    lines.append(f"You are @{user} in #{channel}. Try:")
    lines += [f"  {cmd:<{width}}{what}" for cmd, what in tour]
    return "\n".join(lines)


def open_shell(
    rt: Runtime,
    *,
    user: str | None = None,
    channel: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    show_welcome: bool = True,
    slack_configured: bool = False,
) -> int:
    """Run the shell on a prepared runtime until quit / end of input; returns the exit status."""
    from bot import demo

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin is sys.stdin and sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    reconfigure = getattr(stdout, "reconfigure", None)
    if callable(reconfigure):
        reconfigure(errors="replace")  # emoji and box lines on a terminal that can't show them
    user = (user or default_user(rt)).upper()
    channel = (channel or default_channel(rt)).upper()
    shell = Shell(
        rt, user=user, channel=channel, stdin=stdin, stdout=stdout, interactive=interactive
    )
    warm = shell.warm_up()
    if show_welcome:
        has_demo = demo.policy_file(rt.settings).exists() or demo.MODEL in {
            m for m in rt.policy.file.models
        }
        shell.emit(
            welcome(rt, user, channel, demo_model=has_demo, slack_configured=slack_configured)
        )
    try:
        return shell.run()
    finally:
        warm.join(timeout=60)
        rt.engine.dispose()
