"""Reports in Slack: on demand, scheduled exactly once, failures posted, 429 retried once."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bot import audit
from bot.monitoring import schedules
from bot.storage.tables import ReportRecord
from handlers.reports.posting import load_record
from jobs.reports import tick
from tests.helpers import BotServer, QuietHandler, serve_loopback, serving, start_bot, wait_until
from tests.slack_fake import FakeSlack

CHANNEL = "C0MLOPS"


def policy_for(tmp_path: Path, current: str, retrain_url: str | None = None) -> str:
    retrain = f'retrain_url = "{retrain_url}"' if retrain_url else ""
    return f"""
[defaults]
approvers = ["U0APPROVER1"]

[models.churn]
owners = ["U0ALICE"]
[models.churn.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "{current}"
channel = "C0ALERTS"
schedule = "0 9 * * 1-5"
{retrain}
"""


class Receiver:
    """A loopback retraining endpoint that checks mlops-bot's signature."""

    def __init__(self, secret: str, statuses: list[int]) -> None:

        self.secret, self.statuses, self.seen = secret, statuses, []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers["X-Mlops-Bot-Timestamp"]
                expected = (
                    "sha256="
                    + hmac.new(
                        outer.secret.encode(), f"{ts}.".encode() + body, hashlib.sha256
                    ).hexdigest()
                )
                valid = hmac.compare_digest(expected, self.headers["X-Mlops-Bot-Signature"])
                outer.seen.append((valid, json.loads(body)))
                status = outer.statuses.pop(0) if outer.statuses else 202
                self.send_response(status if valid else 401)
                self.end_headers()

        self.server, base = serve_loopback(Handler)
        self.url = base + "/hooks/retrain"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver("outbound-secret", [503])  # first attempt fails: the bot retries
    yield r
    r.server.shutdown()


@pytest.fixture
def rbot(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, receiver: Receiver
) -> Iterator[BotServer]:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
    cur = ref.assign(age=ref["age"] + 9)
    ref.to_parquet(tmp_path / "reference.parquet")
    cur.to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    with report_bot(
        tmp_path,
        "bot",
        fake_slack,
        mlflow_store,
        receiver,
        mlops_bot_outbound_secret="outbound-secret",
    ) as server:
        yield server


def report_bot(
    tmp_path: Path,
    name: str,
    fake_slack: FakeSlack,
    mlflow_store: str,
    receiver: Receiver,
    **settings: str,
) -> AbstractContextManager[BotServer]:
    """A bot on its own database `name`.db over the churn monitor of `policy_for`."""
    return serving(
        tmp_path / name,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / f'{name}.db'}",
        policy=policy_for(tmp_path, str(tmp_path / "current.parquet"), receiver.url),
        **settings,
    )


def text_of(call_params: dict) -> str:
    return call_params.get("text", "") + json.dumps(call_params.get("blocks", ""))


def test_on_demand_drift_posts_summary_then_charts_in_its_thread(
    rbot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.monitoring.runner")
    fake = rbot.fake
    assert "Working on the drift report" in text_of(rbot.ask("drift churn"))
    post = fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == CHANNEL, timeout=90
    )[0]
    text = text_of(post.decoded)
    assert "churn @champion v1" in text and "drift" in text
    assert "<@U0ALICE>" in text and "`age`" in text  # owner mentioned, drifted feature listed
    ts = post.response["ts"]  # type: ignore[index]
    done = fake.wait_for("files.completeUploadExternal", timeout=60)[0]
    assert done.decoded["thread_ts"] == ts and done.decoded["channel_id"] == CHANNEL
    assert len(done.decoded["files"]) >= 2
    posted = wait_until(lambda: rbot.audited("report_posted"))
    assert len(posted) == 1 and posted[0].model_version == "1" and posted[0].run_id
    # machine-readable: the summary's metadata names the report its buttons refer to
    meta = post.decoded["metadata"]
    assert meta["event_type"] == "mlops_bot_report_posted"
    payload = meta["event_payload"]
    assert load_record(rbot.runtime, payload["report_id"]) is not None
    assert {k: payload[k] for k in ("kind", "model", "version", "alias", "alert")} == {
        "kind": "drift", "model": "churn", "version": "1", "alias": "champion", "alert": True,
    }  # fmt: skip
    logged = wait_until(lambda: [r.getMessage() for r in caplog.records if "posted to" in r.msg])
    assert logged == [
        f"drift report of churn for U0REQ posted to {CHANNEL}: ALERT (threshold crossed)"
    ]


def test_unreachable_data_is_posted_as_an_error(rbot: BotServer, tmp_path: Path) -> None:
    (tmp_path / "current.parquet").unlink()
    rbot.command("drift churn")
    post = rbot.posted_in(CHANNEL, timeout=90)
    assert "failed" in post.params["text"] and "does not exist" in post.params["text"]
    failed = wait_until(lambda: rbot.audited("report_failed"))
    assert len(failed) == 1


def test_no_comparable_column_is_posted_as_a_failure(rbot: BotServer, tmp_path: Path) -> None:
    pd.DataFrame({"other": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "current.parquet")
    rbot.command("drift churn")
    post = rbot.posted_in(CHANNEL, timeout=90)
    text = post.params["text"]
    assert "The drift report for `churn` failed: no column to compare" in text
    assert "Traceback" not in text
    assert len(wait_until(lambda: rbot.audited("report_failed"))) == 1


def test_rate_limited_post_is_delivered_once(rbot: BotServer) -> None:
    rbot.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    rbot.command("drift churn")
    rbot.fake.wait_for("files.completeUploadExternal", timeout=90)
    summaries = [m for m in rbot.fake.messages(CHANNEL) if not m.get("thread_ts")]
    assert len(summaries) == 1
    assert len(rbot.fake.calls_to("chat.postMessage")) == 2  # the 429, then the retry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drift", "Usage"),
        ("drift chrun", "Did you mean `churn`"),
        ("drift churn @nope", "no alias `@nope`"),
        ("perf fraud-detector @production", "has no monitor"),
        ('schedule add drift churn "61 * * * *"', "cron '61 * * * *'"),
        ('schedule add drift nope "0 9 * * *"', "No registered model"),
        ('schedule add weekly churn "0 9 * * *"', "drift or perf"),
        ("schedule remove file-churn-drift", "comes from the policy file"),
        ("schedule remove s0000000", "no schedule"),
    ],
)
def test_bad_report_commands(rbot: BotServer, text: str, expected: str) -> None:
    assert expected in text_of(rbot.ask(text, user="U0APPROVER1"))  # may schedule any model


def test_schedule_add_list_remove_is_audited(rbot: BotServer) -> None:
    owner = "U0ALICE"  # schedules belong to owners and approvers, at most hourly
    reply = text_of(rbot.ask('schedule add perf churn "0 */2 * * *" <#C0OTHER|other>', user=owner))
    sid = reply.split("`")[1]
    listing = text_of(rbot.ask("schedule list"))
    assert sid in listing and "policy file" in listing and "file-churn-drift" in listing
    mine = next(line for line in listing.splitlines() if sid in line)
    assert re.search(r"at `0 \*/2 \* \* \*` \(UTC\) in <#C0OTHER>, next \d{4}-\d\d-\d\d ", mine)
    assert re.search(r"next \d{4}-\d\d-\d\d \d\d:00 UTC", mine), mine
    assert int(mine.split("next ")[1][11:13]) % 2 == 0  # every second hour
    assert "Removed" in text_of(rbot.ask(f"schedule remove {sid}", user=owner))
    changes = [json.loads(e.details)["op"] for e in rbot.audited("schedule_changed")]
    assert changes == ["remove", "add"]


def test_tick_fires_each_due_time_once_and_catches_up_once(rbot: BotServer) -> None:
    rt = rbot.runtime
    sched = schedules.add(
        rt, "drift", "churn", "0 * * * *", CHANNEL, "U0ALICE", permissions=rbot.services.permissions
    )
    from sqlalchemy import update

    from bot.storage import db
    from bot.storage.tables import ReportSchedule

    now = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    with db.session(rt.engine, write=True) as s:  # pretend it was made two days before `now`
        s.execute(
            update(ReportSchedule)
            .where(ReportSchedule.id == sched.id)  # type: ignore[arg-type]
            .values(created_at=now - timedelta(days=2))
        )
        s.commit()
    runner = rbot.services.reports
    assert sched.id in tick(rt, runner, now)  # a bot down for hours posts the latest fire once
    assert tick(rt, runner, now + timedelta(minutes=10)) == []  # same fire time: claimed
    assert sched.id in tick(rt, runner, now + timedelta(hours=1))  # the next hour's fire
    posts = rbot.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == CHANNEL, timeout=120, count=2
    )
    assert all(p.decoded["metadata"]["event_payload"]["schedule_id"] == sched.id for p in posts)


def test_claims_are_exclusive_across_replicas_on_postgres(
    pg_database: str, mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    import concurrent.futures

    bots = [
        start_bot(tmp_path / f"r{i}", fake_slack, mlflow_uri=mlflow_store, database_url=pg_database)
        for i in range(2)
    ]
    try:
        fire = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            wins = list(
                pool.map(lambda i: schedules.claim(bots[i % 2].runtime, "s1", fire), range(16))
            )
        assert wins.count(True) == 1
    finally:
        for b in bots:
            b.stop()


def _report_button(bot: BotServer, action_id: str) -> tuple[dict, dict]:
    bot.command("drift churn")
    post = bot.posted_in(CHANNEL, timeout=90)
    for block in post.decoded["blocks"]:
        for el in block.get("elements", []):
            if el.get("action_id") == action_id:
                return post.response, el  # type: ignore[return-value]
    raise AssertionError(f"no {action_id} button on the report: {post.decoded}")


def _press(bot: BotServer, message: dict, button: dict, user: str) -> str:
    url = bot.fake.response_url(f"rep-{user}-{button['action_id']}")
    bot.interact(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user, "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "token": "x",
            "trigger_id": "t.1",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL},
            "team": {"id": "T0TEAM"},
            "channel": {"id": CHANNEL},
            "response_url": url,
            "message": {"ts": message["ts"], "text": ""},
            "state": {"values": {}},
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "value": button["value"],
                    "type": "button",
                    "action_ts": "1.2",
                }
            ],
        }
    )
    return url


def test_show_all_features_is_ephemeral(rbot: BotServer) -> None:
    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_DETAILS)
    url = _press(rbot, message, button, "U0ANYONE")
    reply = rbot.reply_to(url)
    assert reply["response_type"] == "ephemeral"
    assert "All features (2)" in text_of(reply) and "`plan`" in text_of(reply)


def test_show_all_features_is_a_table_with_the_full_csv_in_the_thread(rbot: BotServer) -> None:
    import csv
    import io

    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_DETAILS)
    reply = rbot.reply_to(_press(rbot, message, button, "U0ANYONE"))
    lines = [ln for ln in reply["text"].splitlines() if ln.startswith(":")]
    assert [ln.split("`")[1] for ln in lines] == ["age", "plan"]  # severity order
    age = lines[0]
    for part in ("numeric · Wasserstein 0.", " vs 0.1 · score ", "PSI ", "(major)"):
        assert part in age, (part, age)
    assert "n 2,000/2,000 · nulls 0/0" in age
    uploaded = wait_until(
        lambda: [
            f
            for f in rbot.fake.files.values()
            if f["filename"] == "drift_features.csv" and f.get("completed")
        ]
    )
    assert uploaded[0]["thread_ts"] == message["ts"]
    rows = list(csv.DictReader(io.StringIO(uploaded[0]["data"].decode())))
    assert [(r["feature"], r["status"]) for r in rows] == [
        ("age", "drifted"),
        ("plan", "not_drifted"),
    ]
    assert rows[0]["n_reference"] == "2000" and rows[0]["psi_band"] == "major"


def test_buttons_read_old_stored_bodies_and_refuse_unreadable_ones(rbot: BotServer) -> None:
    """A record stored before the document was typed still answers; a corrupt one is gone."""
    from bot.storage import db
    from bot.storage.tables import ReportRecord
    from handlers import action_ids as ids
    from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY

    bodies = {"0123456789ab": OLD_DRIFT_BODY, "ba9876543210": '{"kind": "drift", "features": ['}
    with db.session(rbot.runtime.engine, write=True) as s:
        for record_id, text in bodies.items():
            s.add(
                ReportRecord(
                    id=record_id,
                    kind="drift",
                    body=text,
                    channel=CHANNEL,
                    ts="1.1",
                    created_at=datetime.now(UTC),
                )
            )
        s.commit()
    message = {"ts": "1.1"}
    old = {"action_id": ids.REPORT_DETAILS, "value": "0123456789ab"}
    reply = rbot.reply_to(_press(rbot, message, old, "U0OLD"))
    assert reply["response_type"] == "ephemeral" and "All features (5)" in text_of(reply)
    assert "type changed from int64 to str" in text_of(reply)
    corrupt = {"action_id": ids.REPORT_DETAILS, "value": "ba9876543210"}
    reply = rbot.reply_to(_press(rbot, message, corrupt, "U0CORRUPT"))
    assert "This report is no longer available." in text_of(reply)
    assert "Traceback" not in text_of(reply)


def test_request_promotion_from_a_report_opens_the_approval_flow(rbot: BotServer) -> None:
    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_PROMOTE)
    assert button["text"]["text"] == "Request promotion of v3"
    _press(rbot, message, button, "U0ALICE")
    card = rbot.fake.wait_for(
        "chat.postMessage", lambda c: "Promotion request: churn v3" in text_of(c.decoded)
    )[0]
    assert "<@U0ALICE>" in text_of(card.decoded)


def test_retraining_is_signed_retried_and_limited_to_owners(
    rbot: BotServer, receiver: Receiver
) -> None:
    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_RETRAIN)
    url = _press(rbot, message, button, "U0STRANGER")
    assert "Only owners and approvers" in text_of(rbot.reply_to(url))
    assert receiver.seen == []

    _press(rbot, message, button, "U0ALICE")  # the owner
    thread = rbot.fake.wait_for(
        "chat.postMessage",
        lambda c: (
            c.params.get("thread_ts") == message["ts"] and "retraining" in c.params.get("text", "")
        ),
        timeout=30,
    )[0]
    assert "accepted (HTTP 202)" in thread.params["text"]
    assert [valid for valid, _ in receiver.seen] == [True, True]  # 503, then retried
    payload = receiver.seen[-1][1]
    assert payload["model"] == "churn" and payload["requested_by"] == "U0ALICE"
    assert payload["report"]["drifted_features"] == ["age"]
    acts = [e.action for e in audit.recent(rbot.runtime.engine, limit=30)]
    assert "retrain_triggered" in acts and "retrain_failed" in acts


def _stored_report(bot: BotServer, record_id: str) -> ReportRecord:
    from bot.storage import db

    with db.session(bot.runtime.engine) as s:
        record = s.get(ReportRecord, record_id)
        assert record is not None
        s.expunge(record)
        return record


def _store_report(bot: BotServer, record: ReportRecord, **changes: object) -> None:
    from bot.storage import db

    with db.session(bot.runtime.engine, write=True) as s:
        s.add(ReportRecord(**{**record.model_dump(), **changes}))
        s.commit()


def test_retraining_only_from_an_alerting_report_and_once_per_cooldown(
    rbot: BotServer, receiver: Receiver
) -> None:
    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_RETRAIN)
    record = _stored_report(rbot, button["value"])
    calm = json.loads(record.body) | {"dataset_drift": False}
    _store_report(rbot, record, id="00000000ca10", body=json.dumps(calm))
    url = _press(rbot, message, {**button, "value": "00000000ca10"}, "U0ALICE")
    assert "did not alert" in text_of(rbot.reply_to(url))
    assert receiver.seen == []

    _press(rbot, message, button, "U0ALICE")
    rbot.fake.wait_for("chat.postMessage", lambda c: "accepted" in c.params.get("text", ""))
    url = _press(rbot, message, button, "U0APPROVER1")  # soon after, by someone else
    assert "allows one retraining every 60 minutes" in text_of(rbot.reply_to(url))
    assert len(receiver.seen) == 2  # the first click's 503 and its retry; nothing since
    reasons = [json.loads(e.details).get("reason", "") for e in rbot.audited("retrain_failed")]
    assert any("did not alert" in r for r in reasons) and any("60 minutes" in r for r in reasons)


def test_retraining_is_refused_without_an_outbound_secret(
    rbot: BotServer, receiver: Receiver, mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from handlers import action_ids as ids

    message, button = _report_button(rbot, ids.REPORT_RETRAIN)
    record = _stored_report(rbot, button["value"])
    with report_bot(tmp_path, "unsigned", fake_slack, mlflow_store, receiver) as unsigned:
        _store_report(unsigned, record)
        url = _press(unsigned, message, button, "U0ALICE")
        assert "MLOPS_BOT_OUTBOUND_SECRET is not set" in text_of(unsigned.reply_to(url))
        assert receiver.seen == []  # never sent unsigned
        assert unsigned.audited("retrain_failed") and not unsigned.audited("retrain_triggered")


def test_schedules_belong_to_owners_and_approvers_with_limits(rbot: BotServer) -> None:
    add = 'schedule add drift churn "0 9 * * *"'
    assert "Only owners and approvers of `churn`" in text_of(rbot.ask(add))  # U0REQ
    assert "not a channel ID" in text_of(rbot.ask(add, user="U0ALICE", channel="D0ALICE"))
    reply = text_of(rbot.ask('schedule add drift churn "*/5 * * * *"', user="U0ALICE"))
    assert "fires every 5 minutes" in reply and "at most once every hour" in reply
    made = [
        text_of(rbot.ask(f'schedule add drift churn "0 {h} * * *"', user="U0APPROVER1"))
        for h in range(6)
    ]
    assert all("Scheduled" in m for m in made[:5])
    assert "already has 5 scheduled reports" in made[5]
    sid = made[0].split("`")[1]
    assert "Only owners and approvers" in text_of(rbot.ask(f"schedule remove {sid}"))
    assert "Removed" in text_of(rbot.ask(f"schedule remove {sid}", user="U0ALICE"))
    ops = [json.loads(e.details)["op"] for e in rbot.audited("schedule_changed")]
    assert ops == ["remove"] + ["add"] * 5


@pytest.mark.slow  # the report worker is a process
def test_a_long_report_shows_a_placeholder_that_becomes_the_report(
    mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path, receiver: Receiver
) -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
    ref.to_parquet(tmp_path / "reference.parquet")
    ref.assign(age=ref["age"] + 9).to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    # every report counts as long: the placeholder comes as the worker's first event arrives
    after = {"mlops_bot_report_progress_after_seconds": "0"}
    with report_bot(tmp_path, "bot", fake_slack, mlflow_store, receiver, **after) as bot:
        bot.ask("drift churn")
        placeholder = bot.posted_in(CHANNEL, timeout=90)
        assert "computing drift for `churn` @champion…" in placeholder.params["text"]
        ts = placeholder.response["ts"]  # type: ignore[index]
        posted = wait_until(lambda: bot.audited("report_posted"), timeout=90)
        assert json.loads(posted[0].details)["ts"] == ts  # the report took the placeholder's place
        [message] = [m for m in fake_slack.messages(CHANNEL) if not m.get("thread_ts")]
        assert message["ts"] == ts and "`age`" in text_of(message)
        assert message["metadata"]["event_type"] == "mlops_bot_report_posted"
        assert len(fake_slack.calls_to("chat.postMessage")) == 1  # no second message
