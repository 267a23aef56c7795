"""What this process reports at scrape time on `GET /metrics` (bot.metrics holds the metrics)."""

from __future__ import annotations

import time

from bot import audit_anchors, metrics
from handlers import later
from handlers.context import Services


def register_probes(services: Services) -> None:
    """Queue depths, report worker health and the audit chain, read when /metrics is scraped."""
    rt = services.rt

    def anchor_age() -> float | None:
        tagged = audit_anchors.last_tagged(rt.engine)
        times = [t for t in (tagged and tagged.timestamp(), metrics.last_anchor_posted()) if t]
        return time.time() - max(times) if times else None

    metrics.set_probes(
        after_ack_backlog=later.backlog,
        report_queue=services.reports.queued,
        report_worker_healthy=lambda: services.reports.state()[0],
        audit_events=lambda: audit_anchors.chain_length(rt.engine),
        last_anchor_age=anchor_age,
    )
