"""The shell's way to "Slack": a `WebClient` whose calls the Slack emulator answers in-process,
and a `Respond` whose response_url messages go to the shell; no network, so a proxy set in the
environment (HTTPS_PROXY) or a firewall never gets in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.web.file_upload_v2_result import FileUploadV2Result
from slack_sdk.web.slack_response import SlackResponse
from slack_sdk.webhook import WebhookResponse

from handlers.slack_emulator.web_api import WebAPI


class ShellClient(WebClient):
    """A Web API client answered by the emulator's `WebAPI`, as Slack would answer."""

    def __init__(self, api: WebAPI) -> None:
        super().__init__(token=api.workspace.team.token, base_url="https://slack.invalid/api/")
        self.api = api

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
        args = {k: v for k, v in args.items() if v is not None}
        token = args.pop("token", None) or self.token
        body = self.api.call(api_method, args, token)
        return SlackResponse(
            client=self,
            http_verb=http_verb,
            api_url=f"{self.base_url}{api_method}",
            req_args={"params": args},
            data=body,
            headers=self.api.headers(token),
            status_code=200,
        ).validate()

    def _upload_file(  # type: ignore[override]
        self, *, url: str, data: bytes, logger: Any, timeout: int, proxy: Any, ssl: Any
    ) -> FileUploadV2Result:
        """Step 2 of files_upload_v2: the bytes go to the emulator instead of files.slack.com."""
        ok = self.api.workspace.receive_upload(url.rsplit("/", 1)[-1], data)
        return FileUploadV2Result(status=200 if ok else 404, body="OK" if ok else "not found")


class ShellRespond(Respond):
    """`respond()` handed to `deliver(response_url, message)`, which returns the HTTP status."""

    def __init__(self, deliver: Callable[[str, dict[str, Any]], int], response_url: str | None):
        super().__init__(response_url=response_url)
        self.deliver = deliver

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
        message = {k: as_dicts(v) for k, v in message.items() if v is not None}
        status = self.deliver(self.response_url, message)
        return WebhookResponse(
            url=self.response_url,
            status_code=status,
            body="ok" if status == 200 else "",
            headers={},
        )


def as_dicts(value: Any) -> Any:
    """Block Kit objects (slack_sdk.models) as plain dicts."""
    if isinstance(value, list | tuple):
        return [as_dicts(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value
