"""Read-only `/mlops` subcommands over signed HTTP against a real MLflow store."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import BotServer, app_home_opened, signed_headers


def _text(reply: dict) -> str:
    """Everything a user reads in a reply: fallback text plus every block's text."""
    return reply.get("text", "") + "\n" + json.dumps(reply.get("blocks", []), ensure_ascii=False)


def test_models_lists_aliases_to_versions(bot: BotServer) -> None:
    resp, url = bot.command("models")
    assert resp.status_code == 200
    reply = bot.reply_to(url)
    assert reply["response_type"] == "ephemeral"
    text = _text(reply)
    assert "`@champion` → v1" in text and "`@challenger` → v3" in text
    assert "fraud-detector" in text and "`@production` → v1" in text
    assert "empty-model" in text and "no versions" in text


def test_show_by_alias_and_by_version(bot: BotServer) -> None:
    text = _text(bot.ask("show churn @challenger"))
    assert "churn v3" in text and "roc_auc" in text and "0.85" in text
    assert "n_estimators" in text

    text = _text(bot.ask("show churn 2"))
    assert "churn v2" in text and "0.82" in text


def test_show_latest_when_no_ref(bot: BotServer) -> None:
    assert "churn v3" in _text(bot.ask("show churn"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("show chrun", "Did you mean `churn`"),
        ("show churn 99", "no version `99`"),
        ("show churn @nope", "no alias `@nope`"),
        ("show churn abc", "neither a version number nor an @alias"),
        ("show", "Usage"),
        ("show empty-model", "has no versions"),
        ("models extra", "takes no arguments"),
    ],
)
def test_errors_are_ephemeral_and_name_the_problem(
    bot: BotServer, text: str, expected: str
) -> None:
    reply = bot.ask(text)
    assert reply["response_type"] == "ephemeral"
    assert expected in _text(reply)


def test_help_and_unknown_subcommand_answer_in_the_ack(bot: BotServer) -> None:
    resp, _ = bot.command("help")
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert "/mlops promote" in _text(body)

    resp, _ = bot.command("frobnicate now")
    body = resp.json()
    assert "Unknown subcommand `frobnicate`" in _text(body)
    assert "/mlops models" in _text(body)

    resp, _ = bot.command("")
    assert "/mlops show" in _text(resp.json())


def test_status_reports_database_and_mlflow(bot: BotServer) -> None:
    text = _text(bot.ask("status"))
    assert "database" in text and "sqlite" in text
    assert "mlflow" in text and ":white_check_mark:" in text


@pytest.mark.parametrize(
    "text",
    [
        'show "churn',
        "show \u201cchurn\u201d @champion",
        "show churn @champion 🚀🚀",
        "payload=" + "x" * 50,
        "show <@U123|bob> <#C123|general> <!subteam^S1|@leads>",
        "show " + "é" * 3990,
        "show &lt;script&gt; &amp;",
        "models\n\n\t",
    ],
)
def test_odd_text_gets_a_clear_answer(bot: BotServer, text: str) -> None:
    resp, url = bot.command(text)
    assert resp.status_code == 200
    if resp.content:  # answered in the ack
        assert _text(resp.json())
        return
    reply = bot.reply_to(url)
    assert reply["text"]
    assert "Traceback" not in _text(reply)
    assert "Something went wrong" not in _text(reply)


def test_forged_signature_is_refused(bot: BotServer) -> None:
    body = "command=%2Fmlops&text=models&user_id=U1&channel_id=C1"
    headers = signed_headers(body, secret="wrong-secret")
    assert bot.post(body, headers).status_code == 401


def test_stale_timestamp_is_refused(bot: BotServer) -> None:
    body = "command=%2Fmlops&text=models&user_id=U1&channel_id=C1"
    headers = signed_headers(body, ts=int(time.time()) - 6 * 60)
    assert bot.post(body, headers).status_code == 401


def test_unsigned_request_is_refused(bot: BotServer) -> None:
    body = "command=%2Fmlops&text=models"
    resp = bot.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 401
    assert bot.fake.calls_to("response_url") == []


def test_oversize_and_non_utf8_bodies(bot: BotServer) -> None:
    big = "text=" + "a" * (2 << 20)
    assert bot.post(big, signed_headers(big)).status_code == 413
    resp = bot.http.post(
        f"{bot.url}/slack/events", content=b"\xff\xfe", headers=signed_headers("x")
    )
    assert resp.status_code == 400


def test_healthz(bot: BotServer) -> None:
    resp = bot.http.get(f"{bot.url}/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok" and resp.json()["db"] == "ok"


def test_app_home_publishes_a_view(bot: BotServer) -> None:
    body = app_home_opened("U0APPROVER1", "Ev0001")
    resp = bot.post(body, signed_headers(body, content_type="application/json"))
    assert resp.status_code == 200
    call = bot.fake.wait_for("views.publish")[0]
    assert call.ok and call.decoded["user_id"] == "U0APPROVER1"
