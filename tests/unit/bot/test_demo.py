"""Issue 14 item 7: the demo's drift report flags exactly the two features it shifted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bot import demo
from bot.monitoring.drift import compute_drift
from bot.policy.file import read_policy_file


def test_demo_drift_report_flags_exactly_the_two_shifted_features(tmp_path: Path) -> None:
    trained, current = demo._train()
    path = tmp_path / "mlops-bot.toml"
    path.write_text(demo.policy_text(tmp_path / "current.parquet"), encoding="utf-8")
    monitor = read_policy_file(path).models[demo.MODEL].monitor
    assert monitor is not None and monitor.correction == "bh"
    reference = trained[0].reference  # @champion is v1
    outputs = [demo.LABEL, demo.PREDICTION, demo.SCORE, demo.VERSION]
    features = current.drop(columns=[*outputs, demo.TIMESTAMP])
    # an iid draw of held-out rows: none of them a training row, none twice
    assert not features.duplicated().any()
    train = reference.drop(columns=[demo.LABEL, demo.PREDICTION, demo.SCORE, *demo.SHIFTED])
    assert pd.merge(features.drop(columns=list(demo.SHIFTED)), train, how="inner").empty
    assert len(current) == len(features.drop_duplicates()) > 100
    result = compute_drift(
        reference,
        current,
        # what the report leaves out of drift: the model's outputs, who made them, the time
        exclude={*outputs, monitor.timestamp},  # type: ignore[arg-type]
        correction=monitor.correction,
    )
    assert sorted(f.name for f in result.features if f.drifted) == sorted(demo.SHIFTED)
    assert len(result.features) == 30 and not result.schema_changed
