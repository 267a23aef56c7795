"""A Slack workspace as state: messages, ephemeral messages, views, App Home tabs, uploaded files,
users, user groups and channels, with the IDs and timestamps Slack would give them.

`web_api.WebAPI` changes it the way Slack's Web API methods do. Whoever wants to see what
changed (the local shell prints it) registers an observer and gets a `Change` per change.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Slack IDs as this project writes them (U0ALICE, C0DEMO; an underscore is let through), for
# `fullmatch`.
USER_ID = re.compile(r"[UW][A-Z0-9_]{2,}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9_]{2,}")

# What a chat.update or a response_url may replace in a message; other fields stay.
MESSAGE_CONTENT = ("text", "blocks", "attachments", "metadata")


@dataclass(frozen=True)
class Team:
    """Who the workspace is, and who the bot is in it (what auth.test answers)."""

    id: str
    name: str
    url: str  # https://<domain>.slack.com/
    app_id: str
    token: str  # the bot token the Web API accepts
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"


@dataclass(frozen=True)
class Change:
    """One change to the workspace, as its observers see it.

    kind: `posted` (a message, or a reply when `message["thread_ts"]` is set), `updated` (its
    content changed), `deleted`, `ephemeral` (shown to `user` only), `modal` (opened), `home`
    (`user`'s App Home published) or `files` (shared in `channel`, in the thread of `ts` when
    set).
    """

    kind: str
    channel: str = ""
    ts: str = ""
    user: str = ""
    message: dict[str, Any] = field(default_factory=dict)
    view: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)


class Workspace:
    """The state of one Slack workspace. Callers hold `lock` while they read or change it."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}  # user id -> users.info profile
        self.usergroups: dict[str, list[str]] = {}  # group id -> member user ids
        self.channels: dict[str, dict[str, Any]] = {}  # channel id -> conversations.info
        self.channel_members: dict[str, list[str]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (modals and home tabs)
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published home view
        self.ims: dict[str, str] = {}  # user id -> the bot's DM channel with them (D…)
        self.files: dict[str, dict[str, Any]] = {}  # file id -> upload state
        self.response_url_uses: dict[str, int] = {}  # response_url name -> messages POSTed
        self.upload_url = "https://files.slack.invalid/upload/"  # + file id: upload step 2
        self.observers: list[Callable[[Change], None]] = []
        self._ts_base = int(time.time())
        self._counter = itertools.count(100)

    def reset(self) -> None:
        """Forget messages, views, files and response_url uses (users, groups, channels stay)."""
        with self.lock:
            for state in (
                self.messages,
                self.ephemerals,
                self.views,
                self.home_views,
                self.files,
                self.response_url_uses,
            ):
                state.clear()

    def next_ts(self) -> str:
        """A message timestamp, later than every one before: `<seconds>.<6 digits>`."""
        return f"{self._ts_base}.{next(self._counter):06d}"

    def next_id(self, prefix: str) -> str:
        """A new ID such as `V00000101` or `F00000102`."""
        return f"{prefix}{next(self._counter):08d}"

    def _notify(self, change: Change) -> None:
        for observer in self.observers:
            observer(change)

    # -- messages ----------------------------------------------------------------------------

    def post(self, channel: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A new message from the bot in `channel` (a thread reply when `thread_ts` is set)."""
        message: dict[str, Any] = {
            "channel": channel,
            "ts": self.next_ts(),
            "text": fields.get("text", ""),
            "blocks": fields.get("blocks"),
            "thread_ts": fields.get("thread_ts") or None,
            "user": self.team.bot_user_id,
            "bot_id": self.team.bot_id,
        }
        for key in ("attachments", "metadata", "reply_broadcast"):
            if key in fields:
                message[key] = fields[key]
        self.messages[(channel, message["ts"])] = message
        self._notify(Change("posted", channel, message["ts"], message=message))
        return message

    def update(self, channel: str, ts: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Replace the content fields given (a field left out is kept; `"blocks": []` clears)."""
        message = self.messages.get((channel, ts))
        if message is None:
            return None
        changed = any(message.get(k) != fields[k] for k in MESSAGE_CONTENT if k in fields)
        for key in MESSAGE_CONTENT:
            if key in fields:
                message[key] = fields[key]
        message["edited"] = {"user": self.team.bot_user_id, "ts": self.next_ts()}
        if changed:  # Slack shows nothing for an update that changes nothing either
            self._notify(Change("updated", channel, ts, message=message))
        return message

    def delete(self, channel: str, ts: str) -> dict[str, Any] | None:
        message = self.messages.pop((channel, ts), None)
        if message is not None:
            self._notify(Change("deleted", channel, ts, message=message))
        return message

    def post_ephemeral(self, channel: str, user: str, fields: dict[str, Any]) -> str:
        """A message only `user` sees (kept in `ephemerals`, not in the channel); its ts."""
        ts = self.next_ts()
        message = {
            "channel": channel,
            "user": user,
            "ts": ts,
            "text": fields.get("text", ""),
            "blocks": fields.get("blocks"),
            "thread_ts": fields.get("thread_ts") or None,
        }
        if "attachments" in fields:
            message["attachments"] = fields["attachments"]
        self.ephemerals.append(message)
        self._notify(Change("ephemeral", channel, ts, user, message=message))
        return ts

    # -- views -------------------------------------------------------------------------------

    def store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        """Keep a view as Slack answers it (ID, hash, state), new or in place of `view_id`."""
        vid = view_id or self.next_id("V")
        stored = {
            "id": vid,
            "team_id": self.team.id,
            "app_id": self.team.app_id,
            "bot_id": self.team.bot_id,
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

    def open_modal(self, view: dict[str, Any]) -> dict[str, Any]:
        stored = self.store_view(view)
        self._notify(Change("modal", view=copy.deepcopy(stored)))
        return stored

    def find_view(self, view_id: str | None, external_id: str | None) -> dict[str, Any] | None:
        if view_id:
            return self.views.get(view_id)
        return next((v for v in self.views.values() if v["external_id"] == external_id), None)

    def publish_home(self, user: str, view: dict[str, Any]) -> dict[str, Any]:
        current = self.home_views.get(user)
        stored = self.store_view(view, current["id"] if current else None)
        self.home_views[user] = stored
        self._notify(Change("home", user=user, view=copy.deepcopy(stored)))
        return stored

    # -- users and channels ------------------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any] | None:
        """A user's profile: the one set in `users`, else a made-up one for any user ID."""
        if user_id in self.users:
            return copy.deepcopy(self.users[user_id])
        if not USER_ID.fullmatch(user_id):
            return None
        name = user_id.lower()
        return {
            "id": user_id,
            "team_id": self.team.id,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_admin": False,
            "is_bot": False,
            "tz": "UTC",
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }

    def im_channel(self, user_id: str) -> str:
        """The ID of the bot's DM with a user (`D…`), opened on first use, as Slack does for
        `conversations.open` and for `chat.postMessage` to a user ID."""
        return self.ims.setdefault(user_id, f"D{user_id[1:]}")

    def im_user(self, channel_id: str) -> str | None:
        """Whom the DM channel `channel_id` is with (None: not a DM opened here)."""
        return next((u for u, c in self.ims.items() if c == channel_id), None)

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """A channel: the one set in `channels`, else a made-up one for any channel ID."""
        if channel_id in self.channels:
            return copy.deepcopy(self.channels[channel_id])
        if not CHANNEL_ID.fullmatch(channel_id):
            return None
        return {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_private": channel_id.startswith("G"),
            "is_im": channel_id.startswith("D"),
            "is_member": True,
            "is_archived": False,
        }

    # -- files -------------------------------------------------------------------------------

    def new_upload(self, filename: str, length: int, alt_txt: Any = None) -> str:
        """Step 1 of an upload: a file ID whose bytes come next (see `receive_upload`)."""
        file_id = self.next_id("F")
        self.files[file_id] = {
            "id": file_id,
            "filename": filename,
            "length": length,
            "alt_txt": alt_txt,
            "data": None,
            "uploaded": False,
            "completed": False,
        }
        return file_id

    def receive_upload(self, file_id: str, data: bytes) -> bool:
        """Step 2: the bytes POSTed to the upload URL; False for an unknown file ID."""
        with self.lock:
            info = self.files.get(file_id)
            if info is None:
                return False
            info.update(data=data, size=len(data), uploaded=True)
            return True

    def share_files(
        self,
        titles: dict[str, str],
        channels: list[str],
        thread_ts: str | None,
        initial_comment: Any = None,
    ) -> list[dict[str, Any]]:
        """Step 3: uploaded files (id -> title) shared in `channels`; the files as answered."""
        shared, answer = [], []
        for file_id, title in titles.items():
            info = self.files[file_id]
            info.update(
                completed=True,
                title=title or info["filename"],
                channels=channels,
                thread_ts=thread_ts,
                initial_comment=initial_comment,
            )
            shared.append(copy.copy(info))
            answer.append(
                {
                    "id": info["id"],
                    "name": info["filename"],
                    "title": info["title"],
                    "size": info["size"],
                    "channels": channels,
                    "permalink": f"{self.team.url}files/{self.team.bot_user_id}/{info['id']}",
                }
            )
        channel = channels[0] if channels else ""
        self._notify(Change("files", channel, thread_ts or "", files=shared))
        return answer
