"""Local shell mode (SPEC §2): a terminal REPL over the same Bolt listeners as Slack.

Typed lines become real Slack payloads (slash commands, `block_actions`, `view_submission`,
`app_home_opened`; see `interactions`) that are dispatched to the Bolt app built by
`handlers.app.build_app`, exactly as Socket Mode hands them over: no second implementation of
any command. What the listeners send back comes to the terminal instead of Slack:

* Web API calls go to `ShellClient`, whose `api_call` is answered in-process by the project's
  Slack emulator (`handlers/slack_emulator`, the one the tests serve over HTTP); each change to
  the emulated workspace (a message posted or updated, an ephemeral message, a modal, an App
  Home tab, uploaded files) is printed as text.
* `respond()` (the response_url) is a `ShellRespond` delivered in-process too.
* The app runs with `process_before_response=True`: `dispatch` returns when the listener has
  finished, so the prompt comes back after all of a command's output (deterministic order).

Buttons are numbered (`[1 Approve] [2 Reject…]`) and `press N` clicks one; modals become prompts
answered on the next input line; `as U0BOB` switches the acting user. Piped stdin works the
same (each line is echoed after the prompt), and end of input exits 0.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import BoltContext, BoltRequest

from bot.runtime import Runtime
from handlers.shell.client import ShellClient, ShellRespond
from handlers.shell.interactions import TEAM, Origin, Payloads
from handlers.shell.render import Button, boxed, render_blocks, render_message, text_of
from handlers.slack_emulator.web_api import WebAPI
from handlers.slack_emulator.workspace import CHANNEL_ID, USER_ID, Change, Workspace

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Switch:
    """What `as` (the user the shell acts as) or `in` (the channel it types in) accepts."""

    sigil: str  # may stand before the ID
    pattern: re.Pattern[str]  # a valid ID
    place: str  # "You are {place}{ID}."
    what: str  # "… is not a Slack {what} ({forms}, e.g. {example})"
    forms: str
    example: str


AS_USER = Switch("@", USER_ID, "@", "user ID", "U… or W…", "as U0BOB")
IN_CHANNEL = Switch("#", CHANNEL_ID, "in #", "channel ID", "C…", "in C0OTHER")


class Shell:
    """The REPL, over an emulated Slack workspace that the listeners talk to."""

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
        self.workspace = Workspace(TEAM)
        self.workspace.observers.append(self._on_change)
        self._lock = self.workspace.lock
        self.payloads = Payloads()
        self._counter = itertools.count(1)
        self.numbers: dict[str, int] = {}  # ts -> number, of the top-level messages shown
        self._numbers = itertools.count(1)
        self.buttons: list[Button] = []
        self.button_origin: Origin | None = None
        self.opened_views: list[dict[str, Any]] = []
        self.responses: dict[str, Origin] = {}
        self.api = WebAPI(self.workspace)
        self._warm: threading.Thread | None = None
        self.client = ShellClient(self.api)
        services = build_services(rt, self.client, inline_work=True, page_files=self._page_file)
        self.app = build_app(services, self.client)

        def to_terminal(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
            # Bolt gives each request a fresh WebClient on the app client's base_url; the shell's
            # listeners must talk to the shell's client, and respond() to the shell.
            context["client"] = self.client
            context["respond"] = ShellRespond(self.on_response, context.response_url)
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

    def _where(self, channel: str) -> str:
        user = self.workspace.im_user(channel)
        return f"DM with @{user}" if user else f"#{channel}"

    def _label(self, channel: str, ts: str) -> str:
        known = self.workspace.messages.get((channel, ts))
        if known is None:
            return f"message {ts}"
        if ts not in self.numbers:
            return f"a reply in the thread of {self._label(channel, known.get('thread_ts') or '')}"
        return f"message {self.numbers[ts]}"

    def _on_change(self, change: Change) -> None:
        """What a Web API call changed in the workspace, printed (modals are asked for later)."""
        where, message = self._where(change.channel), change.message
        origin = Origin("message", channel=change.channel, ts=change.ts)
        if change.kind == "posted":
            thread = message.get("thread_ts")
            if thread:
                title = f"{where} · reply in the thread of {self._label(change.channel, thread)}"
            else:  # top-level messages are numbered
                self.numbers[change.ts] = next(self._numbers)
                title = f"{where} · message {self.numbers[change.ts]} from mlops-bot"
            self._show(title, message, origin)
        elif change.kind == "updated":
            title = f"{where} · {self._label(change.channel, change.ts)} updated"
            self._show(title, message, origin)
        elif change.kind == "deleted":
            self.emit(f"({where} · message {self.numbers.get(change.ts)} was deleted)")
        elif change.kind == "ephemeral":
            origin = Origin("ephemeral", channel=change.channel, ts=change.ts, user=change.user)
            self._show(f"{where} · only @{change.user} sees this", message, origin)
        elif change.kind == "modal":
            self.opened_views.append(change.view)  # asked for after the listener returns
        elif change.kind == "home":
            origin = Origin("home", user=change.user, view=change.view)
            self._show(f"App Home of @{change.user}", change.view, origin)
        elif change.kind == "files":
            self._save_files(change)

    def _save_files(self, change: Change) -> None:
        """Uploaded files go to `.mlops-bot/shell-files/`; their paths are printed."""
        comment = change.files[0].get("initial_comment") if change.files else None
        lines = [text_of(comment)] if comment else []
        self.files_dir.mkdir(parents=True, exist_ok=True)
        for info in change.files:
            name = _FILENAME.sub("_", info["filename"]).strip("._") or "file"
            path = self.files_dir / f"{info['id']}-{name}"
            path.write_bytes(info["data"] or b"")
            lines.append(f"📎 {info['title']} → saved to {path}")
        if change.channel:
            where = self._where(change.channel)
            if change.ts:
                where += f" · in the thread of {self._label(change.channel, change.ts)}"
        else:
            where = "file upload (not shared in a channel)"
        self.emit(boxed(where, lines))

    def _page_file(self, path: Path) -> None:
        """A posted report's full page (no HTTP server in the shell: open the file)."""
        self.emit(boxed("report page", [f"🌐 every feature and chart → {path}"]))

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
            status, _ = self.api.post_to_response_url(url, message)
            if status != 200:
                return status
            channel = origin.channel or self.channel
            user = origin.user or self.user
            ts = origin.ts or ""
            target = (
                self.workspace.messages.get((channel, ts)) if origin.kind == "message" else None
            )
            if message.get("delete_original"):
                if target is not None:
                    self.workspace.delete(channel, ts)
                else:
                    self.emit(f"({self._where(channel)} · the message was deleted)")
            elif message.get("replace_original") and origin.kind in ("message", "ephemeral"):
                if target is not None:
                    self.workspace.update(channel, ts, message)
                else:
                    title = f"{self._where(channel)} · only @{user} sees this (replaced)"
                    self._show(title, message, origin)
            elif message.get("response_type") == "in_channel":
                self.workspace.post(channel, message)
            else:
                self.workspace.post_ephemeral(channel, user, message)
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
        url = self._response_url(origin)
        status, ack = self.dispatch(self.payloads.slash_command(self.user, self.channel, text, url))
        if status != 200:
            self._problem(status, ack)
        elif isinstance(ack, dict) and (ack.get("text") or ack.get("blocks")):
            url = self._response_url(origin)
            self.on_response(url, ack)  # the ack's message: shown like a response
        elif isinstance(ack, str) and ack:
            with self._lock:
                self.workspace.post_ephemeral(self.channel, self.user, {"text": ack})
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
        message = None  # the clicked message as Slack holds it
        with self._lock:
            stored = self.workspace.messages.get((origin.channel or "", origin.ts or ""))
            if stored is not None and origin.kind == "message":
                fields = {k: v for k, v in stored.items() if k != "channel" and v is not None}
                message = {"type": "message", **fields}
        payload = self.payloads.block_actions(
            self.user, self.channel, button, origin, message, self._response_url
        )
        status, ack = self.dispatch(payload)
        if status != 200:
            self._problem(status, ack)
        self._open_modals()

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
            if not inputs and view.get("submit") is None:
                return  # only a Close button (Details): nothing to submit, as in Slack
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
            status, ack = self.dispatch(self.payloads.view_submission(self.user, submitted))
            if status != 200:
                self._problem(status, ack)
                return
            action = ack.get("response_action") if isinstance(ack, dict) else None
            if action == "errors":
                for message in (ack.get("errors") or {}).values():
                    self.emit(f"⚠️ {message}")
                continue  # the modal stays open: ask again
            if action in ("update", "push") and isinstance(ack.get("view"), dict):
                with self._lock:  # Slack keeps the view's ID for an update, not for a push
                    keep = view.get("id") if action == "update" else None
                    view, shown = self.workspace.store_view(ack["view"], keep), False
                continue
            self._open_modals()
            return

    def home(self) -> None:
        status, ack = self.dispatch(self.payloads.app_home_opened(self.user))
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
            self.user = self.switched(rest, AS_USER, self.user)
        elif word == "in":
            self.channel = self.switched(rest, IN_CHANNEL, self.channel)
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

    def switched(self, arg: str, to: Switch, current: str) -> str:
        """`as` / `in`: the user or channel ID in `arg`; `current` when there is none (then
        says which it is) or it is not a valid ID (then says why)."""
        value = arg.removeprefix(to.sigil).upper()
        if not value:
            self.emit(f"You are {to.place}{current}. Usage: {to.example}")
            return current
        if not to.pattern.fullmatch(value):
            self.emit(f"`{arg}` is not a Slack {to.what} ({to.forms}, e.g. {to.example})")
            return current
        self.emit(f"You are now {to.place}{value}.")
        return value

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
