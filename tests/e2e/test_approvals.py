"""Approvals end to end: a real `mlflow server` going down; two bot processes on PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import text

from bot import audit
from bot.storage import db
from handlers import action_ids as ids
from tests.helpers import (
    BotServer,
    MlflowServer,
    alias_of,
    serve_process,
    start_bot,
    wait_until,
)
from tests.integration.test_approvals import CHANNEL, POLICY, click, everything, request
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.slow


def test_mlflow_down_during_approval_then_back(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    shutil.copytree(mlflow_template, tmp_path / "store")
    server = MlflowServer(tmp_path / "store")
    server.start()
    one_approval = POLICY.replace("required_approvals = 2", "required_approvals = 1")
    bot = start_bot(
        tmp_path / "bot",
        fake_slack,
        mlflow_uri=server.url,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=one_approval,
    )
    try:
        rid, card = request(bot, "promote churn 3 champion better recall on the Q3 data")
        server.stop()
        url = click(bot, ids.APPROVE, rid, "U0APPROVER1", card)
        reply = everything(bot.reply_to(url, timeout=60))
        assert "MLflow failed" in reply and "press Approve to try again" in reply
        assert "MLflow failed" in everything(bot.fake.message(CHANNEL, card["ts"]) or {})
        acts = [e.action for e in audit.recent(bot.runtime.engine, limit=50) if e.request_id == rid]
        assert acts[0] == "promotion_failed" and "promotion_applied" not in acts

        server.start()  # same port, same store
        assert alias_of(server.url) == "1"  # nothing moved
        click(bot, ids.APPROVE, rid, "U0APPROVER2", card)
        wait_until(lambda: alias_of(server.url) == "3", timeout=30)
        wait_until(lambda: "Promoted" in everything(bot.fake.message(CHANNEL, card["ts"]) or {}))
        applied = bot.audited("promotion_applied", limit=50)
        assert len(applied) == 1
    finally:
        bot.stop()
        server.stop()


@pytest.mark.postgres
def test_fifty_clicks_on_two_processes_on_postgres_promote_once(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, pg_database: str
) -> None:
    fake_slack.usergroups["S0LEADS"] = ["U0LEAD"]
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)  # churn needs 2 approvals
    procs = [
        serve_process(tmp_path / f"p{i}", fake_slack, mlflow_store, pg_database, policy)
        for i in range(2)
    ]
    clients = [
        BotServer(url=url, fake=fake_slack, runtime=None, app=None, _stop=lambda: None)
        for _, url in procs
    ]
    try:
        rid, card = request(clients[0], "promote churn 3 champion better recall on the Q3 data")
        voters = ["U0APPROVER1", "U0APPROVER2", "U0LEAD", "U0REQ", "U0OUTSIDER"] * 10
        with concurrent.futures.ThreadPoolExecutor(25) as pool:
            list(
                pool.map(
                    lambda iv: click(clients[iv[0] % 2], ids.APPROVE, rid, iv[1], card, iv[0]),
                    enumerate(voters),
                )
            )
        wait_until(lambda: alias_of(mlflow_store) == "3", timeout=30)
        wait_until(
            lambda: "Promoted" in everything(fake_slack.message(CHANNEL, card["ts"]) or {}),
            timeout=30,
        )
        engine = db.make_engine(pg_database)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT action, count(*) FROM audit_event WHERE request_id = :r GROUP BY action"
                ),
                {"r": rid},
            ).all()
        counts = dict(rows)
        assert counts["promotion_applied"] == 1
        assert counts["approval_granted"] == 2
        assert counts["promotion_requested"] == 1
        assert audit.verify(engine).ok
        engine.dispose()

        def replies() -> int:
            calls = fake_slack.calls_to("chat.postMessage")
            return sum(1 for c in calls if c.params.get("thread_ts") == card["ts"])

        wait_until(replies)
        assert replies() == 1
        tags = (
            MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
            .get_model_version("churn", "3")
            .tags
        )
        assert tags["mlops_bot.request_id"] == rid
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            proc.wait(timeout=30)
