"""Reports one user cannot break or flood: a killed worker is replaced and reported once,
identical requests are merged, the queue is limited per user and per model."""

from __future__ import annotations

import http.server
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.helpers import BotServer, serving, wait_until
from tests.integration.test_slack_reports import policy_for, text_of
from tests.slack_fake import FakeSlack

CHANNEL = "C0MLOPS"


class HeldData:
    """Serves the current data set over HTTP, but only once `release()` is called: a report
    that asked for it is in the worker, computing, until then."""

    def __init__(self, body: bytes) -> None:
        self.asked, self.released = threading.Event(), threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.asked.set()
                if not outer.released.wait(60):
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/current.parquet"

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held_bot(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> Iterator[tuple[BotServer, HeldData]]:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
    ref.to_parquet(tmp_path / "reference.parquet")
    ref.assign(age=ref["age"] + 9).to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    held = HeldData((tmp_path / "current.parquet").read_bytes())
    with serving(
        tmp_path / "bot",
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=policy_for(tmp_path, held.url),
        mlops_bot_report_user_limit=2,
        mlops_bot_report_model_limit=3,
    ) as server:
        yield server, held
        held.release()
    held.server.shutdown()


def worker_pids(bot: BotServer) -> list[int]:
    """The report worker processes of the bot's pool."""
    pool = bot.services.reports._pool
    return [p.pid for p in (pool._processes or {}).values()] if pool else []


def summaries(bot: BotServer, channel: str) -> list[dict]:
    return [m for m in bot.fake.messages(channel) if not m.get("thread_ts")]


def test_one_user_cannot_flood_reports_and_others_still_get_theirs(
    held_bot: tuple[BotServer, HeldData],
) -> None:
    bot, held = held_bot
    first = text_of(bot.ask("drift churn", user="U0FLOOD"))
    assert "Working on the drift report" in first
    assert held.asked.wait(60)  # the worker is on it (and holds it until released)
    again = [text_of(bot.ask("drift churn", user="U0FLOOD")) for _ in range(8)]
    assert all("already queued for this channel" in r for r in again), again
    assert "Working on the drift report" in text_of(
        bot.ask("drift churn", user="U0FLOOD", channel="C0SECOND")
    )
    busy = text_of(bot.ask("perf churn", user="U0FLOOD", channel="C0THIRD"))
    assert "You already have 2 reports queued" in busy
    assert "Working on the drift report" in text_of(
        bot.ask("drift churn", user="U0BOB", channel="C0BOB")
    )
    model_busy = text_of(bot.ask("drift churn", user="U0CAROL", channel="C0CAROL"))
    assert "3 reports of `churn` are queued" in model_busy
    held.release()
    for channel in (CHANNEL, "C0SECOND", "C0BOB"):
        post = bot.posted_in(channel, timeout=120)
        assert "churn @champion v1" in text_of(post.decoded)
    wait_until(lambda: len(bot.audited("report_posted")) == 3, timeout=60)
    assert len(summaries(bot, CHANNEL)) == 1  # nine identical requests, one report
    assert summaries(bot, "C0THIRD") == [] and summaries(bot, "C0CAROL") == []


def test_a_killed_worker_is_reported_once_replaced_and_shown_in_status(
    held_bot: tuple[BotServer, HeldData],
) -> None:
    bot, held = held_bot
    bot.ask("drift churn")
    assert held.asked.wait(60)
    pids = worker_pids(bot)
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)  # as the out-of-memory killer would
    failure = bot.posted_in(CHANNEL, timeout=60)
    assert "report worker stopped" in failure.params["text"]
    failed = wait_until(lambda: bot.audited("report_failed"))
    assert len(failed) == 1

    def status() -> str:
        return text_of(bot.ask("status"))

    shown = wait_until(
        lambda: next((s for s in [status()] if "worker died" in s), None), interval=1
    )
    assert "report worker: FAIL" in shown
    held.release()
    assert "Working on the drift report" in text_of(bot.ask("drift churn"))
    wait_until(lambda: bot.audited("report_posted"), timeout=120)
    texts = [m.get("text", "") for m in summaries(bot, CHANNEL)]
    assert len(texts) == 2 and "churn @champion v1" in texts[1], texts
    assert sum("report worker stopped" in t for t in texts) == 1
    assert len(bot.audited("report_failed")) == 1
    assert pids[0] not in worker_pids(bot)
    wait_until(lambda: "report worker: ok" in status(), timeout=30, interval=1)
