"""The model-card parts of the approval card and the Details modal: within Slack's limits
however large the signature, and every MLflow-provided value escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.registry.lineage import Column, DatasetRef, Lineage, Signature
from bot.storage.tables import PromotionRequest
from handlers.approvals.blocks import approval_card, metrics_table
from handlers.approvals.modelcard import details_modal
from tests.slack_fake import validate_blocks, validate_view

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0EVIL> *bold*"


def lineage(columns: int, prefix: str, kind: str = "double", datasets: int = 1) -> dict[str, Any]:
    inputs = [Column(name=f"{prefix}{i:04d}_{'x' * 40}", type=kind) for i in range(columns)]
    data = [
        DatasetRef(name=f"{HOSTILE} {i}", digest="d" * 8, source=f"s3://{HOSTILE}/{i}")
        for i in range(datasets)
    ]
    signature = Signature(inputs=inputs, outputs=[Column(name="#0", type="long")])
    return Lineage(
        signature=signature, datasets=data, git_commit=HOSTILE, source_name=HOSTILE
    ).model_dump()


def request(candidate: dict[str, Any], holder: dict[str, Any]) -> PromotionRequest:
    snapshot = {
        "candidate": {
            "metrics": {f"m{i}": 0.5 for i in range(40)},
            "params": {f"p{i}": HOSTILE for i in range(300)},
            "source": "s3://bucket/model",
            "lineage": candidate,
        },
        "holder": {
            "version": "1",
            "metrics": {f"m{i}": 0.4 for i in range(40)},
            "params": {f"p{i}": str(i) for i in range(300)},
            "lineage": holder,
        },
        "gates": [{"text": "signature_compatible", "passed": False, "reason": HOSTILE}],
    }
    return PromotionRequest(
        id="abcdef012345",
        model_name="churn",
        version="2",
        alias="champion",
        run_id="r" * 32,
        previous_version="1",
        requester="U0REQ",
        reason="x" * 2000,
        required_approvals=1,
        snapshot=json.dumps(snapshot),
        status="pending",
        channel="C1",
        created_at=NOW,
        expires_at=NOW,
    )


def test_a_huge_signature_diff_stays_within_the_card_and_modal_limits() -> None:
    req = request(lineage(2000, "new", "string", 300), lineage(2000, "old", "long", 300))
    card = approval_card(req, []).payload()
    assert validate_blocks(card["blocks"]) == []
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "inputs +2000 −2000 ~0" in text  # the card counts them …
    assert "+ input `new0000_" in text and "_… 3994 more in Details_" in text  # … and cuts
    modal_text = json.dumps(details_modal(req, metrics_table(req)), ensure_ascii=False)
    assert "− input `old0000_" in modal_text
    modal = details_modal(req, metrics_table(req))
    assert validate_view(modal) == []
    assert len(modal["blocks"]) <= 100


def test_values_from_mlflow_are_escaped() -> None:
    req = request(lineage(3, HOSTILE), lineage(2, "a"))
    shown = json.dumps(approval_card(req, []).payload()) + json.dumps(
        details_modal(req, metrics_table(req))
    )
    assert "<!channel>" not in shown and "<@U0EVIL>" not in shown
    assert "&lt;!channel&gt;" in shown


def test_a_request_opened_before_lineage_was_stored_shows_no_model_card_parts() -> None:
    req = request({}, {})
    req.snapshot = json.dumps({"candidate": {"metrics": {}}, "holder": None, "gates": []})
    text = json.dumps(approval_card(req, []).payload())
    assert "*Signature*" not in text and "*Training data*" not in text
    assert validate_view(details_modal(req, metrics_table(req))) == []
