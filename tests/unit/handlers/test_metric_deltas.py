"""The approval card says, per metric, whether the candidate is better or worse than the holder."""

from __future__ import annotations

import json

from bot.storage.tables import PromotionRequest
from handlers.approvals.blocks import metrics_table


def card(candidate: dict[str, float], holder: dict[str, float]) -> list[str]:
    snapshot = {
        "candidate": {"metrics": candidate},
        "holder": {"version": "1", "metrics": holder},
    }
    req = PromotionRequest(model_name="churn", version="2", snapshot=json.dumps(snapshot))
    return metrics_table(req).splitlines()[1:]


def test_a_latency_drop_is_better_and_an_accuracy_drop_is_worse() -> None:
    lines = card(
        {"accuracy": 0.80, "latency_ms": 40.0, "val_loss": 0.30, "f1": 0.7},
        {"accuracy": 0.85, "latency_ms": 50.0, "val_loss": 0.25, "f1": 0.7},
    )
    by_metric = {line.split("`")[1]: line for line in lines}
    assert by_metric["accuracy"].endswith("(:arrow_down_small: -0.05, worse)")
    assert by_metric["latency_ms"].endswith("(:arrow_down_small: -10, better)")
    assert by_metric["val_loss"].endswith("(:arrow_up_small: +0.05, worse)")
    assert by_metric["f1"].endswith("(= same)")


def test_an_accuracy_rise_is_better_and_an_rmse_rise_is_worse() -> None:
    lines = card({"accuracy": 0.9, "rmse": 2.0}, {"accuracy": 0.8, "rmse": 1.5})
    assert lines[0].startswith("`accuracy`") and lines[0].endswith("+0.1, better)")
    assert lines[1].startswith("`rmse`") and lines[1].endswith("+0.5, worse)")
