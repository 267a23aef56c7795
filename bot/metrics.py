"""Prometheus metrics, every name prefixed `mlops_bot_` (served at `GET /metrics`).

Counters and histograms are module-level objects incremented where things happen. Gauges that
describe the state of this process or of the database (queue depths, worker health, audit chain)
are computed at scrape time by the probes a process registers with `set_probes`, so they cost
nothing between scrapes.

Multi-process: when `PROMETHEUS_MULTIPROC_DIR` is set (before the bot starts), prometheus_client
writes every counter and histogram to files in that directory, and `render` collects them from all
processes that share it (the report worker included). The directory must be empty at start and
belong to one replica: each replica is its own scrape target.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

PREFIX = "mlops_bot_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The bot's own registry: the default one adds process_* and python_* names without the prefix.
_REGISTRY = CollectorRegistry(auto_describe=True)


def _counter(name: str, doc: str, *labels: str) -> Counter:
    return Counter(f"{PREFIX}{name}", doc, labels, registry=_REGISTRY)


def _histogram(name: str, doc: str, label: str, buckets: tuple[float, ...]) -> Histogram:
    return Histogram(f"{PREFIX}{name}", doc, [label], buckets=buckets, registry=_REGISTRY)


ACK_SECONDS = _histogram(
    "ack_seconds",
    "Time from a Slack request reaching the bot to its ack, by kind of request.",
    "kind",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
REQUESTS = _counter(
    "promotion_requests_total", "Promotion requests (`/mlops promote`), by outcome.", "outcome"
)
DECISIONS = _counter(
    "decisions_total",
    "Decisions on promotion requests (approve, override, reject, denied clicks), by outcome.",
    "outcome",
)
ALIAS_MOVES = _counter(
    "alias_moves_total",
    "Aliases the bot moved in the MLflow registry, by model and alias.",
    "model",
    "alias",
)
REPORT_SECONDS = _histogram(
    "report_seconds",
    "Time to compute a report that succeeded (queue wait excluded), by kind.",
    "kind",
    (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)
REPORT_FAILURES = _counter(
    "report_failures_total", "Reports that failed (posted as an error), by kind.", "kind"
)
FIRES_CLAIMED = _counter(
    "scheduled_fires_claimed_total",
    "Scheduled report fire times this process claimed (each is claimed once across replicas).",
)
WEBHOOKS = _counter(
    "webhook_deliveries_total",
    "MLflow webhook deliveries, by result (ok, duplicate, error, refused, invalid, disabled).",
    "result",
)
ANCHORS_POSTED = _counter(
    "audit_anchors_posted_total", "Audit chain anchors posted to the audit channel."
)

_last_anchor_posted: float | None = None  # time.time() of this process's last posted anchor


def anchor_posted() -> None:
    """An anchor of the audit chain reached the audit channel."""
    global _last_anchor_posted
    _last_anchor_posted = time.time()
    ANCHORS_POSTED.inc()


def last_anchor_posted() -> float | None:
    return _last_anchor_posted


class _HasKind(Protocol):
    @property
    def kind(self) -> object: ...


P = ParamSpec("P")
R = TypeVar("R", bound=_HasKind)


def count_outcomes(
    counter: Counter, invalid: type[Exception]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Count each result of the decorated call under its `kind`; an `invalid` exception (input
    refused before anything happened) counts as `invalid`."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def counted(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = fn(*args, **kwargs)
            except invalid:
                counter.labels("invalid").inc()
                raise
            counter.labels(str(result.kind)).inc()
            return result

        return counted

    return wrap


@dataclass
class Probes:
    """What a process can say at scrape time; each returns None when it cannot tell."""

    after_ack_backlog: Callable[[], int] | None = None
    report_queue: Callable[[], int] | None = None
    report_worker_healthy: Callable[[], bool] | None = None
    audit_events: Callable[[], int | None] | None = None
    last_anchor_age: Callable[[], float | None] | None = None


class _ScrapeTime(Collector):
    """The gauges of this process, computed when /metrics is read."""

    def __init__(self) -> None:
        self.probes = Probes()

    def collect(self) -> Iterator[Metric]:
        p = self.probes
        yield from _gauge(
            "after_ack_queue_depth", "Jobs waiting for the after-ack pool.", p.after_ack_backlog
        )
        yield from _gauge("report_queue_depth", "Reports queued or running.", p.report_queue)
        healthy = p.report_worker_healthy
        yield from _gauge(
            "report_worker_healthy",
            "1 when the report worker's last job did not die, else 0.",
            None if healthy is None else (lambda: int(healthy())),
        )
        yield from _gauge(
            "audit_chain_length", "Events in the hash-chained audit log.", p.audit_events
        )
        yield from _gauge(
            "audit_last_anchor_age_seconds",
            "Seconds since the audit chain was last anchored outside the database "
            "(a promotion tagged on MLflow, or an anchor posted to the audit channel).",
            p.last_anchor_age,
        )


def _gauge(name: str, doc: str, probe: Callable[[], float | int | None] | None) -> Iterable[Metric]:
    if probe is None:
        return []
    try:
        value = probe()
    except Exception:  # a probe that cannot read (database down) leaves its gauge out
        return []
    if value is None:
        return []
    family = GaugeMetricFamily(f"{PREFIX}{name}", doc)
    family.add_metric([], float(value))
    return [family]


_SCRAPE_TIME = _ScrapeTime()
_SCRAPE_REGISTRY = CollectorRegistry(auto_describe=False)
_SCRAPE_REGISTRY.register(_SCRAPE_TIME)


def set_probes(**probes: Callable[[], object] | None) -> None:
    """Register this process's scrape-time probes (see Probes for the names)."""
    for name, probe in probes.items():
        if not hasattr(_SCRAPE_TIME.probes, name):
            raise TypeError(f"unknown probe {name!r}")
        setattr(_SCRAPE_TIME.probes, name, probe)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> bytes:
    """The exposition text: counters and histograms (of every process sharing
    PROMETHEUS_MULTIPROC_DIR, in multi-process mode), then this process's scrape-time gauges."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(_REGISTRY)
    return counted + generate_latest(_SCRAPE_REGISTRY)
