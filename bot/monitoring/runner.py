"""Reports computed off the request path, in a worker process, then handed to a sink.

Drift on large frames and matplotlib hold the CPU and the GIL for seconds; in a thread of the
bot's process they would delay every ack. A one-process pool (spawned, so no forked locks)
computes; the parent only hands the finished report to the sink (which posts it to Slack).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot import audit
from bot.config import Settings

if TYPE_CHECKING:
    from bot.monitoring.document import ReportKind
    from bot.monitoring.report import Report
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportJob:
    kind: ReportKind
    model: str
    alias: str | None
    channel: str
    actor: str = "system"
    schedule_id: str | None = None


class ReportSink(Protocol):
    """Where finished reports go (Slack, in handlers/reports/posting.py)."""

    def publish(self, job: ReportJob, report: Report) -> str | None:
        """Post the report; returns where it landed (a message ts), and audits it."""
        ...

    def failed(self, job: ReportJob, message: str) -> None:
        """Tell the job's channel the report could not be made."""
        ...


def compute(settings: Settings, kind: ReportKind, model: str, alias: str | None) -> Report:
    """Runs in the worker process: load, compute, chart."""
    from bot.monitoring.report import make_report
    from bot.policy.file import load_policy
    from bot.registry.gateway import Registry

    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    return make_report(kind, registry, load_policy(settings), model=model, alias=alias)


class ReportRunner:
    """Submits report jobs to the worker process and hands their results to the sink."""

    def __init__(self, rt: Runtime, sink: ReportSink, *, in_process: bool = False) -> None:
        self.rt = rt
        self.sink = sink
        self.in_process = in_process  # the local shell computes inline
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing

                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def submit(self, job: ReportJob) -> Future[Any]:
        """Compute in the worker process; publish when done. The future resolves to the ts."""
        done: Future[Any] = Future()
        if self.in_process:
            try:
                report = compute(self.rt.settings, job.kind, job.model, job.alias)
                done.set_result(self._finish(job, report, None))
            except Exception as exc:
                done.set_result(self._finish(job, None, exc))
            return done
        work = self._executor().submit(compute, self.rt.settings, job.kind, job.model, job.alias)

        def finished(f: Future[Any]) -> None:
            exc = f.exception()
            try:
                done.set_result(self._finish(job, None if exc else f.result(), exc))
            except Exception as post_exc:  # posting failed for good: recorded, never silent
                log.exception("posting the %s report of %s failed", job.kind, job.model)
                done.set_exception(post_exc)

        work.add_done_callback(finished)
        return done

    def _finish(
        self, job: ReportJob, report: Report | None, exc: BaseException | None
    ) -> str | None:
        if report is not None:
            return self.sink.publish(job, report)
        message = _describe(exc)
        log.warning("%s report of %s failed: %s", job.kind, job.model, message)
        self.sink.failed(job, message)
        audit.record(
            self.rt.engine,
            "report_failed",
            job.actor,
            model_name=job.model,
            alias=job.alias,
            details={
                "kind": job.kind,
                "channel": job.channel,
                "error": message[:500],
                "schedule_id": job.schedule_id,
            },
        )
        return None

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def _describe(exc: BaseException | None) -> str:
    from bot.monitoring.datasets import DatasetError
    from bot.monitoring.report import ReportError
    from bot.redact import redact
    from bot.registry.gateway import RegistryError

    if isinstance(exc, ReportError | DatasetError | RegistryError):
        return redact(str(exc))
    return f"unexpected {type(exc).__name__}; the details are in the bot's log"
