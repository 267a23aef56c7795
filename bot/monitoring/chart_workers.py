"""Charts drawn on two CPUs: a forked copy of the process draws every other one.

The CLI report draws eleven PNGs after the comparison, one after the other on one core, in
about a quarter of its time; matplotlib holds the GIL while it draws, so threads would not
help. A fork shares the loaded frames and modules with the parent (copy-on-write) and costs a
few milliseconds, where a fresh worker would import matplotlib and pandas again and need the
data sent to it. By hand, because multiprocessing's pools pickle the work (here: closures over
the frames) and start their own worker processes.

Anything that goes wrong in the child (no fork on this platform, a crash, a half-written
answer) only means the parent draws those charts itself: same bytes, in the same order.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Sequence

Job = tuple[str, Callable[[], bytes]]  # a file name and what draws it


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def render(jobs: Sequence[Job], workers: int = 1) -> list[tuple[str, bytes]]:
    """Every job's (name, PNG) in the jobs' order; with ``workers`` >= 2 and ``os.fork``, a
    child process draws the odd-numbered jobs, and the last one of an odd number, while this
    one draws the others (the first job, a report's summary, is about two jobs' work)."""
    if workers < 2 or len(jobs) < 2 or not hasattr(os, "fork"):
        return [(name, draw()) for name, draw in jobs]
    theirs = child_share(len(jobs))
    got = _forked(jobs, theirs)
    out: dict[int, bytes] = {}
    for i, (_, draw) in enumerate(jobs):
        if i not in theirs:
            out[i] = draw()
    done = got()
    for i in theirs:
        out[i] = done[i] if i in done else jobs[i][1]()
    return [(name, out[i]) for i, (name, _) in enumerate(jobs)]


def child_share(n: int) -> list[int]:
    """The indices a child draws of ``n`` jobs: the odd ones, and the last when ``n`` is odd
    (11 charts: the summary and four feature charts here, six feature charts there)."""
    theirs = list(range(1, n, 2))
    if n % 2 == 1 and n > 2:
        theirs.append(n - 1)
    return theirs


def _forked(jobs: Sequence[Job], mine: list[int]) -> Callable[[], dict[int, bytes]]:
    """Fork a child drawing the jobs at ``mine``; returns the call that collects its PNGs
    (an empty or partial dict when it failed)."""
    from bot.monitoring import preload

    preload.wait()  # a thread inside an import would leave the child its import lock
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return lambda: {}
    if pid == 0:  # the child: draw, send, leave without running the parent's exit handlers
        code = 1
        try:
            os.close(read_fd)
            pngs = {i: jobs[i][1]() for i in mine}
            with os.fdopen(write_fd, "wb") as pipe:
                pickle.dump(pngs, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)

    def collect() -> dict[int, bytes]:
        with os.fdopen(read_fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return {}
        try:  # our own child's bytes, read from a pipe only it could write to
            pngs = pickle.loads(data)  # noqa: S301
        except Exception:
            return {}
        return pngs if isinstance(pngs, dict) else {}

    return collect
