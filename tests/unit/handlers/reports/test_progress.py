"""A report's placeholder in Slack: posted once the report runs long, edited at most every
10 s (a fixed clock moved by hand), then replaced by the report or by the failure: one message
in the channel; a quick report gets none."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.clock import FixedClock
from bot.monitoring.document import ReportKind
from bot.monitoring.progress import Phase, ProgressEvent
from bot.monitoring.report import make_report
from bot.monitoring.runner import ReportJob
from bot.runtime import Runtime
from handlers.reports.posting import SlackReportSink
from handlers.reports.progress import ProgressMessage
from tests.slack_fake import FakeSlack, web_client

CHANNEL = "C0DEMO"
JOB = ReportJob(ReportKind.DRIFT, "churn", "champion", CHANNEL, actor="U0ALICE")


def columns(done: int, total: int = 10) -> ProgressEvent:
    return ProgressEvent(Phase.COMPARING, done=done, total=total)


def test_placeholder_is_edited_at_most_every_ten_seconds(fake_slack: FakeSlack) -> None:
    clock = FixedClock()
    message = ProgressMessage(web_client(fake_slack), JOB, clock).start()  # after 0 s: at once
    assert message.ts is not None
    [posted] = fake_slack.messages(CHANNEL)
    assert posted["text"] == ":hourglass_flowing_sand: computing drift for `churn` @champion…"

    for seconds, done in ((0, 1), (5, 2), (10, 3), (15, 4), (19, 5), (20, 6), (29, 7)):
        clock.at = clock.at.replace(second=0) + timedelta(seconds=seconds)
        message(columns(done))
    edits = fake_slack.calls_to("chat.update")
    assert [c.params["text"].rsplit("…", 1)[1] for c in edits] == [
        " comparing: 3/10 columns",  # at 10 s
        " comparing: 6/10 columns",  # at 20 s; 0, 5, 15, 19 and 29 s were too soon
    ]
    shown = fake_slack.message(CHANNEL, message.ts)
    assert shown is not None and "comparing: 6/10 columns" in str(shown["blocks"])

    assert message.close() == (CHANNEL, message.ts)
    clock.advance(timedelta(minutes=5))
    message(columns(10))  # closed: the report may already stand in its place
    assert len(fake_slack.calls_to("chat.update")) == 2


def test_placeholder_waits_until_the_report_runs_long(fake_slack: FakeSlack) -> None:
    clock = FixedClock()
    message = ProgressMessage(web_client(fake_slack), JOB, clock, after=timedelta(seconds=3))
    message.start()
    message(ProgressEvent(Phase.LOADING, "reading cur.parquet"))
    clock.advance(timedelta(seconds=2))
    message(columns(1))
    assert fake_slack.messages(CHANNEL) == []  # quick so far: nothing posted
    clock.advance(timedelta(seconds=1))
    message(columns(2))
    [posted] = fake_slack.messages(CHANNEL)
    assert posted["text"].endswith("computing drift for `churn` @champion… comparing: 2/10 columns")
    clock.advance(timedelta(seconds=9))
    message(columns(3))
    assert fake_slack.calls_to("chat.update") == []  # 9 s after the placeholder: too soon


def test_a_quick_report_has_no_placeholder(runtime: Runtime, fake_slack: FakeSlack) -> None:
    sink = SlackReportSink(web_client(fake_slack), runtime)  # the default: after 3 s
    progress = sink.started(JOB)
    assert progress is not None
    progress(columns(1))  # the system clock: well within 3 s
    sink.failed(JOB, "no data")
    [only] = fake_slack.messages(CHANNEL)
    assert only["text"].startswith(":warning: The drift report for `churn` failed: no data")
    assert fake_slack.calls_to("chat.update") == []


@pytest.fixture
def sink(runtime: Runtime, fake_slack: FakeSlack) -> SlackReportSink:
    settings = runtime.settings.model_copy(update={"mlops_bot_report_progress_after_seconds": 0})
    rt = dataclasses.replace(runtime, clock=FixedClock(), settings=settings)
    return SlackReportSink(web_client(fake_slack), rt)


def test_a_failure_replaces_the_placeholder(sink: SlackReportSink, fake_slack: FakeSlack) -> None:
    sink.started(JOB)
    sink.failed(JOB, "no MLflow model churn")
    [only] = fake_slack.messages(CHANNEL)
    assert only["text"] == ":warning: The drift report for `churn` failed: no MLflow model churn"
    assert only["ts"] == fake_slack.calls_to("chat.postMessage")[0].response["ts"]  # type: ignore[index]


def test_the_report_replaces_the_placeholder(
    sink: SlackReportSink, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 500), "tenure": rng.normal(5, 2, 500)})
    ref.to_parquet(tmp_path / "ref.parquet")
    ref.assign(age=ref["age"] + 9).to_parquet(tmp_path / "cur.parquet")
    report = make_report(
        ReportKind.DRIFT,
        sink.rt.registry,
        sink.rt.policy,
        reference=str(tmp_path / "ref.parquet"),
        current=str(tmp_path / "cur.parquet"),
        progress=sink.started(JOB),
    )
    ts = sink.publish(JOB, report)
    [only] = [m for m in fake_slack.messages(CHANNEL) if not m.get("thread_ts")]
    assert only["ts"] == ts == fake_slack.calls_to("chat.postMessage")[0].response["ts"]  # type: ignore[index]
    assert "computing" not in only["text"] and "age" in str(only["blocks"])
    assert only["metadata"]["event_type"] == "mlops_bot_report_posted"
    assert len(fake_slack.calls_to("chat.update")) == 1  # the replacement; no edit: time stood
