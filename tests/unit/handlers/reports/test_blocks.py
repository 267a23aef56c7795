"""The report summary says which drift engine computed it when it was not the in-memory one."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from bot.monitoring.document import build_document
from bot.monitoring.report import Report
from handlers.reports.blocks import report_reply
from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY

RT: Any = SimpleNamespace(
    policy=SimpleNamespace(for_model=lambda _m: SimpleNamespace(monitor=None, owners=("U0O",))),
    settings=SimpleNamespace(mlops_bot_report_channel="C1"),
    registry=SimpleNamespace(version_url=lambda *_a: None),
)


@pytest.mark.parametrize(
    ("engine", "shown"),
    [("duckdb", "DuckDB"), ("spark", "Spark"), ("numpy", None), (None, None)],
)
def test_summary_names_the_out_of_core_engine(engine: str | None, shown: str | None) -> None:
    data = json.loads(OLD_DRIFT_BODY)
    if engine is not None:
        data["engine"] = engine
    doc = build_document(data)
    payload = json.dumps(report_reply(Report(doc, "churn — drift", alert=False), RT).payload())
    assert ("computed by" in payload) is (shown is not None)
    if shown:
        assert f"computed by {shown}" in payload
    assert "current " in payload  # the same summary line otherwise
