"""Slack's Web API over a `Workspace`: one method per API method the bot or the tests call.

Each answers as Slack does: `{"ok": true, ...}`, or `{"ok": false, "error": ...}` for a missing
argument (`invalid_arguments`), an unknown message or view, Block Kit over Slack's limits
(`invalid_blocks`, see `blocks_check`), a missing or wrong token (`not_authed`,
`invalid_auth`) or a method Slack does not have (`unknown_method`). `tests/slack_fake.py` serves
it over HTTP; the local shell's `ShellClient` calls it in-process.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

from handlers.slack_emulator.blocks_check import validate_blocks, validate_view
from handlers.slack_emulator.workspace import USER_ID, Workspace

# Parameters that Slack accepts as JSON-encoded strings in form-encoded requests.
JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")

MAX_TEXT = 40_000
RESPONSE_URL_MAX_USES = 5  # Slack: "up to 5 times within 30 minutes"


class ApiError(Exception):
    """A Web API error: `payload` is Slack's answer (`{"ok": false, "error": ...}`)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.payload: dict[str, Any] = {"ok": False, "error": error, **extra}


def decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the JSON-encoded form fields (blocks, view, files, ...) decoded."""
    out = dict(params)
    for key in JSON_FIELDS:
        value = out.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


def check_message(params: dict[str, Any], *, need_content: bool = True) -> None:
    """Raise the ApiError Slack answers for a message's text and blocks, if any."""
    text = params.get("text")
    blocks = params.get("blocks")
    if isinstance(blocks, str):  # not valid JSON
        raise ApiError("invalid_blocks_format")
    if need_content and not text and not blocks and not params.get("attachments"):
        raise ApiError("no_text")
    if not need_content and not any(k in params for k in ("text", "blocks", "attachments")):
        raise ApiError("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if blocks is not None:
        errors = validate_blocks(blocks)
        if errors:
            raise _errors("invalid_blocks", errors)


_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_metadata(params: dict[str, Any]) -> str | None:
    """Slack's checks of a message's `metadata`: not a JSON object with an `event_type` string
    and an `event_payload` object is an error (`invalid_metadata_format`); an `event_type` of
    other characters than letters, digits, `_` and `-` is dropped from the message with the
    warning `invalid_metadata_schema`, which is returned."""
    if "metadata" not in params:
        return None
    meta = params["metadata"]
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("event_type"), str)
        or not isinstance(meta.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    if not _EVENT_TYPE.match(meta["event_type"]):
        del params["metadata"]
        return "invalid_metadata_schema"
    return None


def _errors(error: str, errors: list[str]) -> ApiError:
    # Slack lists the problems in response_metadata.messages; "errors" is added so that tests
    # can look at the same list for messages and for views.
    return ApiError(
        error, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
    )


def _require(params: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        messages = [f"[ERROR] missing required field: {n}" for n in missing]
        raise ApiError("invalid_arguments", response_metadata={"messages": messages})


def _check_ts(value: Any, error: str) -> None:
    if value not in (None, "") and not re.fullmatch(r"\d+\.\d+", str(value)):
        raise ApiError(error)


def _channel(params: dict[str, Any]) -> str:
    channel = params.get("channel")
    if not channel:
        raise ApiError("channel_not_found")
    return str(channel)


def _view(params: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    view = params.get("view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments")
    errors = validate_view(view, kinds=kinds)
    if errors:  # Slack answers view problems with invalid_arguments and the messages
        raise _errors("invalid_arguments", errors)
    return view


class WebAPI:
    """The Web API methods, as `api_<method with _ for .>`, `call` the way in; and what a
    response_url answers."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def call(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Answer `method` (e.g. `chat.postMessage`) called with `params` and `token`."""
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.workspace.team.token:
            return {"ok": False, "error": "invalid_auth"}
        try:
            with self.workspace.lock:
                answer: dict[str, Any] = handler(decode_json_fields(params))
        except ApiError as exc:
            return exc.payload
        return {"ok": True, **answer}

    def post_to_response_url(self, name: str, params: dict[str, Any]) -> tuple[int, str]:
        """A message POSTed to the response_url `name`: the HTTP status and body Slack answers."""
        with self.workspace.lock:
            uses = self.workspace.response_url_uses.get(name, 0) + 1
            self.workspace.response_url_uses[name] = uses
        if uses > RESPONSE_URL_MAX_USES:
            return 404, "used_url"
        if params.get("delete_original") in (True, "true"):
            return 200, "ok"
        try:
            check_message(decode_json_fields(params))
        except ApiError as exc:
            return 400, str(exc.payload["error"])
        return 200, "ok"

    def api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        team = self.workspace.team
        return {
            "url": team.url,
            "team": team.name,
            "user": "mlops-bot",
            "team_id": team.id,
            "user_id": team.bot_user_id,
            "bot_id": team.bot_id,
            "is_enterprise_install": False,
        }

    # -- chat --------------------------------------------------------------------------------

    def api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = self._dm_of_user(_channel(params))
        check_message(params)
        _check_ts(params.get("thread_ts"), "invalid_thread_ts")
        params = dict(params)
        warning = check_metadata(params)
        message = self.workspace.post(channel, params)
        answer = {k: v for k, v in message.items() if k != "channel" and v is not None}
        reply = {"channel": channel, "ts": message["ts"], "message": {"type": "message", **answer}}
        return {**reply, "warning": warning} if warning else reply

    def api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        _require(params, "ts")
        ts = str(params["ts"])
        if (channel, ts) not in self.workspace.messages:
            raise ApiError("message_not_found")
        check_message(params, need_content=False)
        params = dict(params)
        warning = check_metadata(params)
        message = self.workspace.update(channel, ts, params) or {}
        reply = {
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": {
                "type": "message",
                "text": message.get("text", ""),
                "blocks": message.get("blocks"),
                "user": message.get("user"),
                "bot_id": message.get("bot_id"),
            },
        }
        return {**reply, "warning": warning} if warning else reply

    def api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = _channel(params)
        _require(params, "user")
        check_message(params)
        return {"message_ts": self.workspace.post_ephemeral(channel, str(params["user"]), params)}

    def api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        _require(params, "ts")
        ts = str(params["ts"])
        if self.workspace.delete(channel, ts) is None:
            raise ApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def api_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = _channel(params)
        _require(params, "message_ts")
        ts = str(params["message_ts"])
        if (channel, ts) not in self.workspace.messages:
            raise ApiError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"{self.workspace.team.url}archives/{channel}/p{ts.replace('.', '')}",
        }

    # -- views -------------------------------------------------------------------------------

    def api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "trigger_id", "view")
        return {"view": self.workspace.open_modal(_view(params, ("modal",)))}

    def api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "view")
        if not params.get("view_id") and not params.get("external_id"):
            raise ApiError("invalid_arguments")
        current = self.workspace.find_view(params.get("view_id"), params.get("external_id"))
        if current is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = _view(params, (current["type"],))
        return {"view": self.workspace.store_view(view, current["id"])}

    def api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "user_id", "view")
        user_id = str(params["user_id"])
        if self.workspace.user(user_id) is None:
            raise ApiError("user_not_found")
        view = _view(params, ("home",))
        current = self.workspace.home_views.get(user_id)
        if current and params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        return {"view": self.workspace.publish_home(user_id, view)}

    def _dm_of_user(self, channel: str) -> str:
        """A user ID as `channel` means the bot's DM with that user: Slack posts there and
        answers with the DM's `D…` ID."""
        if not USER_ID.fullmatch(channel):
            return channel
        if self.workspace.user(channel) is None:
            raise ApiError("channel_not_found")
        return self.workspace.im_channel(channel)

    # -- users and channels ------------------------------------------------------------------

    def api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """A 1:1 DM for one user ID in `users` (2 to 8 users, a group DM, is not emulated),
        or the DM `channel` given back."""
        if params.get("channel"):
            channel = str(params["channel"])
            if self.workspace.im_user(channel) is None:
                raise ApiError("channel_not_found")
            return {"channel": {"id": channel}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 8:
            raise ApiError("too_many_users")
        if len(users) > 1:
            raise ApiError("method_not_supported_for_channel_type")
        if self.workspace.user(users[0]) is None:
            raise ApiError("user_not_found")
        return {"channel": {"id": self.workspace.im_channel(users[0])}}

    def api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "user")
        user = self.workspace.user(str(params["user"]))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def api_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "usergroup")
        group = str(params["usergroup"])
        if group not in self.workspace.usergroups:
            raise ApiError("no_such_subteam")
        return {"users": list(self.workspace.usergroups[group])}

    def api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self.workspace.channel(_channel(params))
        if found is None:
            raise ApiError("channel_not_found")
        return {"channel": found}

    def api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        members = self.workspace.channel_members.get(channel)
        if members is None:
            if self.workspace.channel(channel) is None:
                raise ApiError("channel_not_found")
            members = []
        limit = int(params.get("limit") or 100) or 100
        start = 0
        if params.get("cursor"):
            try:
                start = int(base64.b64decode(str(params["cursor"])).decode().split(":")[1])
            except (ValueError, IndexError) as exc:
                raise ApiError("invalid_cursor") from exc
        page = members[start : start + limit]
        more = start + limit < len(members)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    # -- files: the first and last steps of files_upload_v2 ----------------------------------

    def api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        _require(params, "filename", "length")
        try:
            length = int(params["length"])
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_arguments") from exc
        file_id = self.workspace.new_upload(str(params["filename"]), length, params.get("alt_txt"))
        return {"upload_url": f"{self.workspace.upload_url}{file_id}", "file_id": file_id}

    def api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        _require(params, "files")
        items = params["files"]
        if not isinstance(items, list) or not items:
            raise ApiError("invalid_arguments")
        titles: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                raise ApiError("invalid_arguments")
            info = self.workspace.files.get(str(item["id"]))
            if info is None or not info["uploaded"] or info["completed"]:
                raise ApiError("invalid_arguments")
            titles[str(item["id"])] = str(item.get("title") or "")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        if params.get("channel_id"):
            channels.append(str(params["channel_id"]))
        thread_ts = params.get("thread_ts") or None
        if thread_ts and len(channels) != 1:
            raise ApiError("invalid_arguments")
        _check_ts(thread_ts, "invalid_thread_ts")
        comment = params.get("initial_comment")
        return {"files": self.workspace.share_files(titles, channels, thread_ts, comment)}
