"""`GET /metrics`: Prometheus counters that move as the bot promotes and reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from bot.monitoring import schedules
from handlers import action_ids as ids
from tests.helpers import BotServer, serving_policy, wait_until
from tests.integration.test_approvals import click, request
from tests.slack_fake import FakeSlack

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def policy(tmp_path: Path) -> str:
    return f"""
[defaults]
approvers = ["U0APPROVER1"]
required_approvals = 1

[models.churn]
[models.churn.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "{tmp_path / "current.parquet"}"
channel = "C0ALERTS"
"""


@pytest.fixture
def mbot(mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotServer]:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
    ref.to_parquet(tmp_path / "reference.parquet")
    ref.assign(age=ref["age"] + 9).to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version("churn", "3").run_id  # the champion once promoted
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    with serving_policy(tmp_path, fake_slack, mlflow_store, policy(tmp_path)) as server:
        yield server


def scrape(bot: BotServer) -> Samples:
    resp = bot.http.get(f"{bot.url}/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        assert family.name.startswith("mlops_bot_"), family.name
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_a_promotion_and_a_report(mbot: BotServer) -> None:
    before = scrape(mbot)

    rid, card = request(mbot, "promote churn 3 champion better recall on the Q3 data")
    click(mbot, ids.REJECT, rid, "U0OUTSIDER", card)  # refused: not an approver
    wait_until(lambda: mbot.audited("approval_denied"))
    click(mbot, ids.APPROVE, rid, "U0APPROVER1", card)
    wait_until(lambda: mbot.audited("promotion_applied"))
    mbot.ask("drift churn")
    wait_until(lambda: mbot.audited("report_posted"), timeout=90)
    assert mbot.http.post(f"{mbot.url}/mlflow/webhook", content=b"{}").status_code == 503
    fire = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert [schedules.claim(mbot.runtime, "s-metrics", fire) for _ in range(2)] == [True, False]

    after = wait_until(
        lambda: (
            (s := scrape(mbot))
            and moved(before, s, "mlops_bot_report_seconds_count", kind="drift") == 1
            and s
        )
    )
    assert moved(before, after, "mlops_bot_promotion_requests_total", outcome="requested") == 1
    assert moved(before, after, "mlops_bot_decisions_total", outcome="applied") == 1
    assert moved(before, after, "mlops_bot_decisions_total", outcome="denied") == 1
    assert moved(before, after, "mlops_bot_alias_moves_total", model="churn", alias="champion") == 1
    assert moved(before, after, "mlops_bot_webhook_deliveries_total", result="disabled") == 1
    assert moved(before, after, "mlops_bot_scheduled_fires_claimed_total") == 1
    assert moved(before, after, "mlops_bot_report_failures_total", kind="drift") == 0
    assert moved(before, after, "mlops_bot_ack_seconds_count", kind="command") >= 2
    assert moved(before, after, "mlops_bot_ack_seconds_count", kind="action") == 2
    assert after[("mlops_bot_report_worker_healthy", ())] == 1
    assert after[("mlops_bot_report_queue_depth", ())] == 0
    assert ("mlops_bot_after_ack_queue_depth", ()) in after
    assert after[("mlops_bot_audit_chain_length", ())] >= 3  # requested, vote, applied, report
    assert 0 <= after[("mlops_bot_audit_last_anchor_age_seconds", ())] < 600
