"""Bolt's global error handler: a sentence with a reference to the user, the error logged."""

from __future__ import annotations

import logging

import pytest
from slack_bolt import BoltContext

from handlers.errors import handle_error
from tests.unit.handlers.doubles import RecordingRespond


def test_an_uncaught_error_is_told_with_a_reference_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    respond = RecordingRespond()
    context = BoltContext()
    context["respond"] = respond
    body = {"command": "/mlops", "text": "models"}
    with caplog.at_level(logging.ERROR):
        handle_error(RuntimeError("secret internals"), body, context)
    assert len(respond.messages) == 1
    text = respond.messages[0]["text"]
    assert "Something went wrong (ref `e" in text and "secret internals" not in text
    ref = text.split("ref `", 1)[1].split("`", 1)[0]
    assert any(ref in r.getMessage() and "/mlops models" in r.getMessage() for r in caplog.records)


def test_an_event_without_response_url_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        handle_error(ValueError("x"), {"type": "event_callback"}, BoltContext())
    assert any("failed (ref e" in r.getMessage() for r in caplog.records)
