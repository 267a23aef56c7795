"""App factory: one function builds the Bolt `App` from the runtime."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.approvals.service import ApprovalService
from bot.config import secret
from bot.logs import ContextExecutor, tag_records
from bot.monitoring.runner import ReportRunner
from bot.runtime import Runtime
from handlers.approvals.messages import SlackDirectory
from handlers.slack_client import make_client

RUNTIME_KEY = "mlops_runtime"
LISTENER_THREADS = 64


def build_app(
    rt: Runtime, client: WebClient | None = None, *, process_before_response: bool = False
) -> App:
    """The Bolt app with every listener of `handlers/` registered.

    `process_before_response=True` (the local shell) runs each listener to its end before
    `dispatch` returns, so the caller knows when all of its output has been produced.
    """
    import handlers

    tag_records()
    signing_secret = secret(rt.settings.slack_signing_secret)
    client = client or make_client(rt.settings)
    rt.approvals = ApprovalService(rt, SlackDirectory(client))
    rt.reports = ReportRunner(rt, client, in_process=process_before_response)
    rt.inline_work = process_before_response
    app = App(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=process_before_response,
        # Bolt runs even the ack() part of a listener on this pool; with its default of 10
        # threads a burst of clicks queues behind slow listeners and acks late.
        listener_executor=ContextExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener"
        ),
        logger=logging.getLogger("mlops_bot.bolt"),
    )

    @app.middleware
    def inject_runtime(context: BoltContext, next) -> None:  # type: ignore[no-untyped-def]  # noqa: A002
        context[RUNTIME_KEY] = rt
        next()

    handlers.register(app)
    return app


def runtime_of(context: BoltContext) -> Runtime:
    """The runtime injected by the middleware above."""
    rt: Runtime = context[RUNTIME_KEY]
    return rt


def approvals_of(context: BoltContext) -> ApprovalService:
    """The approval service of the injected runtime."""
    return runtime_of(context).require_approvals()
