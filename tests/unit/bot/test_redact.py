"""bot.redact: no userinfo, query string or token survives, in texts and in log records."""

from __future__ import annotations

import logging

import pytest

from bot.redact import redact, redact_record

SECRETS = ["s3cret", "AKIAEXAMPLE", "deadbeef00", "xoxb-1-2-abc", "tok123456789"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:s3cret@mlflow:5000", "http://***@mlflow:5000"),
        (
            "API request to http://u:s3cret@h:1/api/2.0/x?y=1 failed",
            "API request to http://***@h:1/api/2.0/x?*** failed",
        ),
        (
            "`https://b.s3.amazonaws.com/d.csv?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature="
            "deadbeef00` answered HTTP 403",
            "`https://b.s3.amazonaws.com/d.csv?***` answered HTTP 403",
        ),
        ("postgresql+psycopg://postgres:s3cret@db/x", "postgresql+psycopg://***@db/x"),
        ("token xoxb-1-2-abc in a text", "token *** in a text"),
        ("Authorization: Bearer tok123456789", "Authorization: Bearer ***"),
        ("password=s3cret host=db", "password=*** host=db"),
        ("sqlite:///x.db and /data/ref.parquet", "sqlite:///x.db and /data/ref.parquet"),
        ("http://h:99/x?sig=s3cret#frag", "http://h:99/x?***"),
        ("http://[::1/x?sig=s3cret", "http://***"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert not any(s in redact(text) for s in SECRETS)


def test_log_records_are_redacted_with_their_args_and_traceback() -> None:
    try:
        raise ConnectionError("cannot reach http://u:s3cret@h/api")
    except ConnectionError:
        import sys

        record = logging.LogRecord(
            "x",
            logging.WARNING,
            __file__,
            1,
            "fetch %s failed",
            ("http://u:s3cret@h/?a=b",),
            sys.exc_info(),
        )
    redact_record(record)
    text = logging.Formatter().format(record)
    assert "s3cret" not in text and "http://***@h/?***" in text
    assert "cannot reach http://***@h/api" in text


def test_args_stay_args_and_a_uri_in_the_format_is_redacted_whole() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 1, "%s %d", ("a", 2), None)
    redact_record(record)
    assert record.args == ("a", 2)  # formatters that unpack args still can
    record = logging.LogRecord(
        "x", logging.INFO, "", 1, "GET http://h/x?token=%s -> %d", ("s3cret", 403), None
    )
    assert logging.Formatter().format(redact_record(record)) == "GET http://h/x?*** -> 403"
