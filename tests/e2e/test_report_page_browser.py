"""The report page in a real headless Chromium (the machine's Debian package, driven by
Playwright): it loads with no console error and no request elsewhere, headers sort, the filter
filters. Outside CI, without Chromium, the test is skipped with the reason; under CI=true it
must run. `MLOPS_BOT_TEST_SCREENSHOT=<path>` keeps the screenshot (docs/images/report-page.png)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.monitoring import links, pages
from bot.monitoring.document import ReportKind
from bot.monitoring.report import make_report
from bot.policy.file import Policy
from bot.storage import db
from bot.storage.tables import ReportRecord
from tests.helpers import BotServer
from tests.unit.bot.monitoring.stored_bodies import OLD_PERF_BODY

pytestmark = pytest.mark.slow
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def chromium() -> str:
    """The machine's Chromium (asked for before the bot starts, so a skip costs nothing)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI (.ci/run installs Debian's `chromium`)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return path


def stored_report(bot: BotServer, tmp_path: Path) -> str:
    """A drift report computed from shifted data, stored as a posted one; its signed URL."""
    rng = np.random.default_rng(7)
    n = 3000
    ref = pd.DataFrame({f"sensor_{i:02d}": rng.normal(0, 1, n) for i in range(9)})
    ref["plan"] = rng.choice(["basic", "pro", "team"], n)
    ref[HOSTILE] = rng.normal(5, 2, n)
    ref["region"] = rng.choice(["eu", "us"], n)
    cur = ref.copy()
    for i, shift in enumerate([1.2, 0.6, 0.3, 0.15, 0.05]):
        cur[f"sensor_{i:02d}"] += shift
    cur["plan"] = rng.choice(["basic", "pro", "team", "enterprise"], n, p=[0.2, 0.3, 0.3, 0.2])
    cur = cur.drop(columns=["region"]).assign(channel=rng.choice(["web", "app"], n))
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    report = make_report(
        ReportKind.DRIFT,
        bot.runtime.registry,
        Policy(),
        reference=str(tmp_path / "ref.parquet"),
        current=str(tmp_path / "cur.parquet"),
    )
    return store(bot, report.document.to_json(), report.charts)


def stored_perf_report(bot: BotServer) -> str:
    """A performance report with windows and a chart of one metric over them; its URL."""
    from bot.monitoring.performance.charts import metric_over_time

    windows = json.loads(OLD_PERF_BODY)["performance"]["windows"]
    chart = metric_over_time(windows, "accuracy", 0.95, "holdout accuracy", "churn — performance")
    return store(bot, OLD_PERF_BODY, [("metric_accuracy.png", chart)])


def store(bot: BotServer, body: str, charts: list[tuple[str, bytes]]) -> str:
    """Store a report as a posted one; its signed URL on the test server."""
    rt = bot.runtime
    record_id = uuid.uuid4().hex[:12]
    with db.session(rt.engine, write=True) as s:
        s.add(
            ReportRecord(
                id=record_id, kind=json.loads(body)["kind"], body=body, created_at=rt.clock.now()
            )
        )
        pages.add_charts(s, record_id, charts)
        s.commit()
    public = rt.settings.model_copy(update={"mlops_bot_public_url": bot.url})
    link = links.page_link(public, record_id, rt.clock.now())
    assert link is not None
    return link[0]


def header(page: Any, index: int) -> Any:
    """The sort button of a feature table column (its name gains ▲/▼ once sorted)."""
    return page.locator(f"#features-table thead th:nth-child({index + 1}) button")


def column(page: Any, index: int) -> list[str]:
    cells = page.locator(f"#features-table tbody tr:visible td:nth-child({index + 1})")
    return [t.strip() for t in cells.all_inner_texts()]


def test_page_loads_sorts_and_filters_in_chromium(
    chromium: str, bot: BotServer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url = stored_report(bot, tmp_path)
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            assert page.goto(url).status == 200  # type: ignore[union-attr]
            page.wait_for_load_state("load")

            headings = page.locator("#features-table thead th").all_inner_texts()
            name_col, stat_col = headings.index("Feature"), headings.index("Statistic")
            names = column(page, name_col)
            assert len(names) == 11 and HOSTILE in names  # shown as text, not an element
            assert page.locator("img[src='x']").count() == 0
            assert names[0] == "sensor_00"  # the worst drift first

            header(page, name_col).click()
            assert column(page, name_col) == sorted(names, key=str.lower)
            header(page, name_col).click()
            assert column(page, name_col) == sorted(names, key=str.lower, reverse=True)
            assert page.locator("th[aria-sort='descending']").inner_text().startswith("Feature")

            header(page, stat_col).click()
            stats = column(page, stat_col)
            numbers = [float(s) for s in stats if s != "—"]
            assert numbers == sorted(numbers) and all(s == "—" for s in stats[len(numbers) :])

            page.fill("#filter", "sensor_0")
            assert sorted(column(page, name_col)) == [f"sensor_{i:02d}" for i in range(9)]
            assert page.inner_text("#shown") == "9 of 11 shown"
            page.fill("#filter", "")
            page.select_option("#status-filter", "drifted")
            drifted = column(page, name_col)
            assert "sensor_00" in drifted and "sensor_08" not in drifted
            page.select_option("#status-filter", "")
            header(page, name_col).click()  # back to A→Z

            charts = page.locator("#charts img")
            assert charts.count() >= 2
            assert all(
                page.evaluate("(img) => img.complete && img.naturalWidth > 0", img.element_handle())
                for img in charts.all()
            )
            shot = tmp_path / "report-page.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if os.environ.get("MLOPS_BOT_TEST_SCREENSHOT"):
                shutil.copy(shot, os.environ["MLOPS_BOT_TEST_SCREENSHOT"])

            # a performance report: metrics against their baseline, sortable; every window
            perf_url = stored_perf_report(bot)
            assert page.goto(perf_url).status == 200  # type: ignore[union-attr]
            current = page.locator("#metrics-table thead th:nth-child(2) button")
            current.click()
            values = page.locator("#metrics-table tbody td:nth-child(2)").all_inner_texts()
            numbers = [float(v) for v in values if v.strip() != "—"]
            assert numbers == sorted(numbers) and len(numbers) == 4
            assert page.locator("#windows-table tbody tr").count() == 5
            assert page.locator("#charts img").evaluate("(img) => img.naturalWidth > 0")
            urls = [url, perf_url]
        finally:
            browser.close()
    assert problems == []
    assert [u for u in requested if not u.startswith("data:")] == urls
