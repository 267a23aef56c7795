"""Issue 14 item 3 in Slack: every feature line says method, statistic, threshold, raw and
adjusted p or the distance, PSI with its band, n and nulls; "Show all features" pages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.monitoring.document import DriftDocument, build_document
from bot.monitoring.drift import compute_drift
from handlers import action_ids as ids
from handlers.reports.features import PAGE_SIZE, features_reply
from tests.slack_fake import validate_blocks


def document(columns: int, shifted: int) -> DriftDocument:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({f"f{i:02d}": rng.normal(size=300) for i in range(columns)})
    cur = pd.DataFrame({f"f{i:02d}": rng.normal(size=200) for i in range(columns)})
    for i in range(shifted):
        cur[f"f{i:02d}"] += 0.5 + 0.1 * i
    ref["session"] = [f"s{i}" for i in range(300)]
    cur["session"] = [f"t{i}" for i in range(200)]
    doc = build_document(
        {
            "kind": "drift",
            "model": "churn",
            "alias": "champion",
            "version": "1",
            "run_id": "r",
            "reference": {"uri": "r", "rows": 300},
            "current": {"uri": "c", "rows": 200},
            **compute_drift(ref, cur).to_dict(),
            "generated_at": "2026-11-30T12:00:00Z",
        }
    )
    assert isinstance(doc, DriftDocument)
    return doc


def buttons(payload: dict) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in payload["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_show_all_features_pages_in_severity_order_with_every_number() -> None:
    doc = document(columns=34, shifted=3)
    first = features_reply(doc, "0123456789ab").payload()
    assert validate_blocks(first["blocks"]) == []
    text = first["text"]
    assert "All features (35), page 1 of 3" in text
    lines = text.splitlines()[1:]
    assert len(lines) == PAGE_SIZE
    shown = [ln.split("`")[1] for ln in lines]
    assert set(shown[:3]) == {"f00", "f01", "f02"} and all(":red_circle:" in ln for ln in lines[:3])
    scores = {f.name: f.drift_score or 0.0 for f in doc.features}
    assert [scores[n] for n in shown] == sorted((scores[n] for n in shown), reverse=True)
    top = lines[0]
    for part in ("KS 0.", "· p ", "(adj ", "vs α 0.05", "score ", "PSI ", "n 300/200", "nulls 0/0"):
        assert part in top, (part, top)
    assert any(band in top for band in ("(stable)", "(moderate)", "(major)"))
    assert buttons(first) == {ids.REPORT_PAGE_NEXT: "0123456789ab:2"}
    last = features_reply(doc, "0123456789ab", 3).payload()
    assert "page 3 of 3" in last["text"] and buttons(last) == {
        ids.REPORT_PAGE_PREV: "0123456789ab:2"
    }
    assert "`session` — untested: identifier-like" in last["text"]  # untested come last
    assert "drift_features.csv" in str(last["blocks"])
    assert features_reply(doc, "0123456789ab", 99).payload()["text"] == last["text"]


def test_the_summary_lists_schema_changes_first_then_the_verdict_and_freshness() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from bot.monitoring.report import Report
    from handlers.reports.blocks import report_reply

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=300), "gone": 1.0, "code": np.arange(300)})
    cur = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "extra": 2.0,
            "code": ["x"] * 200,
            "seen": pd.date_range(end="2026-11-30 09:00", periods=200, freq="h", tz="UTC"),
        }
    )
    ref["seen"] = pd.date_range(end="2026-10-01", periods=300, freq="h", tz="UTC")
    result = compute_drift(ref, cur, now=datetime(2026, 11, 30, 12, tzinfo=UTC))
    doc = build_document(
        {
            "kind": "drift",
            "model": "churn",
            "alias": "champion",
            "version": "1",
            "run_id": "r",
            "reference": {"uri": "r", "rows": 300},
            "current": {"uri": "c", "rows": 200},
            **result.to_dict(),
            "generated_at": "2026-11-30T12:00:00Z",
        }
    )
    rt = SimpleNamespace(
        policy=SimpleNamespace(for_model=lambda _m: SimpleNamespace(monitor=None, owners=("U0O",))),
        registry=SimpleNamespace(version_url=lambda *_a: None),
    )
    payload = report_reply(Report(doc, "churn — drift", alert=result.alert), rt).payload()  # type: ignore[arg-type]
    assert validate_blocks(payload["blocks"]) == []
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert sections[0].startswith(":warning: *Schema changed*")
    assert "missing in current: `gone`" in sections[0] and "new in current: `extra`" in sections[0]
    assert "`code` changed type: int64 →" in sections[0]
    assert "No feature drifted, but the schema changed" in sections[1]
    assert "<@U0O>" in sections[1]  # an alert mentions the owners
    quality = sections[-1]
    assert quality.startswith("*Data quality*")
    assert "`seen` newest value 2026-11-30 09:00:00 (3 h before the report)" in quality
