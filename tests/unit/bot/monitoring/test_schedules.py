"""bot.monitoring.schedules: how often a cron expression fires, for the policy's minimum."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.monitoring.schedules import shortest_gap


@pytest.mark.parametrize(
    ("cron", "gap"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("0 * * * *", timedelta(hours=1)),
        ("0,30 9 * * *", timedelta(minutes=30)),  # twice in one hour, once a day
        ("0 9 * * 1-5", timedelta(days=1)),
        ("0 9,10 * * 1", timedelta(hours=1)),
        ("0 0 1 1 *", timedelta(days=365)),
        ("59 23 31 12 *", timedelta(days=365)),
    ],
)
def test_shortest_gap(cron: str, gap: timedelta) -> None:
    assert shortest_gap(cron) == gap
