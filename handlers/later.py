"""Work that runs after the ack, on a small pool of its own, decisions first.

Bolt runs each listener, ack included, on its listener pool. If the slow part (MLflow, SQL,
Slack calls) ran there too, a burst of twenty commands would mean twenty threads fighting for
the GIL and every ack waiting its turn. Listeners ack, hand the rest to this pool and return;
in the local shell (`process_before_response`) the work runs inline instead.

Under a flood the pool falls behind. Decisions (votes, rejections, promotion requests) jump the
queue ahead of read-only work, and read-only work is refused with a "busy" answer once
MAX_BACKLOG jobs wait, so an Approve never waits behind a thousand `/mlops status`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from contextvars import Context, copy_context

from slack_bolt import BoltContext

from bot.failures import explain
from handlers.context import services_of

log = logging.getLogger(__name__)
WORKERS = 2
MAX_BACKLOG = 1000
BUSY = "The bot is busy right now and did not run that; try again in a minute."


class PriorityPool:
    """Worker threads that take urgent jobs before the others, each in its caller's context.

    Written here because concurrent.futures has no priority executor.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Context, Callable[[], object]]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        for i in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True).start()

    def submit(self, fn: Callable[[], object], *, urgent: bool) -> None:
        self._jobs.put((0 if urgent else 1, next(self._order), copy_context(), fn))

    def backlog(self) -> int:
        return self._jobs.qsize()

    def _work(self) -> None:
        while True:
            _, _, context, fn = self._jobs.get()
            context.run(fn)


_pool = PriorityPool(WORKERS, "mlops-after-ack")


def after_ack(
    context: BoltContext,
    fn: Callable[[], object],
    on_error: Callable[[str], object] | None = None,
    *,
    urgent: bool = False,
) -> None:
    """Run `fn` now when listeners must finish before the response, else on the pool.

    `urgent`: a decision, queued ahead of read-only work and never refused as busy. A failure
    is explained to the user through `on_error` (and logged), never dropped.
    """

    def tell(message: str) -> None:
        if on_error is not None:
            try:
                on_error(message)
            except Exception:
                log.exception("telling the user about a failure failed")

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            tell(explain(exc, "work after ack"))

    if services_of(context).inline_work:
        run()
    elif not urgent and _pool.backlog() >= MAX_BACKLOG:
        log.warning("after-ack backlog at %d: refusing read-only work", _pool.backlog())
        tell(BUSY)
    else:
        _pool.submit(run, urgent=urgent)


def backlog() -> int:
    """Jobs waiting for the after-ack pool (the queue depth of /metrics)."""
    return _pool.backlog()
