"""App factory: the services listeners need, and the Bolt `App` with every listener registered."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.approvals.service import ApprovalService
from bot.config import secret
from bot.health import Health
from bot.logs import ContextExecutor, tag_records
from bot.monitoring.runner import ReportRunner
from bot.policy.permissions import Permissions
from bot.runtime import Runtime
from handlers.approvals.messages import SlackDirectory
from handlers.context import SERVICES_KEY, SchedulerView, Services
from handlers.reports.posting import PageFiles, SlackReportSink

LISTENER_THREADS = 64


def build_services(
    rt: Runtime,
    client: WebClient,
    *,
    inline_work: bool = False,
    scheduler: Callable[[ApprovalService, ReportRunner], SchedulerView] | None = None,
    page_files: PageFiles | None = None,
) -> Services:
    """Build the approval service, report runner, scheduler and health checks of a process.

    `inline_work` (the local shell) computes reports and after-ack work in the caller's thread.
    `scheduler` builds the periodic jobs on the same services (serve does; tests and the
    shell run none). `page_files` is told where each posted report's page was written (the
    shell prints it; elsewhere pages are served at `GET /reports/<id>`).
    """
    permissions = Permissions(rt.policy, SlackDirectory(client, clock=rt.clock))
    approvals = ApprovalService(rt, permissions)
    # the shell waits for each report before its prompt: no placeholder there
    sink = SlackReportSink(client, rt, page_files, placeholders=not inline_work)
    reports = ReportRunner(rt, sink, in_process=inline_work)
    jobs = scheduler(approvals, reports) if scheduler is not None else None
    return Services(
        rt=rt,
        approvals=approvals,
        permissions=permissions,
        reports=reports,
        health=Health(
            rt.engine, rt.registry, jobs.state if jobs is not None else None, reports.state
        ),
        scheduler=jobs,
        inline_work=inline_work,
    )


def build_app(services: Services, client: WebClient) -> App:
    """The Bolt app with every listener of `handlers/` registered.

    With `services.inline_work` (the local shell) each listener runs to its end before
    `dispatch` returns, so the caller knows when all of its output has been produced.
    """
    import handlers

    tag_records()
    signing_secret = secret(services.rt.settings.slack_signing_secret)
    app = App(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=services.inline_work,
        # Bolt runs even the ack() part of a listener on this pool; with its default of 10
        # threads a burst of clicks queues behind slow listeners and acks late.
        listener_executor=ContextExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener"
        ),
        logger=logging.getLogger("mlops_bot.bolt"),
    )

    @app.middleware
    def inject_services(context: BoltContext, next) -> None:  # type: ignore[no-untyped-def]  # noqa: A002
        context[SERVICES_KEY] = services
        next()

    handlers.register(app)
    return app
