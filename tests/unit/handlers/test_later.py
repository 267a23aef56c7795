"""The after-ack pool: decisions before read-only work; read-only work refused when flooded."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from slack_bolt import BoltContext

from handlers import later
from handlers.context import SERVICES_KEY


def blocked_pool(workers: int) -> tuple[later.PriorityPool, threading.Event]:
    """A pool whose workers are all busy until the returned event is set."""
    pool, gate, started = later.PriorityPool(workers, "test-pool"), threading.Event(), []
    for _ in range(workers):
        ready = threading.Event()
        started.append(ready)
        pool.submit(lambda r=ready: (r.set(), gate.wait(10)), urgent=True)
    for ready in started:
        assert ready.wait(10)
    return pool, gate


def test_urgent_jobs_run_before_earlier_read_only_ones() -> None:
    pool, gate = blocked_pool(1)
    ran: list[str] = []
    done = threading.Event()
    for name in ("status-1", "status-2"):
        pool.submit(lambda n=name: ran.append(n), urgent=False)
    pool.submit(lambda: ran.append("approve"), urgent=True)
    pool.submit(done.set, urgent=False)
    gate.set()
    assert done.wait(10)
    assert ran == ["approve", "status-1", "status-2"]


def test_a_flood_of_read_only_work_is_refused_but_decisions_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool, gate = blocked_pool(1)
    monkeypatch.setattr(later, "_pool", pool)
    monkeypatch.setattr(later, "MAX_BACKLOG", 3)
    context = BoltContext()
    context[SERVICES_KEY] = SimpleNamespace(inline_work=False)
    told: list[str] = []
    ran: list[int] = []
    for i in range(5):
        later.after_ack(context, lambda i=i: ran.append(i), told.append)
    later.after_ack(context, lambda: ran.append(99), told.append, urgent=True)
    assert told == [later.BUSY, later.BUSY]  # the 4th and 5th read-only jobs
    finished = threading.Event()
    pool.submit(finished.set, urgent=False)
    gate.set()
    assert finished.wait(10)
    assert ran == [99, 0, 1, 2]
