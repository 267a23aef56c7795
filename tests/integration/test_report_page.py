"""Report pages over real HTTP: the posted report links to its page, the page holds every
feature and chart, and altered, expired or unknown links get a plain refusal."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bot.monitoring import links
from tests.helpers import BotServer, page_parts, serving_policy, wait_until
from tests.slack_fake import FakeSlack

CHANNEL = "C0MLOPS"
PUBLIC = "https://mlops-bot.example.com/base"
LINK = "Full report in the browser"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def report_data(tmp_path: Path, mlflow_store: str) -> str:
    """Reference logged on the champion's run, current with `age` shifted; the policy."""
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 2000),
            "plan": rng.choice(["a", "b"], 2000),
            "<b>x</b>": rng.normal(0, 1, 2000),
        }
    )
    ref.to_parquet(tmp_path / "reference.parquet")
    ref.assign(age=ref["age"] + 9).drop(columns=["plan"]).to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    return f"""
[models.churn]
owners = ["U0ALICE"]
[models.churn.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "{tmp_path / "current.parquet"}"
"""


@pytest.fixture
def page_bot(mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotServer]:
    policy = report_data(tmp_path, mlflow_store)
    with serving_policy(
        tmp_path, fake_slack, mlflow_store, policy, mlops_bot_public_url=PUBLIC
    ) as server:
        yield server


def posted_link(bot: BotServer) -> str:
    """The page URL in the report's summary message, moved onto the test server's address."""
    bot.ask("drift churn")
    post = bot.fake.wait_for(
        "chat.postMessage",
        lambda c: c.params.get("channel") == CHANNEL and LINK in json.dumps(c.decoded),
        timeout=90,
    )[0]
    text = json.dumps(post.decoded["blocks"])
    start = text.index(PUBLIC)
    url = text[start : text.index("|", start)]
    return bot.url + url[len(PUBLIC) :]


def test_posted_report_links_to_its_page_and_only_that_link_opens_it(
    page_bot: BotServer,
) -> None:
    url = posted_link(page_bot)
    assert urlsplit(url).path.startswith("/reports/")
    done = page_bot.fake.wait_for("files.completeUploadExternal", timeout=60)[0]
    wait_until(lambda: page_bot.audited("report_posted"))
    resp = page_bot.http.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["referrer-policy"] == "no-referrer"
    page = page_parts(resp.text)
    features = page.tables["features-table"]
    names = [row[0] for row in features[1:]]
    assert names[0] == "age" and set(names) == {"age", "<b>x</b>"}  # plan: missing
    assert "<b>x</b>" not in resp.text  # shown as text, escaped
    # every chart uploaded to Slack is on the page, inlined
    files = [str(f.get("title") or f.get("id")) for f in done.decoded["files"]]
    charts = [f for f in files if not f.endswith(".csv")]  # the table's CSV is not a chart
    assert len(charts) >= 2 and len(page.urls) == len(charts), files
    assert all(u.startswith("data:image/png;base64,") for u in page.urls)
    assert "Missing in current (1) plan" in page.text
    assert page_bot.http.post(url).status_code == 405  # read-only
    refused(page_bot, url)


def refused(bot: BotServer, url: str) -> None:
    """Altered links get 403, an expired one 410, an unknown report 404: plain pages."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    rid, expires, sig = parts.path.rsplit("/", 1)[1], query["expires"][0], query["sig"][0]
    base = f"{bot.url}/reports"
    bad_sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    for wrong in (
        f"{base}/{rid}?expires={expires}&sig={bad_sig}",
        f"{base}/{rid}?expires={int(expires) + 60}&sig={sig}",
        f"{base}/{rid}",
        f"{base}/{rid}?expires=%F0%9F%92%A5&sig=%00",
    ):
        resp = bot.http.get(wrong)
        assert resp.status_code == 403, wrong
        assert "This link is not valid" in resp.text and "Traceback" not in resp.text
        assert "features-table" not in resp.text and "<b>" not in resp.text
    key = links.link_key(bot.runtime.settings)
    assert key is not None
    past = int(time.time()) - 60  # signed by the bot's key, but expired
    resp = bot.http.get(f"{base}/{rid}?expires={past}&sig={links.signature(key, rid, past)}")
    assert resp.status_code == 410 and "expired" in resp.text
    future = int(time.time()) + 600
    gone = "0123456789ab"
    resp = bot.http.get(f"{base}/{gone}?expires={future}&sig={links.signature(key, gone, future)}")
    assert resp.status_code == 404 and "no longer exists" in resp.text


@pytest.mark.postgres
def test_charts_round_trip_on_postgres(pg_database: str) -> None:
    """Any replica renders a page from the database: the PNG bytes come back as stored."""
    from bot.monitoring import pages
    from bot.storage import db
    from bot.storage.tables import ReportRecord
    from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY

    engine = db.make_engine(pg_database)
    try:
        db.upgrade(engine)
        png = bytes(range(256)) * 4
        with db.session(engine, write=True) as s:
            s.add(ReportRecord(id="pg0page0001", kind="drift", body=OLD_DRIFT_BODY, created_at=NOW))
            pages.add_charts(s, "pg0page0001", [("b.png", png), ("a.png", b"\x89PNG")])
            s.commit()
        html = pages.stored_page(engine, "pg0page0001")
        assert html is not None and pages.stored_page(engine, "nope") is None
        page = page_parts(html)
        assert page.urls == [
            "data:image/png;base64," + base64.b64encode(png).decode(),
            "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode(),
        ]  # in the order they were posted
        assert [r[0] for r in page.tables["features-table"][1:3]] == ["age", "plan"]
    finally:
        engine.dispose()
