"""The report worker's memory limit: a huge allocation is a MemoryError with a clear answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import Settings
from bot.monitoring.runner import ReportRunner, _describe


def allocate(n: int) -> int:
    return len(bytearray(n))


def test_the_worker_process_has_a_memory_limit() -> None:
    settings = Settings(_env_file=None, mlops_bot_report_worker_memory_mb=512)  # type: ignore[call-arg]
    runner = ReportRunner(SimpleNamespace(settings=settings), sink=Any)  # type: ignore[arg-type]
    try:
        pool = runner._executor()
        assert pool.submit(allocate, 2**20).result(timeout=60) == 2**20
        with pytest.raises(MemoryError):
            pool.submit(allocate, 2**30).result(timeout=60)
    finally:
        runner.shutdown()
    message = _describe(MemoryError(), settings)
    assert "more memory than the worker may use (512 MiB" in message


def test_progress_from_the_worker_reaches_only_the_running_job() -> None:
    import queue
    from concurrent.futures import Future

    from bot.monitoring.document import ReportKind
    from bot.monitoring.progress import Phase, ProgressEvent
    from bot.monitoring.runner import ReportJob, _Entry

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    runner = ReportRunner(SimpleNamespace(settings=settings), sink=Any)  # type: ignore[arg-type]
    seen: list[ProgressEvent] = []
    job = ReportJob(ReportKind.DRIFT, "churn", None, "C0DEMO")
    runner._running = _Entry(job, Future(), token=2, progress=seen.append)
    events: queue.Queue[Any] = queue.Queue()
    late = ProgressEvent(Phase.CHARTS, "rendering charts")  # from the job before
    mine = ProgressEvent(Phase.COMPARING, done=1, total=3)
    for item in ((1, late), (2, mine), None):
        events.put(item)
    runner._relay(events)  # returns at the None
    assert seen == [mine]
