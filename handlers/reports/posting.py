"""Reports in Slack: one summary message, charts and the feature table (CSV) uploaded in its
thread, `report_posted` audited."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot import audit, clock
from bot.monitoring import links, pages
from bot.monitoring.runner import ReportJob
from bot.storage import db
from bot.storage.tables import ReportRecord
from handlers import metadata as events
from handlers.blocks import clip, context, esc, section
from handlers.reports.blocks import report_buttons, report_reply
from handlers.reports.progress import ProgressMessage
from handlers.slack_client import SLACK_FAILURES, make_client, slack_error

if TYPE_CHECKING:
    from bot.monitoring.progress import ProgressFn
    from bot.monitoring.report import Report
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
# told the path of each report page written to a file (the local shell prints it)
PageFiles = Callable[[Path], None]


class SlackReportSink:
    """The report runner's sink: posts finished reports and failures to their channel."""

    def __init__(
        self,
        client: WebClient,
        rt: Runtime,
        page_files: PageFiles | None = None,
        placeholders: bool = True,
    ):
        self.client = client
        self.rt = rt
        self.page_files = page_files
        self.placeholders = placeholders  # False in the local shell: it waits for the report
        self._placeholders: dict[int, ProgressMessage] = {}  # id(job) of jobs being computed

    def started(self, job: ReportJob) -> ProgressFn | None:
        """The job's placeholder (posted now, or once the job runs long, see progress.py);
        the returned callback posts and edits it."""
        if not self.placeholders:
            return None
        after = timedelta(seconds=self.rt.settings.mlops_bot_report_progress_after_seconds)
        monitor = self.rt.policy.for_model(job.model).monitor
        named = dataclasses.replace(job, alias=job.alias or (monitor.alias if monitor else None))
        placeholder = ProgressMessage(self.client, named, self.rt.clock, after).start()
        self._placeholders[id(job)] = placeholder
        return placeholder

    def publish(self, job: ReportJob, report: Report) -> str | None:
        details = {"schedule_id": job.schedule_id} if job.schedule_id else None
        placeholder = self._placeholders.pop(id(job), None)
        return post_report(
            self.client,
            self.rt,
            report,
            job.channel,
            job.actor,
            details,
            self.page_files,
            replace=placeholder.close() if placeholder else None,
        )

    def failed(self, job: ReportJob, message: str) -> None:
        placeholder = self._placeholders.pop(id(job), None)
        post_failure(
            self.client,
            job.channel,
            job.kind,
            job.model,
            message,
            replace=placeholder.close() if placeholder else None,
        )


def post_report(
    client: WebClient,
    rt: Runtime,
    report: Report,
    channel: str,
    actor: str = "system",
    details: dict[str, Any] | None = None,
    page_files: PageFiles | None = None,
    replace: tuple[str, str] | None = None,
) -> str:
    """Post the summary, upload charts in its thread, audit `report_posted`; returns the ts.

    The summary links to the report's page when MLOPS_BOT_PUBLIC_URL is set; with `page_files`
    the page is also written under MLOPS_BOT_DATA_DIR and its path handed over. ``replace``
    (channel, ts) is the report's placeholder: its message becomes the summary.
    """
    record_id = uuid.uuid4().hex[:12]
    reply = report_reply(report, rt)
    link = links.page_link(rt.settings, record_id, rt.clock.now())
    if link is not None:
        url, until = link
        reply.blocks.append(
            context(
                f"<{url}|Full report in the browser> · every feature and chart"
                f" · link valid until {clock.as_utc(until):%Y-%m-%d %H:%M} UTC"
            )
        )
    buttons = report_buttons(report, rt, record_id)
    if buttons is not None:
        reply.blocks.append(buttons)
    # the record exists before its buttons can be pressed
    with db.session(rt.engine, write=True) as s:
        s.add(
            ReportRecord(
                id=record_id,
                kind=report.kind,
                model_name=report.model,
                body=report.document.to_json(),
                channel=channel,
                created_at=clock.utcnow(),
            )
        )
        pages.add_charts(s, record_id, report.charts)
        s.commit()
    doc = report.document
    schedule = str((details or {}).get("schedule_id") or "") or None
    metadata = events.report_posted(
        record_id, str(report.kind), doc.model, doc.version, doc.alias, report.alert, schedule
    )
    resp = _replaced(client, replace, {**reply.payload(), "metadata": metadata})
    if resp is None:
        resp = client.chat_postMessage(
            channel=channel, **reply.payload(), unfurl_links=False, metadata=metadata
        )
    ts = str(resp["ts"])
    channel_id = str(resp.get("channel") or channel)
    with db.session(rt.engine, write=True) as s:
        record = s.get(ReportRecord, record_id)
        if record is not None:
            record.channel, record.ts = channel_id, ts
        s.commit()
    uploaded = tables = 0
    files = [*report.charts, *report.files]  # the PNGs, then the full feature table (CSV)
    if files:
        try:
            client.files_upload_v2(
                channel=channel_id,
                thread_ts=ts,
                file_uploads=[
                    {"content": content, "filename": name, "title": name} for name, content in files
                ],
            )
            uploaded, tables = len(report.charts), len(report.files)
        except Exception as exc:  # the upload step raises urllib errors, not SlackApiError
            log.warning("uploading charts failed: %s", exc)
            client.chat_postMessage(
                channel=channel_id,
                thread_ts=ts,
                text=":warning: The charts and tables could not be uploaded.",
            )
    if page_files is not None:
        try:
            page_files(write_page_file(rt, record_id))
        except OSError as exc:  # the report is posted; a full disk must not lose its audit event
            log.warning("writing the report page failed: %s", exc)
    audit.record(
        rt.engine,
        "report_posted",
        actor,
        model_name=doc.model,
        model_version=doc.version,
        alias=doc.alias,
        run_id=doc.run_id,
        details={
            "kind": report.kind,
            "channel": channel_id,
            "ts": ts,
            "charts": uploaded,
            "tables": tables,
            "alert": report.alert,
            **(details or {}),
        },
    )
    return ts


def _replaced(
    client: WebClient, replace: tuple[str, str] | None, content: dict[str, Any]
) -> SlackResponse | None:
    """Edit the placeholder into ``content``; None when there is none or it cannot be edited
    (deleted meanwhile): the caller then posts a new message, so nothing is lost."""
    if replace is None:
        return None
    channel, ts = replace
    try:
        return client.chat_update(channel=channel, ts=ts, **content)
    except SLACK_FAILURES as exc:
        log.warning("could not replace the report placeholder: %s", slack_error(exc))
        return None


def post_failure(
    client: WebClient,
    channel: str,
    kind: str,
    model: str | None,
    error: str,
    replace: tuple[str, str] | None = None,
) -> None:
    """Tell the channel a report could not be made (never swallowed), in its placeholder
    when ``replace`` (channel, ts) names one."""
    what = f"{kind} report for `{esc(model)}`" if model else f"{kind} report"
    text = f":warning: The {what} failed: {esc(clip(error, 1500))}"
    if _replaced(client, replace, {"text": text, "blocks": [section(text).to_dict()]}):
        return
    try:
        client.chat_postMessage(channel=channel, text=text, blocks=[section(text).to_dict()])
    except SLACK_FAILURES as exc:
        log.warning("could not post a report failure to %s: %s", channel, slack_error(exc))


def post_report_cli(rt: Runtime, report: Report, channel: str) -> None:
    """`mlops-bot report … --channel C`: post with the configured bot token."""

    ts = post_report(make_client(rt.settings), rt, report, channel, actor="cli")
    print(f"posted to {channel} (ts {ts})")


def write_page_file(rt: Runtime, record_id: str) -> Path:
    """The stored report's page as `MLOPS_BOT_DATA_DIR/report-pages/<id>.html`."""
    html = pages.stored_page(rt.engine, record_id)
    assert html is not None  # stored just before
    return pages.write_page(rt.settings.data_dir / pages.PAGES_DIR, record_id, html)


def load_record(rt: Runtime, record_id: str) -> ReportRecord | None:
    with db.session(rt.engine) as s:
        return s.get(ReportRecord, record_id[:32])
