"""The Slack fake, driven by the real slack_sdk WebClient (and its retry handlers)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, HeaderBlock, SectionBlock
from slack_sdk.webhook import WebhookClient

from tests.slack_fake import FakeSlack, validate_blocks, validate_view, web_client

CHANNEL = "C0MLOPS"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return web_client(slack)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str = "Approve", value: str = "v", action_id: str = "approve") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "value": value,
        "action_id": action_id,
    }


def api_error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


# ----------------------------------------------------------------------------- messages


def test_post_then_update_message(slack: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == "U0BOT"
    first = client.chat_postMessage(channel=CHANNEL, text="hi", blocks=[section("*hi*")])
    second = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == CHANNEL
    assert first["message"]["text"] == "hi"

    updated = client.chat_update(channel=CHANNEL, ts=first["ts"], text="done")
    assert updated["ts"] == first["ts"]

    messages = slack.messages(CHANNEL)
    assert [m["text"] for m in messages] == ["done", "reply"]
    assert messages[0]["blocks"] == [section("*hi*")]  # left out of chat.update => kept
    assert messages[1]["thread_ts"] == first["ts"]
    assert messages[0]["user"] == "U0BOT"

    call = slack.calls_to("chat.postMessage")[0]
    assert (call.header("content-type") or "").startswith("application/json")
    assert call.header("authorization") == "Bearer xoxb-test"

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel=CHANNEL, ts="1.000001", text="x")
    assert api_error(exc) == "message_not_found"

    client.chat_delete(channel=CHANNEL, ts=second["ts"])
    assert [m["ts"] for m in slack.messages()] == [first["ts"]]


def test_form_encoded_blocks_are_decoded(slack: FakeSlack, client: WebClient) -> None:
    blocks = [section("from a form")]
    client.api_call(
        "chat.postMessage", params={"channel": CHANNEL, "text": "t", "blocks": json.dumps(blocks)}
    )
    call = slack.calls_to("chat.postMessage")[0]
    assert call.header("content-type") == "application/x-www-form-urlencoded"
    assert isinstance(call.params["blocks"], str)
    assert call.blocks == blocks
    assert slack.messages()[0]["blocks"] == blocks


def test_sdk_block_builders_are_accepted(slack: FakeSlack, client: WebClient) -> None:
    blocks = [
        HeaderBlock(text="Promote churn v3"),
        SectionBlock(text="*churn* v3", fields=["a", "b"]),
        ActionsBlock(
            block_id="approval",
            elements=[
                ButtonElement(text="Approve", action_id="approve", value="r1", style="primary"),
                ButtonElement(text="Reject", action_id="reject", value="r1", style="danger"),
            ],
        ),
    ]
    client.chat_postMessage(channel=CHANNEL, text="card", blocks=blocks)
    assert slack.messages()[0]["blocks"][2]["elements"][1]["style"] == "danger"


def test_rate_limited_once_then_posted(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client.chat_postMessage(channel=CHANNEL, text="after 429")

    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.95
    assert len(slack.messages()) == 1


def test_rate_limit_answer_on_the_wire(slack: FakeSlack) -> None:
    slack.fail_next("auth.test", status=429, retry_after=7)
    request = urllib.request.Request(
        slack.api_url + "auth.test", data=b"", headers={"Authorization": "Bearer xoxb-test"}
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 429
    assert exc.value.headers["Retry-After"] == "7"
    assert json.loads(exc.value.read()) == {"ok": False, "error": "ratelimited"}


def test_server_error_once_then_posted(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500)
    client.chat_postMessage(channel=CHANNEL, text="after 500")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 200]
    assert len(slack.messages()) == 1


def test_retries_exhausted_raise(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=503, times=2)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL, text="x")
    assert exc.value.response.status_code == 503
    assert slack.messages() == []


def test_fail_next_with_api_error(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL, text="x")
    assert api_error(exc) == "channel_not_found"
    client.chat_postMessage(channel=CHANNEL, text="x")  # only the next call failed


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("x" * 3001)], "/blocks/0/text/text"),
        ([section("ok")] * 51, "/blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0"),
        ([{"type": "actions", "elements": [button("b" * 76)]}], "/blocks/0/elements/0/text"),
        ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "/blocks/0/elements/0"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/blocks/0"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "/blocks/0"),
        ([{"type": "actions", "elements": [button(action_id=str(i)) for i in range(26)]}], ""),
        ([section("ok", block_id="b" * 256)], "/blocks/0/block_id"),
        ([{"type": "actions", "elements": [button(action_id="a" * 256)]}], "/action_id"),
        ([{"type": "sectionn", "text": {"type": "mrkdwn", "text": "x"}}], "/blocks/0/type"),
        ([{"text": {"type": "mrkdwn", "text": "x"}}], "/blocks/0"),
        ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "/text/type"),
        ([section("")], "/blocks/0/text/text"),
        ([section("a", block_id="same"), section("b", block_id="same")], "/blocks/1"),
    ],
)
def test_block_limits(blocks: list[dict[str, Any]], pointer: str) -> None:
    errors = validate_blocks(blocks)
    assert errors, blocks
    assert any(f"[json-pointer:{pointer}" in e or pointer in e for e in errors), errors


def test_valid_blocks_at_the_limits() -> None:
    blocks = [section("x" * 3000)] * 1 + [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {
            "type": "actions",
            "elements": [button("b" * 75, "v" * 2000, f"a{i}") for i in range(25)],
        },
        {"type": "divider"},
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    assert validate_blocks(blocks) == []


def test_invalid_blocks_refused(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL, text="t", blocks=[section("x" * 3001)])
    assert api_error(exc) == "invalid_blocks"
    assert exc.value.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert slack.messages() == []

    posted = client.chat_postMessage(channel=CHANNEL, text="t", blocks=[section("ok")])
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel=CHANNEL, ts=posted["ts"], blocks=[section("ok")] * 51)
    assert api_error(exc) == "invalid_blocks"
    assert slack.messages()[0]["blocks"] == [section("ok")]


def test_text_rules(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL)
    assert api_error(exc) == "no_text"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL, text="x" * 40_001)
    assert api_error(exc) == "msg_too_long"
    client.chat_postMessage(channel=CHANNEL, text="x" * 40_000)


def test_ephemeral_needs_user(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postEphemeral", json={"channel": CHANNEL, "text": "x"})
    assert api_error(exc) == "invalid_arguments"
    answer = client.chat_postEphemeral(channel=CHANNEL, user="U0REQ", text="not yours")
    assert answer["message_ts"]
    assert slack.ephemerals[0]["user"] == "U0REQ"
    assert slack.messages() == []


def test_a_user_id_as_channel_posts_in_the_bots_dm_with_that_user(
    slack: FakeSlack, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="U0BOB", text="reminder")
    opened = client.conversations_open(users="U0BOB")["channel"]["id"]
    assert posted["channel"] == opened and opened.startswith("D")  # Slack answers the DM's ID
    assert [m["text"] for m in slack.messages(opened)] == ["reminder"]
    assert slack.messages("U0BOB") == []
    assert client.conversations_open(channel=opened)["channel"]["id"] == opened
    for kwargs, error in [
        ({"users": ""}, "users_list_not_supplied"),
        ({"users": "not-a-user"}, "user_not_found"),
        ({"channel": "D0NEVER"}, "channel_not_found"),
    ]:
        with pytest.raises(SlackApiError) as exc:
            client.conversations_open(**kwargs)
        assert api_error(exc) == error


# ----------------------------------------------------------------------------- auth


def test_missing_and_wrong_auth(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as exc:
        WebClient(base_url=slack.api_url).chat_postMessage(channel=CHANNEL, text="x")
    assert api_error(exc) == "not_authed"
    with pytest.raises(SlackApiError) as exc:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert api_error(exc) == "invalid_auth"
    assert [c.status for c in slack.calls] == [200, 200]
    assert slack.messages() == []


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postMesage", json={"channel": CHANNEL, "text": "x"})
    assert api_error(exc) == "unknown_method"


# ----------------------------------------------------------------------------- files


def test_files_upload_v2_three_steps(slack: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=CHANNEL, text="drift report")
    answer = client.files_upload_v2(
        channel=CHANNEL,
        content=b"png bytes",
        filename="a.png",
        title="Drift",
        thread_ts=parent["ts"],
    )
    assert answer["file"]["title"] == "Drift"
    assert [c.method for c in slack.calls[1:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    get_url, upload, complete = slack.calls[1:]
    assert get_url.params["filename"] == "a.png"
    assert get_url.params["length"] == str(len(b"png bytes"))
    assert upload.params == {"file_id": answer["file"]["id"], "size": 9, "filename": "a.png"}
    assert upload.header("authorization") is None
    assert upload.body == b"png bytes"
    assert complete.params["channel_id"] == CHANNEL
    assert complete.params["thread_ts"] == parent["ts"]
    assert complete.decoded["files"] == [{"id": answer["file"]["id"], "title": "Drift"}]
    stored = slack.files[answer["file"]["id"]]
    assert (stored["channels"], stored["thread_ts"], stored["data"]) == (
        [CHANNEL],
        parent["ts"],
        b"png bytes",
    )


def test_complete_upload_needs_uploaded_file(client: WebClient) -> None:
    url = client.files_getUploadURLExternal(filename="a.png", length=3)
    with pytest.raises(SlackApiError) as exc:
        client.files_completeUploadExternal(files=[{"id": url["file_id"], "title": "a"}])
    assert api_error(exc) == "invalid_arguments"
    with pytest.raises(SlackApiError) as exc:
        client.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "a"}])
    assert api_error(exc) == "invalid_arguments"


def test_failed_upload_step_fails_files_upload_v2(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("upload", status=500)
    with pytest.raises(urllib.error.HTTPError):  # slack_sdk neither wraps nor retries this step
        client.files_upload_v2(channel=CHANNEL, content=b"x", filename="a.png")
    assert slack.calls_to("files.completeUploadExternal") == []


# ----------------------------------------------------------------------------- lookups


def test_usergroups_and_users(slack: FakeSlack, client: WebClient) -> None:
    slack.usergroups["S0ML_LEADS"] = ["U0APPROVER1", "U0APPROVER2"]
    answer = client.usergroups_users_list(usergroup="S0ML_LEADS")
    assert answer["users"] == ["U0APPROVER1", "U0APPROVER2"]
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_users_list(usergroup="S0NOPE")
    assert api_error(exc) == "no_such_subteam"

    slack.users["U0BOB"] = {"id": "U0BOB", "name": "bob", "tz": "Europe/Paris"}
    assert client.users_info(user="U0BOB")["user"]["tz"] == "Europe/Paris"
    assert client.users_info(user="U0ALICE")["user"]["id"] == "U0ALICE"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="not-a-user")
    assert api_error(exc) == "user_not_found"


def test_conversations_members_pages(slack: FakeSlack, client: WebClient) -> None:
    slack.channel_members[CHANNEL] = [f"U{i:04d}" for i in range(5)]
    # SlackResponse pages in place: read each page while iterating.
    pages = [page["members"] for page in client.conversations_members(channel=CHANNEL, limit=2)]
    assert pages == [["U0000", "U0001"], ["U0002", "U0003"], ["U0004"]]
    assert client.conversations_info(channel=CHANNEL)["channel"]["id"] == CHANNEL


# ----------------------------------------------------------------------------- views


def modal(**extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "reject",
        "title": {"type": "plain_text", "text": "Reject request"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason"},
            }
        ],
        **extra,
    }


def test_views_open_update_publish(slack: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="123.456.abc", view=modal(private_metadata="r1"))
    view_id = opened["view"]["id"]
    assert slack.views[view_id]["private_metadata"] == "r1"
    updated = client.views_update(view_id=view_id, view=modal(), hash=opened["view"]["hash"])
    assert updated["view"]["id"] == view_id
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id=view_id, view=modal(), hash=opened["view"]["hash"])
    assert api_error(exc) == "hash_conflict"

    home = {"type": "home", "blocks": [section("pending: 0")] * 100}
    client.views_publish(user_id="U0APPROVER1", view=home)
    assert len(slack.home_views["U0APPROVER1"]["blocks"]) == 100

    with pytest.raises(SlackApiError) as exc:
        client.views_open(
            trigger_id="123.456.abc", view=modal(title={"type": "plain_text", "text": "t" * 25})
        )
    assert api_error(exc) == "invalid_arguments"
    assert exc.value.response["errors"] == [
        "must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    with pytest.raises(SlackApiError) as exc:
        client.views_open(view=modal())
    assert api_error(exc) == "invalid_arguments"


def test_view_limits() -> None:
    assert validate_view(modal()) == []
    assert validate_view(modal(private_metadata="m" * 3001))
    assert validate_view(modal(callback_id="c" * 256))
    assert validate_view(modal(close={"type": "plain_text", "text": "c" * 25}))
    assert validate_view({**modal(), "blocks": [section("x")] * 101})
    no_submit = modal()
    del no_submit["submit"]
    assert validate_view(no_submit)


# ----------------------------------------------------------------------------- response_url


def test_response_url(slack: FakeSlack) -> None:
    hook = WebhookClient(slack.response_url("cmd1"))
    answer = hook.send(text="working on it", response_type="ephemeral")
    assert (answer.status_code, answer.body) == (200, "ok")
    bad = hook.send(text="x", blocks=[section("x" * 3001)])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    call = slack.wait_for("response_url", lambda c: c.params.get("text") == "working on it")[0]
    assert call.path == "/response/cmd1"
    assert call.params["response_type"] == "ephemeral"


# ----------------------------------------------------------------------------- wait_for


def test_wait_for_times_out_with_summary(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel=CHANNEL, text="something else")
    started = time.monotonic()
    with pytest.raises(AssertionError) as exc:
        slack.wait_for("chat.update", timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert "chat.postMessage -> 200" in str(exc.value)


def test_wait_for_sees_later_calls(slack: FakeSlack, client: WebClient) -> None:
    timer = threading.Timer(0.1, lambda: client.chat_postMessage(channel=CHANNEL, text="late"))
    timer.start()
    try:
        calls = slack.wait_for("chat.postMessage", lambda c: c.params["text"] == "late", timeout=5)
    finally:
        timer.join()
    assert calls[0].status == 200
