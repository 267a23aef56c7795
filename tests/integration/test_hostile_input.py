"""Hostile input at the HTTP endpoints: always a clear answer, never a 500, never a side effect."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import audit
from tests.helpers import BOT_TOKEN, SIGNING_SECRET, BotServer, serving, signed_headers
from tests.slack_fake import FakeSlack

SLOW = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def hbot(mlflow_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    import shutil

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(mlflow_template, root / "mlflow")
    with (
        FakeSlack() as fake,
        serving(
            root / "bot",
            fake,
            mlflow_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
            database_url=f"sqlite:///{root / 'bot.db'}",
            policy=(
                '[defaults]\napprovers = ["U0APPROVER1"]\n'
                '[models.churn]\nowners = ["U0REQ"]\n'  # may schedule churn's reports
            ),
            mlflow_webhook_secret="whsec",
        ) as server,
    ):
        yield server


def _aliases(bot: BotServer) -> dict:
    return {m.name: m.aliases for m in bot.runtime.registry.list_models()}


@SLOW
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=8))
def test_random_signed_form_bodies(hbot: BotServer, form: dict) -> None:
    body = urlencode(form)
    resp = hbot.post(body, signed_headers(body))
    assert resp.status_code < 500


@SLOW
@given(st.text(max_size=300))
def test_broken_payload_json(hbot: BotServer, junk: str) -> None:
    body = urlencode({"payload": junk})
    resp = hbot.post(body, signed_headers(body))
    assert resp.status_code < 500


def _button_click(
    hbot: BotServer, action_id: str, value: str, kind: str = "block_actions"
) -> dict[str, Any]:
    """A minimal interaction payload pressing `action_id` with `value`."""
    return {
        "type": kind,
        "user": {"id": "U0APPROVER1"},
        "team": {"id": "T0TEAM"},
        "api_app_id": "A0APP",
        "trigger_id": "t",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"},
        "channel": {"id": "C1"},
        "response_url": hbot.fake.response_url("h"),
        "actions": [{"action_id": action_id, "value": value, "block_id": "b", "type": "button"}],
    }


@SLOW
@given(
    action_id=st.text(max_size=40),
    value=st.text(max_size=300),
    kind=st.sampled_from(["block_actions", "view_submission", "shortcut", "x"]),
)
def test_unknown_actions_and_forged_values_change_nothing(
    hbot: BotServer, action_id: str, value: str, kind: str
) -> None:
    before = _aliases(hbot)
    payload = {
        **_button_click(hbot, action_id, value, kind),
        "view": {"callback_id": action_id, "private_metadata": value, "state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)})
    resp = hbot.post(body, signed_headers(body))
    assert resp.status_code < 500
    assert _aliases(hbot) == before


@SLOW
@given(st.text(max_size=4000))
def test_any_command_text(hbot: BotServer, text: str) -> None:
    resp, _ = hbot.command(text)
    assert resp.status_code == 200


def test_forged_request_id_in_approve_is_denied_not_trusted(hbot: BotServer) -> None:
    from handlers import action_ids as ids

    before = _aliases(hbot)
    for value in ["../../etc", "abcdefabcdef", "' OR 1=1 --", "9" * 5000]:
        payload = _button_click(hbot, ids.APPROVE, value)
        body = urlencode({"payload": json.dumps(payload)})
        assert hbot.post(body, signed_headers(body)).status_code == 200
    assert _aliases(hbot) == before
    assert audit.verify(hbot.runtime.engine).ok


def test_secrets_never_reach_logs_or_slack(
    hbot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hbot.command("status")
    hbot.command("show chrun")
    body = "payload=" + "{broken"
    hbot.post(body, signed_headers(body))
    hbot.post("x=1", signed_headers("x=1", secret="forged"))
    hbot.fake.wait_for("response_url", count=2)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    sent = "\n".join(json.dumps(c.params) for c in hbot.fake.calls)
    for secret in (BOT_TOKEN, SIGNING_SECRET, "whsec"):
        assert secret not in logged
        assert secret not in sent
    assert repr(hbot.runtime.settings).count(SIGNING_SECRET) == 0


@pytest.mark.parametrize(
    "text",
    [
        "show <!channel>",  # "No registered model named …" quotes the name
        "show churn <@U123>",  # "… is neither a version number nor an @alias"
        "promote churn <!subteam^S1> champion",  # "… is not a version number"
        "drift churn @<https://evil.example|x>",  # "… has no alias …"
        'schedule add drift churn "<!channel> & co" <#C0MLOPS|mlops>',  # the cron is quoted back
    ],
)
def test_errors_that_echo_the_users_text_escape_it(hbot: BotServer, text: str) -> None:
    reply = hbot.ask(text)
    shown = [reply["text"], *(json.dumps(b) for b in reply.get("blocks") or [])]
    for raw in ("<!channel>", "<@U123>", "<!subteam^S1>", "<https://evil.example|x>"):
        assert not any(raw in s for s in shown), (text, reply)
    assert "&lt;" in reply["text"], reply
