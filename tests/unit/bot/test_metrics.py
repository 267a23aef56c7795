"""bot.metrics: prefixed names, outcome counting, scrape-time gauges, multi-process mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics


class Refused(Exception):
    pass


class Result:
    def __init__(self, kind: str) -> None:
        self.kind = kind


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def test_every_name_is_prefixed_and_gauges_come_from_probes() -> None:
    metrics.set_probes(report_queue=lambda: 4, audit_events=lambda: 1 / 0)  # a probe that fails
    try:
        text = metrics.render().decode()
    finally:
        metrics.set_probes(report_queue=None, audit_events=None)
    names = [f.name for f in text_string_to_metric_families(text)]
    assert names and all(n.startswith("mlops_bot_") for n in names), names
    assert value(text, "mlops_bot_report_queue_depth") == 4
    assert "mlops_bot_audit_chain_length" not in names  # left out, not an error
    with pytest.raises(TypeError, match="unknown probe"):
        metrics.set_probes(queue=lambda: 1)


def test_count_outcomes_counts_each_kind_and_refused_input() -> None:
    counter = metrics.DECISIONS

    @metrics.count_outcomes(counter, Refused)
    def decide(kind: str) -> Result:
        if kind == "bad":
            raise Refused
        return Result(kind)

    before = metrics.render().decode()
    decide("voted")
    with pytest.raises(Refused):
        decide("bad")
    after = metrics.render().decode()
    for outcome in ("voted", "invalid"):
        old = value(before, "mlops_bot_decisions_total", outcome=outcome) or 0
        assert value(after, "mlops_bot_decisions_total", outcome=outcome) == old + 1


@pytest.mark.slow
def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    bump = (
        "from bot import metrics; metrics.FIRES_CLAIMED.inc(); metrics.WEBHOOKS.labels('ok').inc()"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bump], env=env, check=True, timeout=60)
    show = "import sys; from bot import metrics; sys.stdout.write(metrics.render().decode())"
    out = subprocess.run(
        [sys.executable, "-c", show],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert value(out, "mlops_bot_scheduled_fires_claimed_total") == 2
    assert value(out, "mlops_bot_webhook_deliveries_total", result="ok") == 2
    assert all(f.name.startswith("mlops_bot_") for f in text_string_to_metric_families(out))
