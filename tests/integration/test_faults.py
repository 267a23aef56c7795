"""Faults (issue 8): the bot SIGKILLed mid-promotion, the database locked or gone, Slack
redelivering an event. Each ends with what a user sees and what the audit log holds."""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bot import audit
from bot.storage import db
from handlers import action_ids as ids
from tests.helpers import (
    BotServer,
    MlflowServer,
    alias_of,
    app_home_opened,
    serve_process,
    signed_headers,
    start_bot,
    wait_until,
)
from tests.integration.test_approvals import CHANNEL, POLICY, click, everything, request
from tests.proxies import HoldingProxy, TcpProxy
from tests.slack_fake import FakeSlack

# U0REQ owns churn: an owner may move an unprotected alias at once.
ONE_APPROVAL = POLICY.replace("required_approvals = 2", "required_approvals = 1").replace(
    "[models.churn]\n", '[models.churn]\nowners = ["U0REQ"]\n'
)
LOCKED = "database is unavailable or locked"


def actions_for(engine: Engine, request_id: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action FROM audit_event WHERE request_id = :r ORDER BY id"),
            {"r": request_id},
        ).all()
    return [r[0] for r in rows]


def status_of(engine: Engine, request_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM promotion_request WHERE id = :r"), {"r": request_id}
            ).scalar_one()
        )


def thread_replies(fake: FakeSlack, ts: str) -> int:
    return sum(1 for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts)


@pytest.mark.slow
@pytest.mark.parametrize("moved", [False, True], ids=["before-the-move", "after-the-move"])
def test_bot_sigkilled_between_decision_and_alias_move_is_recovered_once(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path, moved: bool
) -> None:
    """The approval is decided, MLflow's set-alias call is in flight, the bot is SIGKILLed.

    before-the-move: the call never reached MLflow. after-the-move: MLflow moved the alias
    but the bot died before writing `promotion_applied`. A restarted bot finishes the request
    either way: the alias moves once, one `promotion_applied`, the card and thread say so.
    """
    shutil.copytree(mlflow_template, tmp_path / "store")
    server = MlflowServer(tmp_path / "store")
    server.start()
    proxy = HoldingProxy(
        server.url,
        lambda method, path: method == "POST" and path.endswith("/registered-models/alias"),
        forward_first=moved,
    ).start()
    policy = tmp_path / "policy.toml"
    policy.write_text(ONE_APPROVAL)
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = db.make_engine(db_url)
    serve = dict(MLOPS_BOT_RECOVER_AFTER_SECONDS="1", MLOPS_BOT_RECOVER_INTERVAL_SECONDS="1")
    procs = []
    try:
        proc, url = serve_process(tmp_path / "a", fake_slack, proxy.url, db_url, policy, **serve)
        procs.append(proc)
        client = BotServer(url=url, fake=fake_slack, runtime=None, app=None, _stop=lambda: None)
        rid, card = request(client, "promote churn 3 champion better recall on the Q3 data")
        click(client, ids.APPROVE, rid, "U0APPROVER1", card)
        assert proxy.held.wait(60), "the bot never called set-alias"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed = time.monotonic()
        proxy.release()

        assert alias_of(server.url) == ("3" if moved else "1")
        assert status_of(engine, rid) == "applying"
        assert "promotion_applied" not in actions_for(engine, rid)

        # the recovery job at start takes requests whose last vote is over 1 s old
        wait_until(lambda: time.monotonic() - killed > 1.5, timeout=5)
        proc, _ = serve_process(tmp_path / "b", fake_slack, proxy.url, db_url, policy, **serve)
        procs.append(proc)
        wait_until(lambda: status_of(engine, rid) == "applied", timeout=90)
        assert alias_of(server.url) == "3"
        wait_until(lambda: "Promoted" in everything(fake_slack.message(CHANNEL, card["ts"]) or {}))
        wait_until(lambda: thread_replies(fake_slack, card["ts"]) == 1)
        acts = actions_for(engine, rid)
        assert acts.count("promotion_applied") == 1 and acts.count("approval_granted") == 1
        with engine.connect() as conn:
            oob = conn.execute(
                text("SELECT count(*) FROM audit_event WHERE action = 'out_of_band_change'")
            ).scalar_one()
        assert oob == 0  # the bot's own (recovered) promotion is not flagged
        assert audit.verify(engine).ok
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        proxy.stop()
        server.stop()
        engine.dispose()


def test_locked_sqlite_gets_a_clear_answer_and_changes_nothing(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    db_file = tmp_path / "bot.db"
    bot = start_bot(
        tmp_path,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{db_file}?timeout=1",
        policy=ONE_APPROVAL,
    )
    engine = bot.runtime.engine
    try:
        rid, card = request(bot, "promote churn 3 champion better recall on the Q3 data")
        cards_before = len(fake_slack.messages(CHANNEL))
        locker = sqlite3.connect(db_file, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            url = click(bot, ids.APPROVE, rid, "U0APPROVER1", card)
            assert LOCKED in everything(bot.reply_to(url))
            # unprotected: would move at once
            assert LOCKED in bot.ask("promote churn 2 staging")["text"]
            assert LOCKED in bot.ask("promote fraud-detector 1 champion first version")["text"]
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert alias_of(mlflow_store) == "1"
        assert alias_of(mlflow_store, alias="staging") is None
        assert len(fake_slack.messages(CHANNEL)) == cards_before  # no card without a request
        assert status_of(engine, rid) == "pending"
        assert actions_for(engine, rid) == ["promotion_requested"]
        with engine.connect() as conn:
            n_requests = conn.execute(text("SELECT count(*) FROM promotion_request")).scalar_one()
        assert n_requests == 1

        click(bot, ids.APPROVE, rid, "U0APPROVER1", card, n=1)  # the lock is gone: it works
        wait_until(lambda: status_of(engine, rid) == "applied")
        assert alias_of(mlflow_store) == "3"
        assert audit.verify(engine).ok

        # Each failure is logged under the trace ID of the Slack request that met it.
        requests: dict[str, str] = {}
        for r in caplog.records:  # the first middleware line of a request says what it is
            if r.name == "handlers.middleware":
                requests.setdefault(r.trace_id, r.getMessage())
        failures = {
            r.getMessage().split(":")[0]: requests.get(r.trace_id, "")
            for r in caplog.records
            if "database error" in r.getMessage()
        }
        assert failures["work after ack"].startswith(
            f"action {ids.APPROVE} request {rid} from U0APPROVER1"
        )
        assert failures["/mlops promote"].startswith("command /mlops promote from U0REQ")
    finally:
        bot.stop()


@pytest.mark.postgres
def test_postgres_going_away_gets_a_clear_answer_and_recovers(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, pg_database: str
) -> None:
    real = make_url(pg_database)
    proxy = TcpProxy(real.port or 5432).start()
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    bot = start_bot(
        tmp_path, fake_slack, mlflow_uri=mlflow_store, database_url=via_proxy, policy=ONE_APPROVAL
    )
    engine = db.make_engine(pg_database)  # the test's own view, not through the proxy
    try:
        rid, card = request(bot, "promote churn 3 champion better recall on the Q3 data")
        proxy.cut()
        url = click(bot, ids.APPROVE, rid, "U0APPROVER1", card)
        assert LOCKED in everything(bot.reply_to(url))
        assert LOCKED in bot.ask("promote churn 2 staging")["text"]
        assert alias_of(mlflow_store) == "1"
        assert alias_of(mlflow_store, alias="staging") is None
        assert actions_for(engine, rid) == ["promotion_requested"]
        assert status_of(engine, rid) == "pending"

        proxy.restore()
        click(bot, ids.APPROVE, rid, "U0APPROVER1", card, n=1)
        wait_until(lambda: status_of(engine, rid) == "applied")
        assert alias_of(mlflow_store) == "3"
        assert audit.verify(engine).ok
    finally:
        bot.stop()
        proxy.cut()
        engine.dispose()


def test_slack_event_retries_do_not_repeat_work(bot: BotServer) -> None:
    def publishes() -> int:
        return len(bot.fake.calls_to("views.publish"))

    def deliver(event_id: str, retry: int | None = None) -> None:
        body = app_home_opened("U0APPROVER1", event_id)
        headers = signed_headers(body, content_type="application/json")
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        assert bot.post(body, headers).status_code == 200

    deliver("Ev0RETRY1")
    wait_until(lambda: publishes() == 1)
    deliver("Ev0RETRY1", retry=1)
    deliver("Ev0RETRY1", retry=2)
    deliver("Ev0NEVERSEEN", retry=1)  # the first delivery was lost: this one does the work
    wait_until(lambda: publishes() >= 2)
    deliver("Ev0LATER")
    wait_until(lambda: publishes() >= 3)
    assert publishes() == 3
    with bot.runtime.engine.connect() as conn:
        seen = conn.execute(
            text("SELECT delivery_id FROM webhook_delivery ORDER BY delivery_id")
        ).scalars()
        assert list(seen) == [
            "slack-event:Ev0LATER",
            "slack-event:Ev0NEVERSEEN",
            "slack-event:Ev0RETRY1",
        ]


def test_slack_errors_and_timeouts_are_retried_where_safe_and_delivered_once(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 on posting the card is retried (one card). A card update that times out is sent
    again (updating twice is harmless); a thread reply that times out is not (Slack posted it):
    one reply."""
    bot = start_bot(
        tmp_path,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=ONE_APPROVAL,
        mlops_bot_slack_timeout_seconds=1,
    )
    try:
        fake_slack.fail_next("chat.postMessage", status=500)
        rid, card = request(bot, "promote churn 3 champion better recall on the Q3 data")
        assert len(fake_slack.messages(CHANNEL)) == 1  # the 500, then one card

        fake_slack.slow_next("chat.update", seconds=3)
        fake_slack.slow_next("chat.postMessage", seconds=3)  # the thread reply
        url = click(bot, ids.APPROVE, rid, "U0APPROVER1", card)
        wait_until(lambda: "Promoted" in everything(fake_slack.message(CHANNEL, card["ts"]) or {}))
        assert alias_of(mlflow_store) == "3"
        # the timed-out reply is logged, not raised: the clicker gets no error message
        wait_until(lambda: any("TimeoutError" in r.getMessage() for r in caplog.records))
        assert not [c for c in fake_slack.calls_to("response_url") if url.endswith(c.path)]
        wait_until(lambda: len(fake_slack.calls_to("chat.update")) >= 2)  # timed out, re-sent
        wait_until(lambda: thread_replies(fake_slack, card["ts"]) == 1)
        replies = [m for m in fake_slack.messages(CHANNEL) if m.get("thread_ts") == card["ts"]]
        assert len(replies) == 1 and "moved to v3" in replies[0]["text"]
        roots = [m for m in fake_slack.messages(CHANNEL) if not m.get("thread_ts")]
        assert len(roots) == 1
        assert actions_for(bot.runtime.engine, rid).count("promotion_applied") == 1

        fake_slack.slow_next("chat.postMessage", seconds=3)  # a new card, answered late
        reply = bot.ask("promote churn 2 champion simpler model")["text"]
        assert "Slack did not confirm its card" in reply
        cards = [m for m in fake_slack.messages(CHANNEL) if not m.get("thread_ts")]
        assert len(cards) == 2  # posted once, not retried
    finally:
        bot.stop()
