"""Import a report's later modules in a background thread while the engine compares.

A drift report needs matplotlib (~0.4 s of import) only for its charts, scipy.special
(~0.15 s) only for its Jensen–Shannon distances and jinja2 with the page's template only to
write `report.html`; imported one after the other they sat on the report's path. Sorting
columns releases the GIL, so imports running beside it cost the same CPU and little wall
time. Started after the data is loaded, not before: beside the start-up's own imports (which
hold the GIL) they only slowed them down.

The thread only imports; :func:`wait` for it before forking, so that no thread holds an
import lock in the child.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial

THREAD_NAME = "report-preload"


def _import_all(charts: bool) -> None:
    import scipy.special  # noqa: F401

    if charts:
        from bot.monitoring import charts as chart_module

        chart_module.load_matplotlib()
    from bot.monitoring import page

    page.warm()  # jinja2 and the report page's compiled template, for write_report


def preload(charts: bool = True) -> None:
    """Start importing scipy.special (and, with ``charts``, matplotlib) and readying the page
    in a daemon thread.
    An import that fails there fails again, with its error, where the module is used."""
    in_background(partial(_import_all, charts))


def in_background(warm: Callable[[], object]) -> None:
    """Run ``warm`` (imports, caches) in a daemon thread; its errors are ignored."""
    threading.Thread(target=_quietly, args=(warm,), name=THREAD_NAME, daemon=True).start()


def wait() -> None:
    """Until every preloading thread has finished (call it before ``os.fork``)."""
    for thread in threading.enumerate():
        if thread.name == THREAD_NAME and thread is not threading.current_thread():
            thread.join()


def _quietly(warm: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # retried, and reported, where the module is used
        warm()
