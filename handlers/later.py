"""Work that runs after the ack, on a small pool of its own.

Bolt runs each listener, ack included, on its listener pool. If the slow part (MLflow, SQL,
Slack calls) ran there too, a burst of twenty commands would mean twenty threads fighting for
the GIL and every ack waiting its turn. Listeners ack, hand the rest to this bounded pool and
return; in the local shell (`process_before_response`) the work runs inline instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import BoltContext

from bot.app import runtime_of
from bot.failures import explain
from bot.logs import ContextExecutor

log = logging.getLogger(__name__)
WORKERS = 2
_pool = ContextExecutor(max_workers=WORKERS, thread_name_prefix="mlops-after-ack")


def after_ack(
    context: BoltContext,
    fn: Callable[[], object],
    on_error: Callable[[str], object] | None = None,
) -> None:
    """Run `fn` now when listeners must finish before the response, else on the pool.

    A failure is explained to the user through `on_error` (and logged), never dropped.
    """

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            message = explain(exc, "work after ack")
            if on_error is not None:
                try:
                    on_error(message)
                except Exception:
                    log.exception("telling the user about a failure failed")

    if runtime_of(context).inline_work:
        run()
    else:
        _pool.submit(run)
