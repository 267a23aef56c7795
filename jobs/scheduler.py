"""The in-process scheduler: APScheduler 3 running the bot's periodic jobs.

Every job is safe to run on several replicas at once: each decision it makes is a
compare-and-set in the database, so only one replica acts on any one request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.approvals.service import ApprovalService
from bot.monitoring import schedules
from bot.monitoring.runner import ReportRunner
from bot.runtime import Runtime
from bot.storage.deliveries import prune_deliveries
from jobs import approvals as approval_jobs
from jobs import audit as audit_jobs
from jobs import reconcile as reconcile_job
from jobs import reminders as reminder_jobs
from jobs import reports as report_jobs

log = logging.getLogger(__name__)


class Scheduler:
    """Owns the APScheduler instance and the bot's jobs."""

    def __init__(
        self, rt: Runtime, svc: ApprovalService, runner: ReportRunner, client: WebClient
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.rt = rt
        self._sched = BackgroundScheduler(
            timezone=rt.settings.mlops_bot_timezone,
            # coalesce: a bot that was down posts once, not once per missed run
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        every = rt.settings.mlops_bot_recover_interval_seconds
        self._add("expire requests", every, lambda: approval_jobs.expire(svc, client))
        self._add(
            "recover interrupted promotions", every, lambda: approval_jobs.recover(svc, client)
        )
        self._add("remind approvers", every, lambda: reminder_jobs.remind(svc, client))
        self._add(
            "scheduled reports", report_jobs.TICK_SECONDS, lambda: report_jobs.tick(rt, runner)
        )
        self._add("prune fire claims", 86400, lambda: schedules.prune_fires(rt))
        if rt.settings.mlops_bot_audit_channel:
            self._add(
                "anchor the audit log",
                audit_jobs.ANCHOR_SECONDS,
                lambda: audit_jobs.anchor(rt, client),
            )
        self._add("prune deliveries", 86400, lambda: prune_deliveries(rt.engine, rt.clock.now()))
        self._add(
            "reconcile protected aliases",
            rt.settings.mlops_bot_reconcile_seconds,
            lambda: reconcile_job.run(rt, client),
        )

    def _add(self, name: str, seconds: int, fn: Callable[[], object]) -> None:
        def run() -> None:
            try:
                fn()
            except Exception:  # a failing job must not kill the scheduler thread
                log.exception("job %r failed", name)

        self._sched.add_job(
            run,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            next_run_time=datetime.now(self._sched.timezone),
        )

    def start(self) -> None:
        self._sched.start()

    def shutdown(self, wait: bool = False) -> None:
        """Stop the jobs; `wait` also waits for the ones running now to finish."""
        if self._sched.running:
            self._sched.shutdown(wait=wait)

    def state(self) -> tuple[bool, str]:
        if not self._sched.running:
            return False, "stopped"
        return True, f"running {len(self._sched.get_jobs())} jobs"

    def next_runs(self) -> list[str]:
        runs = report_jobs.next_runs(self.rt)
        for job in sorted(self._sched.get_jobs(), key=lambda j: j.next_run_time or datetime.max):
            when = job.next_run_time.strftime("%Y-%m-%d %H:%M:%S %Z") if job.next_run_time else "—"
            runs.append(f"• job {job.name}: {when}")
        return runs
