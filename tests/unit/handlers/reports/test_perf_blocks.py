"""The performance summary in Slack: n, intervals, the baseline's source, whose predictions,
CBPE beside the realised value; within Slack's Block Kit limits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bot.monitoring.document import PerfDocument, build_document
from bot.monitoring.performance import Baseline, compute_performance
from handlers.reports.perf_blocks import perf_blocks
from handlers.slack_emulator.blocks_check import validate_blocks


def _doc(versions: list[str] | None = None, **kwargs: Any) -> PerfDocument:
    rng = np.random.default_rng(6)
    n = 400
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-2 * x))
    frame = pd.DataFrame(
        {
            "label": (rng.random(n) < p).astype(int),
            "score": p,
            "prediction": (p >= 0.5).astype(int),
            "ts": pd.date_range("2026-11-01", periods=n, freq="30min", tz="UTC"),
        }
    )
    if versions is not None:
        frame["model_version"] = versions
    result = compute_performance(
        frame, "label", "prediction", score="score", timestamp="ts", **kwargs
    )
    doc = build_document(
        {
            "kind": "perf",
            "model": "churn",
            "alias": "champion",
            "version": "3",
            "run_id": "r3",
            "current": {"uri": "c.parquet", "rows": n},
            "performance": result.to_dict(),
            "generated_at": "2026-11-30T00:00:00Z",
        }
    )
    assert isinstance(doc, PerfDocument)
    return doc


def _text(blocks: list[Any]) -> str:
    return str([b.to_dict() for b in blocks])


def test_metrics_show_intervals_and_the_baseline_names_its_source() -> None:
    doc = _doc(
        baseline={"roc_auc": 0.99},
        baseline_source="metrics logged on run abc (v3, @champion's version now)",
    )
    blocks, summary = perf_blocks(doc.performance, "")
    text = _text(blocks)
    assert validate_blocks([b.to_dict() for b in blocks]) == []
    lo, hi = doc.performance.intervals["roc_auc"]
    assert f"[{lo:.3g}–{hi:.3g}]" in text and "(baseline 0.99)" in text
    assert "Baseline: metrics logged on run abc" in text
    assert "which version made these predictions is unknown" in text  # no model_version
    assert "*Windows*: 8 (n 48–64); 1 merged with a neighbour (fewer than 30" in text
    assert "Confusion at score ≥ 0.5" in text
    assert "roc_auc" in summary


def test_cbpe_and_version_lines_when_present() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=3000)
    p = 1 / (1 + np.exp(-2 * x))
    reference = pd.DataFrame({"label": (rng.random(3000) < p).astype(int), "score": p})
    doc = _doc(reference=reference)
    blocks, _ = perf_blocks(doc.performance, "<@U0ALICE>")
    text = _text(blocks)
    assert "*Estimated performance (CBPE)*, latest window" in text
    assert "realised" in text and "band" in text
    assert "*Target drift*" in text and "<@U0ALICE>" in text


def test_each_version_is_named_with_its_rows_and_its_own_degradation() -> None:
    runs = {"1": Baseline({"accuracy": 0.5}, "run of v1"), "3": Baseline({"accuracy": 1.0}, "x")}
    doc = _doc(versions=["1"] * 300 + ["3"] * 100, baseline_of=runs.get)
    blocks, _ = perf_blocks(doc.performance, "")
    text = _text(blocks)
    assert "Predictions of v1 (300 rows), v3 (100 rows)" in text
    assert ":warning: v3: accuracy below its own run's" in text
