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
    for part in ("KS 0.", "vs 0.05", "p ", "(adj ", "score ", "PSI ", "n 300/200", "nulls 0/0"):
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
