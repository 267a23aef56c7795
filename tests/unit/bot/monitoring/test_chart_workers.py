"""Issue 14 item 9: the CLI draws its drift charts on two CPUs (a forked child draws every
other one) and gets the same files, in the same order, as one process drawing them all."""

from __future__ import annotations

import os

import pytest

from bot.monitoring import chart_workers, datasets, report_charts
from bot.monitoring.drift import compute_drift
from tests.unit.bot.monitoring.test_charts import frames


def pid_job(name: str) -> chart_workers.Job:
    return name, lambda: str(os.getpid()).encode()


def test_one_worker_draws_everything_here() -> None:
    out = chart_workers.render([pid_job(f"c{i}") for i in range(4)], workers=1)
    assert [name for name, _ in out] == ["c0", "c1", "c2", "c3"]
    assert {png for _, png in out} == {str(os.getpid()).encode()}


def test_the_child_draws_about_half_the_work() -> None:
    assert chart_workers.child_share(2) == [1]
    assert chart_workers.child_share(3) == [1, 2]
    assert chart_workers.child_share(4) == [1, 3]
    assert chart_workers.child_share(11) == [1, 3, 5, 7, 9, 10]


@pytest.mark.slow  # forks a process
def test_two_workers_split_the_charts_with_a_child() -> None:
    out = chart_workers.render([pid_job(f"c{i}") for i in range(5)], workers=2)
    here = str(os.getpid()).encode()
    assert [name for name, _ in out] == ["c0", "c1", "c2", "c3", "c4"]
    # the child draws the odd ones and the last: the first (a summary) is about two charts
    assert [png == here for _, png in out] == [True, False, True, False, False]
    assert out[1][1] == out[3][1] == out[4][1]  # one child drew them


@pytest.mark.slow  # forks a process
def test_a_failing_child_means_the_parent_draws_its_charts() -> None:
    parent = os.getpid()

    def fragile() -> bytes:
        if os.getpid() != parent:
            raise RuntimeError("the child breaks")
        return b"drawn here"

    out = chart_workers.render([pid_job("a"), ("b", fragile), pid_job("c")], workers=2)
    assert out == [("a", str(parent).encode()), ("b", b"drawn here"), ("c", str(parent).encode())]


@pytest.mark.slow  # forks a process
def test_forked_drift_charts_are_the_same_files_as_serial_ones() -> None:
    ref, cur = frames(6)
    result = compute_drift(ref, cur)
    sides = datasets.Dataset("ref.parquet", ref), datasets.Dataset("cur.parquet", cur)
    serial = report_charts.drift_charts(result, *sides, "ad-hoc — drift", 1)
    forked = report_charts.drift_charts(result, *sides, "ad-hoc — drift", 2)
    assert [name for name, _ in forked] == [name for name, _ in serial]
    assert [name for name, _ in serial][:2] == ["drift_summary.png", "feature_01_x00.png"]
    assert forked == serial
