"""No credential leaves the process: not in replies, posts, `/healthz`, the audit log or logs.

A tracking URI with `user:password@` and a data source with userinfo or a signed query string
(`X-Amz-Signature=…`) are the bot's to use, never to show.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import HEALTH_MLFLOW_DOWN, free_port, serving, wait_until
from tests.integration.test_slack_reports import CHANNEL, policy_for, text_of
from tests.slack_fake import FakeSlack

SECRET = "s3cret"
SIGNATURE = "f00dfeedcafe"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])


def test_tracking_uri_password_shows_nowhere(
    tmp_path: Path,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    caplog.set_level(logging.DEBUG)
    dead = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    with serving(
        tmp_path,
        fake_slack,
        mlflow_uri=dead,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=policy_for(tmp_path, str(tmp_path / "current.parquet")),
    ) as bot:
        replies = {
            text: text_of(bot.ask(text))
            for text in [
                "models",
                "show churn",
                "status",
                "promote churn 1 champion",
                "drift churn",
            ]
        }
        health = bot.http.get(f"{bot.url}/healthz")
    # The user is told MLflow is unreachable, without the password.
    assert all("MLflow" in reply for reply in replies.values()), replies
    assert "127.0.0.1" in replies["status"] and SECRET not in json.dumps(replies)
    assert health.status_code == 503
    assert health.json() == HEALTH_MLFLOW_DOWN
    assert SECRET not in json.dumps([c.params for c in fake_slack.calls])
    assert SECRET not in logged(caplog)


class Forbidden:
    """A loopback data source that answers every GET with 403, as an expired signed URL does."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.seen.append(self.path)
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.end_headers()
                self.wfile.write(b"<Error><Code>SignatureDoesNotMatch</Code></Error>")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


@pytest.fixture
def forbidden() -> Iterator[Forbidden]:
    f = Forbidden()
    yield f
    f.server.shutdown()


@pytest.mark.parametrize(
    "source",
    [
        f"http://reader:{SECRET}@127.0.0.1:{{port}}/current.csv",
        f"http://127.0.0.1:{{port}}/current.csv?X-Amz-Credential=AKIAX&X-Amz-Signature={SIGNATURE}",
    ],
    ids=["userinfo", "signed-query"],
)
def test_data_source_credentials_show_nowhere(
    source: str,
    forbidden: Forbidden,
    mlflow_store: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(
        tmp_path,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=policy_for(tmp_path, source.format(port=forbidden.port)),
    ) as bot:
        bot.command("drift churn")
        post = bot.posted_in(CHANNEL, timeout=90)
        failed = wait_until(lambda: bot.audited("report_failed"))
    assert forbidden.seen  # the source was asked, with its credentials
    text = text_of(post.params)
    assert "answered HTTP 403" in text and f"127.0.0.1:{forbidden.port}/current.csv" in text
    details = failed[0].details
    assert "answered HTTP 403" in details
    for shown in (text, details, logged(caplog)):
        assert SECRET not in shown and SIGNATURE not in shown and "AKIAX" not in shown
