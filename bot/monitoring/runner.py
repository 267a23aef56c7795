"""Reports computed off the request path, in a worker process, then handed to a sink.

Drift on large frames and matplotlib hold the CPU and the GIL for seconds; in a thread of the
bot's process they would delay every ack. A one-process pool (spawned, so no forked locks)
computes; the parent only hands the finished report to the sink (which posts it to Slack).

The runner keeps its own queue and gives the pool one job at a time, so a worker that dies
(the out-of-memory killer, a crash in a native library) is known to have died on that job: the
job is reported failed once, the pool is rebuilt and the queue goes on. Identical waiting jobs
are merged and the queue is bounded in all, per user and per model (`admit`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bot.config import Settings

if TYPE_CHECKING:
    from bot.monitoring.document import ReportKind
    from bot.monitoring.drift.engines.base import EngineConfig
    from bot.monitoring.drift.profile_store import ProfileStore
    from bot.monitoring.progress import ProgressEvent, ProgressFn
    from bot.monitoring.report import Report
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
SYSTEM = "system"  # the actor of scheduled jobs: not limited per user


@dataclass(frozen=True)
class ReportJob:
    kind: ReportKind
    model: str
    alias: str | None
    channel: str
    actor: str = SYSTEM
    schedule_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Jobs with the same key make the same report in the same place."""
        return (str(self.kind), self.model, self.alias, self.channel)


class Admission(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same report is already queued for this channel
    QUEUE_FULL = "queue_full"
    USER_LIMIT = "user_limit"
    MODEL_LIMIT = "model_limit"


@dataclass(frozen=True)
class Ticket:
    """The answer to `admit`: accepted (run it with `run`), merged, or busy with a reason."""

    admission: Admission
    job: ReportJob
    message: str = ""
    future: Future[Any] = field(default_factory=Future)

    @property
    def accepted(self) -> bool:
        return self.admission == Admission.ACCEPTED


class ReportSink(Protocol):
    """Where finished reports go (Slack, in handlers/reports/posting.py)."""

    def publish(self, job: ReportJob, report: Report) -> str | None:
        """Post the report; returns where it landed (a message ts), and audits it."""
        ...

    def failed(self, job: ReportJob, message: str) -> None:
        """Tell the job's channel the report could not be made."""
        ...

    def started(self, job: ReportJob) -> ProgressFn | None:
        """The worker took the job (a placeholder may be posted); returns where its progress
        events go."""
        ...


def compute(
    settings: Settings,
    kind: ReportKind,
    model: str,
    alias: str | None,
    progress: ProgressFn | None = None,
) -> Report:
    """Runs in the worker process: load, compute, chart."""
    from bot.monitoring.datasets import Limits
    from bot.monitoring.report import make_report
    from bot.policy.file import load_policy
    from bot.registry.gateway import Registry

    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    limits = Limits(
        max_bytes=settings.mlops_bot_report_max_mb * 2**20,
        max_rows=settings.mlops_bot_report_max_rows,
        max_columns=settings.mlops_bot_report_max_columns,
    )
    return make_report(
        kind,
        registry,
        load_policy(settings),
        model=model,
        alias=alias,
        limits=limits,
        engine_config=engine_config(settings),
        progress=progress,
        profiles=profile_store(settings),
    )


# the worker process's end of the progress queue (set by `_init_worker`)
_EVENTS: Any = None


def _init_worker(megabytes: int, events: Any) -> None:
    """The worker's initializer: the memory cap, and the queue its progress events go to."""
    global _EVENTS
    _EVENTS = events
    limit_memory(megabytes)


def _compute_in_worker(
    token: int, settings: Settings, kind: ReportKind, model: str, alias: str | None
) -> Report:
    """`compute` in the worker; each progress event goes to the bot tagged with its job."""
    events = _EVENTS

    def progress(event: ProgressEvent) -> None:
        if events is not None:
            events.put((token, event))

    return compute(settings, kind, model, alias, progress)


def engine_config(settings: Settings) -> EngineConfig:
    """The out-of-core engines' settings: DuckDB's memory limit and spill folder, Spark's master."""
    from bot.monitoring.drift.engines.base import EngineConfig

    return EngineConfig(
        memory_limit=settings.mlops_bot_duckdb_memory_limit,
        spill_dir=settings.data_dir / "duckdb-spill",
        spark_master=settings.mlops_bot_spark_master,
    )


def profile_store(settings: Settings) -> ProfileStore:
    """Where monitors' reference and partition profiles are kept: ``<data dir>/profiles``."""
    from bot.monitoring.drift.profile_store import ProfileStore

    return ProfileStore.in_data_dir(settings.mlops_bot_data_dir)


def limit_memory(megabytes: int) -> None:
    """The worker's initializer: cap its address space, so a huge frame is a MemoryError."""
    if megabytes <= 0:
        return
    import resource

    cap = megabytes * 2**20
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


class WorkerDied(Exception):
    """The worker process ended while it computed a job."""


@dataclass
class _Entry:
    job: ReportJob
    done: Future[Any]
    started: float = 0.0  # time.monotonic() when the worker took it
    token: int = 0  # tags the job's progress events from the worker
    progress: ProgressFn | None = None  # where they go (the sink's placeholder)


class ReportRunner:
    """Queues report jobs, computes them in the worker process, hands results to the sink."""

    def __init__(self, rt: Runtime, sink: ReportSink, *, in_process: bool = False) -> None:
        self.rt = rt
        self.sink = sink
        self.in_process = in_process  # the local shell computes inline
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._waiting: deque[_Entry] = deque()
        self._running: _Entry | None = None
        self._deaths = 0
        self._last_death: str | None = None  # what the worker was doing when it last died
        self._healthy_since_death = True
        self._closed = False
        self._events: Any = None  # the progress queue of the current pool
        self._tokens = 0

    # -- admission ------------------------------------------------------------------------

    def admit(self, job: ReportJob) -> Ticket:
        """Queue `job` unless the same report is queued or a limit is reached.

        A scheduled fire is never merged (each fire time is claimed once and posted once) and
        not counted per user; the other limits hold for it too."""
        s = self.rt.settings
        with self._lock:
            pending = self._pending()
            for entry in pending if job.schedule_id is None else []:  # each fire is posted
                if entry.job.key == job.key:
                    return Ticket(Admission.DUPLICATE, job, _DUPLICATE, entry.done)
            if len(pending) >= s.mlops_bot_report_queue_limit:
                return Ticket(Admission.QUEUE_FULL, job, _QUEUE_FULL.format(n=len(pending)))
            mine = sum(1 for e in pending if e.job.actor == job.actor)
            if job.actor != SYSTEM and mine >= s.mlops_bot_report_user_limit:
                return Ticket(Admission.USER_LIMIT, job, _USER_LIMIT.format(n=mine))
            same_model = sum(1 for e in pending if e.job.model == job.model)
            if same_model >= s.mlops_bot_report_model_limit:
                return Ticket(
                    Admission.MODEL_LIMIT,
                    job,
                    _MODEL_LIMIT.format(n=same_model, model=job.model),
                )
            entry = _Entry(job, Future())
            self._waiting.append(entry)
            return Ticket(Admission.ACCEPTED, job, "", entry.done)

    def _pending(self) -> list[_Entry]:
        return ([self._running] if self._running else []) + list(self._waiting)

    def run(self, ticket: Ticket) -> Future[Any]:
        """Start the queue moving after `admit` accepted a job (the handler defers this)."""
        if self.in_process:
            self._run_inline()
        else:
            self._pump()
        return ticket.future

    def submit(self, job: ReportJob) -> Future[Any]:
        """Admit and run; a job that is not accepted is reported to its channel (not merged)."""
        ticket = self.admit(job)
        if ticket.accepted:
            return self.run(ticket)
        if ticket.admission != Admission.DUPLICATE:
            log.warning("%s report of %s not queued: %s", job.kind, job.model, ticket.admission)
            self.sink.failed(job, ticket.message)
        return ticket.future

    # -- the queue ------------------------------------------------------------------------

    def _run_inline(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    return
                entry = self._waiting.popleft()
            job = entry.job
            entry.started = time.monotonic()
            try:
                report = compute(
                    self.rt.settings, job.kind, job.model, job.alias, self._started(job)
                )
                _timed(entry)
                entry.done.set_result(self._finish(job, report, None))
            except Exception as exc:
                entry.done.set_result(self._finish(job, None, exc))

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            # a fresh queue per pool: a worker that died may have left the old one locked
            events = self._events = ctx.Queue()
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.rt.settings.mlops_bot_report_worker_memory_mb, events),
            )
            threading.Thread(
                target=self._relay, args=(events,), name="report-progress", daemon=True
            ).start()
        return self._pool

    def _relay(self, events: Any) -> None:
        """Hand the worker's progress events to the running job's callback (a thread per pool;
        a None ends it)."""
        while (item := events.get()) is not None:
            token, event = item
            with self._lock:
                entry = self._running
            if entry is not None and entry.token == token and entry.progress is not None:
                try:
                    entry.progress(event)
                except Exception:  # progress is a courtesy: it never stops the report
                    log.exception("report progress failed")

    def _started(self, job: ReportJob) -> ProgressFn | None:
        """Tell the sink the job started (it posts a placeholder); never fails the job."""
        try:
            return self.sink.started(job)
        except Exception:
            log.exception("announcing the %s report of %s failed", job.kind, job.model)
            return None

    def _pump(self) -> None:
        """Give the worker the next waiting job when it has none."""
        with self._lock:
            if self._closed or self._running is not None or not self._waiting:
                return
            entry = self._running = self._waiting.popleft()
            self._tokens += 1
            entry.token = self._tokens
        entry.progress = self._started(entry.job)  # posting to Slack: outside the lock
        with self._lock:
            entry.started = time.monotonic()
            job = entry.job
            args = (entry.token, self.rt.settings, job.kind, job.model, job.alias)
            try:
                work = self._executor().submit(_compute_in_worker, *args)
            except (BrokenProcessPool, RuntimeError):  # broken or shut down: a fresh pool
                self._drop_pool()
                work = self._executor().submit(_compute_in_worker, *args)
        work.add_done_callback(lambda f: self._finished(entry, f))

    def _finished(self, entry: _Entry, f: Future[Any]) -> None:
        if f.cancelled():  # shut down with the job still queued in the pool
            entry.done.cancel()
            return
        exc = f.exception()
        if exc is None:
            _timed(entry)
        with self._lock:
            if isinstance(exc, BrokenProcessPool):
                self._deaths += 1
                self._last_death = f"{entry.job.kind} report of {entry.job.model}"
                self._healthy_since_death = False
                self._drop_pool()
                exc = WorkerDied()
            elif exc is None:
                self._healthy_since_death = True
            self._running = None
        self._pump()  # the next job starts before this one is posted
        try:
            entry.done.set_result(self._finish(entry.job, None if exc else f.result(), exc))
        except Exception as post_exc:  # posting failed for good: recorded, never silent
            log.exception("posting the %s report of %s failed", entry.job.kind, entry.job.model)
            entry.done.set_exception(post_exc)

    def _drop_pool(self) -> None:
        """Forget a broken pool (the lock is held); the next job builds a fresh one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._end_relay()

    def _end_relay(self) -> None:
        if self._events is not None:
            self._events.put(None)
            self._events = None

    def _finish(
        self, job: ReportJob, report: Report | None, exc: BaseException | None
    ) -> str | None:
        if report is not None:
            posted = self.sink.publish(job, report)
            log.info(
                "%s report of %s%s for %s posted to %s: %s",
                job.kind,
                job.model,
                f" @{job.alias}" if job.alias else "",
                job.actor,
                job.channel,
                "ALERT (threshold crossed)" if report.alert else "no alert",
            )
            return posted
        from bot import metrics  # prometheus_client: not imported by an ad-hoc CLI report

        metrics.REPORT_FAILURES.labels(job.kind).inc()
        message = _describe(exc, self.rt.settings)
        log.warning("%s report of %s failed: %s", job.kind, job.model, message)
        self.sink.failed(job, message)
        from bot import audit  # SQLAlchemy: not imported by an ad-hoc CLI report (engine_config)

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

    # -- health ---------------------------------------------------------------------------

    def state(self) -> tuple[bool, str]:
        """For `/mlops status`: whether the last job ended in a worker death, and the queue."""
        with self._lock:
            queued = len(self._waiting) + (1 if self._running else 0)
            busy = f"{queued} queued" if queued else "idle"
            if self.in_process:
                return True, "computed in this process"
            if self._deaths == 0:
                return True, busy
            restarts = f"{self._deaths} restart{'s' if self._deaths != 1 else ''}"
            if not self._healthy_since_death:
                return False, (
                    f"the worker died during the {self._last_death} (out of memory?); "
                    f"restarted for the next report ({restarts}); {busy}"
                )
            return True, f"{busy}; {restarts} since start"

    def queued(self) -> int:
        """Reports waiting or running (the queue depth of /metrics)."""
        with self._lock:
            return len(self._pending())

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            self._end_relay()


def _timed(entry: _Entry) -> None:
    """A report computed: how long the worker took (failures count in report_failures_total)."""
    from bot import metrics

    metrics.REPORT_SECONDS.labels(entry.job.kind).observe(time.monotonic() - entry.started)


_DUPLICATE = "The same report is already queued for this channel; it will be posted once."
_QUEUE_FULL = "Reports are busy: {n} are queued. Try again in a few minutes."
_USER_LIMIT = "You already have {n} reports queued; ask again when one of them has been posted."
_MODEL_LIMIT = "Reports are busy: {n} reports of `{model}` are queued. Try again in a few minutes."


def _describe(exc: BaseException | None, settings: Settings) -> str:
    from bot.monitoring.datasets import DatasetError
    from bot.monitoring.report import ReportError
    from bot.redact import redact
    from bot.registry.gateway import RegistryError

    if isinstance(exc, ReportError | DatasetError | RegistryError):
        return redact(str(exc))
    if isinstance(exc, WorkerDied):
        return (
            "the report worker stopped while making this report (it may have run out of "
            "memory); it was restarted for the next report"
        )
    if isinstance(exc, MemoryError):
        return (
            "the report needed more memory than the worker may use "
            f"({settings.mlops_bot_report_worker_memory_mb} MiB, "
            "MLOPS_BOT_REPORT_WORKER_MEMORY_MB); use smaller data sets"
        )
    return f"unexpected {type(exc).__name__}; the details are in the bot's log"
