"""A report's placeholder in its channel: posted once the report has run for
MLOPS_BOT_REPORT_PROGRESS_AFTER_SECONDS (0: as soon as the worker takes it), edited with its
phase and columns done at most once per `EDIT_EVERY`, then replaced by the report (or the
failure) in posting.py.

"More than a few seconds" is checked when a progress event arrives (each phase, each column),
not by a timer thread per job: a quick report never gets a placeholder, so its channel sees
one message as before. Time comes from the injected clock (bot/clock.py): tests move it by hand.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.clock import Clock
from bot.monitoring.progress import ProgressEvent
from bot.monitoring.runner import ReportJob
from handlers.blocks import context, esc, section
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)
EDIT_EVERY = timedelta(seconds=10)  # Slack's chat.update tier allows ~50/min per workspace


def placeholder_text(job: ReportJob) -> str:
    """``computing drift for churn @champion…``"""
    alias = f" @{job.alias}" if job.alias else ""
    return f":hourglass_flowing_sand: computing {job.kind} for `{esc(job.model)}`{esc(alias)}…"


class ProgressMessage:
    """The placeholder of one job; `ts` stays None until it is posted (or when it cannot be)."""

    def __init__(
        self,
        client: WebClient,
        job: ReportJob,
        clock: Clock,
        after: timedelta = timedelta(0),
        every: timedelta = EDIT_EVERY,
    ) -> None:
        self.client = client
        self.job = job
        self.clock = clock
        self.after = after
        self.every = every
        self.channel = job.channel
        self.ts: str | None = None
        self._since = clock.now()  # when the worker took the job
        self._last: datetime | None = None  # when the placeholder was last posted or edited
        self._tried = False
        self._closed = False
        self._lock = threading.Lock()  # events come from the runner's relay thread

    def start(self) -> ProgressMessage:
        """Post the placeholder now when it is not to wait (``after`` is 0)."""
        if self.after <= timedelta(0):
            with self._lock:
                self._post(None)
        return self

    def __call__(self, event: ProgressEvent) -> None:
        """Post the placeholder once the job is old enough, then edit it with ``event`` unless
        the last edit is younger than `every`."""
        # under the lock, so no edit can land after `close` (over the report)
        with self._lock:
            now = self.clock.now()
            if self._closed:
                return
            if self.ts is None:
                if not self._tried and now - self._since >= self.after:
                    self._post(event)
                return
            if self._last is not None and now - self._last < self.every:
                return
            self._last = now
            try:
                self.client.chat_update(
                    channel=self.channel, ts=self.ts, **_content(self.job, event)
                )
            except SLACK_FAILURES as exc:  # the next edit may work; the report is unaffected
                log.warning("could not edit the report placeholder: %s", slack_error(exc))

    def _post(self, event: ProgressEvent | None) -> None:
        """A Slack failure here only costs the progress, never the report (posted anew)."""
        self._tried = True
        try:
            resp = self.client.chat_postMessage(channel=self.channel, **_content(self.job, event))
        except SLACK_FAILURES as exc:
            log.warning("could not post the report placeholder: %s", slack_error(exc))
            return
        self.ts, self.channel = str(resp["ts"]), str(resp.get("channel") or self.channel)
        self._last = self.clock.now()

    def close(self) -> tuple[str, str] | None:
        """No more edits; returns (channel, ts) for the report to replace, if one was posted."""
        with self._lock:
            self._closed = True
        return (self.channel, self.ts) if self.ts is not None else None


def _content(job: ReportJob, event: ProgressEvent | None) -> dict[str, Any]:
    text = placeholder_text(job)
    if event is None:
        return {"text": text, "blocks": [section(text).to_dict()]}
    line = event.line()
    return {
        "text": f"{text} {line}",
        "blocks": [section(text).to_dict(), context(esc(line)).to_dict()],
    }
