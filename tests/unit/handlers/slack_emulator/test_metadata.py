"""Message metadata through the emulator, driven by the real slack_sdk WebClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.slack_fake import FakeSlack, web_client

CHANNEL = "C0MLOPS"
META = {"event_type": "mlops_bot_promotion_requested", "event_payload": {"request_id": "abc"}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return web_client(slack)


def test_metadata_is_kept_with_the_message_and_replaced_by_an_update(
    slack: FakeSlack, client: WebClient
) -> None:
    resp = client.chat_postMessage(channel=CHANNEL, text="card", metadata=META)
    assert resp["message"]["metadata"] == META and "warning" not in resp.data
    later = {"event_type": META["event_type"], "event_payload": {"request_id": "abc", "n": 2}}
    client.chat_update(channel=CHANNEL, ts=resp["ts"], text="card", metadata=later)
    stored = slack.message(CHANNEL, resp["ts"])
    assert stored is not None and stored["metadata"] == later


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_payload": {}},  # no event_type
        {"event_type": "x", "event_payload": "not an object"},
        ["not", "an", "object"],
    ],
)
def test_malformed_metadata_is_refused(client: WebClient, metadata: object) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call(
            "chat.postMessage", json={"channel": CHANNEL, "text": "x", "metadata": metadata}
        )
    assert exc.value.response["error"] == "invalid_metadata_format"


def test_a_bad_event_type_is_dropped_with_a_warning(slack: FakeSlack, client: WebClient) -> None:
    bad = {"event_type": "mlops.bot requested", "event_payload": {}}
    resp = client.chat_postMessage(channel=CHANNEL, text="x", metadata=bad)
    assert resp["warning"] == "invalid_metadata_schema"
    stored = slack.message(CHANNEL, resp["ts"])
    assert stored is not None and "metadata" not in stored
