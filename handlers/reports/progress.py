"""A report's placeholder in its channel: posted when the worker starts the report, edited with
its phase and columns done at most once per `EDIT_EVERY`, then replaced by the report (or the
failure) in posting.py.

The placeholder is posted for every report the worker starts, not only those still running
after a few seconds: deciding "slow" would need a timer thread per job, and a placeholder
that becomes the report a second later costs one message, which is then the report itself.
Edits are throttled on the injected clock (bot/clock.py), so tests move time by hand.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

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
    """The placeholder of one job; `ts` is None when it could not be posted."""

    def __init__(
        self, client: WebClient, job: ReportJob, clock: Clock, every: timedelta = EDIT_EVERY
    ) -> None:
        self.client = client
        self.job = job
        self.clock = clock
        self.every = every
        self.channel = job.channel
        self.ts: str | None = None
        self._last: datetime | None = None
        self._closed = False
        self._lock = threading.Lock()  # events come from the runner's queue reader thread

    def post(self) -> ProgressMessage:
        """Post the placeholder at once; a Slack failure only costs the progress, not the report."""
        text = placeholder_text(self.job)
        try:
            resp = self.client.chat_postMessage(
                channel=self.channel, text=text, blocks=[section(text).to_dict()]
            )
        except SLACK_FAILURES as exc:
            log.warning("could not post the report placeholder: %s", slack_error(exc))
            return self
        self.ts, self.channel = str(resp["ts"]), str(resp.get("channel") or self.channel)
        self._last = self.clock.now()
        return self

    def __call__(self, event: ProgressEvent) -> None:
        """Edit the placeholder with ``event`` unless the last edit is younger than `every`."""
        # the edit is made under the lock, so none can land after `close` (over the report)
        with self._lock:
            now = self.clock.now()
            if self.ts is None or self._closed:
                return
            if self._last is not None and now - self._last < self.every:
                return
            self._last = now
            text = placeholder_text(self.job)
            try:
                self.client.chat_update(
                    channel=self.channel,
                    ts=self.ts,
                    text=f"{text} {event.line()}",
                    blocks=[section(text).to_dict(), context(esc(event.line())).to_dict()],
                )
            except SLACK_FAILURES as exc:  # the next edit may work; the report is unaffected
                log.warning("could not edit the report placeholder: %s", slack_error(exc))

    def close(self) -> tuple[str, str] | None:
        """No more edits; returns (channel, ts) for the report to replace, if posted."""
        with self._lock:
            self._closed = True
        return (self.channel, self.ts) if self.ts is not None else None
