"""What the shell's user does, as the payloads Slack would send: a slash command, a button click
(`block_actions`), a modal submitted (`view_submission`), the App Home tab opened
(`app_home_opened`). The shell dispatches them to the Bolt app as Socket Mode hands them over.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.shell.render import Button
from handlers.slack_emulator.workspace import Team

# The workspace the shell plays: the bot token its client sends, the IDs its payloads carry.
TEAM = Team(
    id="T0LOCAL",
    name="Local shell",
    url="https://local-shell.invalid/",
    app_id="A0LOCAL",
    token="xoxb-local-shell",
)


@dataclass
class Origin:
    """Where a message lives, so a button press or a response_url can refer back to it."""

    kind: str  # message | ephemeral | home | modal | command
    channel: str | None = None
    ts: str | None = None
    user: str | None = None  # who typed the command / who sees the ephemeral or the Home tab
    view: dict[str, Any] | None = None


class Payloads:
    """Builds each payload with fresh trigger and event IDs."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def trigger_id(self) -> str:
        return f"{next(self._counter)}.{int(time.time())}.shell"

    def slash_command(self, user: str, channel: str, text: str, url: str) -> dict[str, Any]:
        """`user` types `/mlops <text>` in `channel`; `url` is the command's response_url."""
        return {
            "token": "local-shell",
            "team_id": TEAM.id,
            "team_domain": "local",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": "/mlops",
            "text": text.strip(),
            "api_app_id": TEAM.app_id,
            "is_enterprise_install": "false",
            "response_url": url,
            "trigger_id": self.trigger_id(),
        }

    def _interaction(self, kind: str, user: str) -> dict[str, Any]:
        """The fields every interaction payload from `user` carries."""
        return {
            "type": kind,
            "team": {"id": TEAM.id, "domain": "local"},
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": TEAM.id,
            },
            "api_app_id": TEAM.app_id,
            "token": "local-shell",
            "trigger_id": self.trigger_id(),
            "is_enterprise_install": False,
        }

    def block_actions(
        self,
        user: str,
        channel: str,
        button: Button,
        origin: Origin,
        message: dict[str, Any] | None,
        response_url: Callable[[Origin], str],
    ) -> dict[str, Any]:
        """`user` clicks `button` of a message (in `channel` unless its origin says), a Home tab
        or a modal; `message` is the clicked message as Slack holds it, if it does."""
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
            **self._interaction("block_actions", user),
            "enterprise": None,
            "state": {"values": {}},
            "actions": [action],
        }
        if origin.kind in ("home", "modal"):
            view = origin.view or {}
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
            return payload
        channel = origin.channel or channel
        payload["container"] = {
            "type": "message",
            "message_ts": origin.ts,
            "channel_id": channel,
            "is_ephemeral": origin.kind == "ephemeral",
        }
        payload["channel"] = {"id": channel, "name": channel.lower()}
        if message is not None:
            payload["message"] = message
        payload["response_url"] = response_url(
            Origin(origin.kind, channel=channel, ts=origin.ts, user=user)
        )
        return payload

    def view_submission(self, user: str, view: dict[str, Any]) -> dict[str, Any]:
        return {**self._interaction("view_submission", user), "view": view, "response_urls": []}

    def app_home_opened(self, user: str) -> dict[str, Any]:
        now = time.time()
        return {
            "token": "local-shell",
            "team_id": TEAM.id,
            "api_app_id": TEAM.app_id,
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": f"D{user[1:]}",
                "tab": "home",
                "event_ts": f"{now:.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev{next(self._counter):06d}",
            "event_time": int(now),
            "authorizations": [
                {"team_id": TEAM.id, "user_id": TEAM.bot_user_id, "is_bot": True}
            ],
        }  # fmt: skip
