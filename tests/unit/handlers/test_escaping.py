"""Every message builder, fed hostile values: none reaches mrkdwn or fallback text unescaped.

A model named `<!channel> <@U123> …`, a reject reason with a link, a feature called `&`: each
must show as typed, never notify the channel, a user or a group, nor become a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.approvals.outcomes import Outcome, OutcomeKind
from bot.health import HealthItem
from bot.monitoring.document import build_document
from bot.monitoring.report import Report
from bot.registry.events import Notice, NoticeKind
from bot.registry.gateway import ModelSummary, VersionInfo
from bot.storage.tables import ApprovalVote, AuditEvent, PromotionRequest
from handlers import blocks
from handlers.approvals import blocks as cards
from handlers.approvals import messages
from handlers.notices.blocks import notice_blocks
from handlers.notices.posting import post_notice
from handlers.reports.blocks import report_reply
from handlers.reports.features import features_reply
from handlers.reports.posting import post_failure
from handlers.router.command import help_reply
from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY, OLD_PERF_BODY

HOSTILE = "<!channel> <@U123> <!subteam^S1> <https://evil.example|x> & co"
RAW = ["<!channel>", "<@U123>", "<!subteam^S1>", "<https://evil.example|x>", "<!", "<http"]
BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingClient:
    """A WebClient stand-in that keeps what each call would have sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def _record(self, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(kwargs)
        return {"ok": True, "channel": "C1", "ts": "1.1"}

    chat_postMessage = chat_postEphemeral = chat_update = views_publish = _record


def request(status: str = "pending", **fields: Any) -> PromotionRequest:
    snapshot = {
        "candidate": {"metrics": {HOSTILE: 0.9}},
        "holder": {"version": "1", "metrics": {HOSTILE: 0.8}},
        "gates": [{"text": HOSTILE, "passed": False, "reason": HOSTILE}],
    }
    values: dict[str, Any] = {
        "id": "abcdef012345",
        "model_name": HOSTILE,
        "version": "2",
        "alias": HOSTILE,
        "run_id": HOSTILE[:64],
        "previous_version": "1",
        "requester": "U0REQ",
        "reason": HOSTILE,
        "required_approvals": 1,
        "snapshot": json.dumps(snapshot),
        "status": status,
        "status_detail": HOSTILE,
        "channel": "C1",
        "message_ts": "1.1",
        "created_at": NOW,
        "expires_at": NOW,
        "decided_at": NOW if status != "pending" else None,
        "decided_by": "U0APP" if status != "pending" else None,
        **fields,
    }
    return PromotionRequest(**values)


def report_doc(body: str) -> Any:
    data = json.loads(body)
    data["model"] = data["alias"] = data["run_id"] = HOSTILE
    for f in data.get("features", []):
        f["name"] = HOSTILE
    if "quality" in data:
        data["quality"]["missing_columns"] = [HOSTILE]
    if "performance" in data:
        perf = data["performance"]
        perf["metrics"] = {HOSTILE: 0.5}
        perf["degraded"] = [HOSTILE]
    return build_document(data)


def texts(value: Any, top: bool = True) -> Iterator[str]:
    """Every text Slack parses as mrkdwn: a message's `text` and every mrkdwn text object.

    Plain-text objects (headers, button labels, titles) are not parsed for mentions or links.
    """
    if isinstance(value, dict):
        if isinstance(value.get("text"), str) and (top or value.get("type") == "mrkdwn"):
            yield value["text"]
        for key, item in value.items():
            if not (key == "text" and isinstance(item, str)):
                yield from texts(item, top=False)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, top=False)


def payloads() -> Iterator[tuple[str, Any]]:
    """(builder, what it would send) for every builder of a message, with hostile values."""
    client = RecordingClient()
    version = VersionInfo(
        HOSTILE, "3", (HOSTILE,), HOSTILE, HOSTILE, HOSTILE, None, {HOSTILE: HOSTILE},
        {HOSTILE: 1.0}, {HOSTILE: HOSTILE},
    )  # fmt: skip
    yield (
        "models_reply",
        blocks.models_reply([ModelSummary(HOSTILE, {HOSTILE: "1"}, "1")]).payload(),
    )
    yield "version_reply", blocks.version_reply(version, None, None).payload()
    yield "status_reply", blocks.status_reply([HealthItem("mlflow", False, HOSTILE)], []).payload()
    yield "error", blocks.error(HOSTILE, "`/mlops show <model>`").payload()
    yield "help_reply", help_reply(unknown=HOSTILE).payload()
    vote = ApprovalVote(request_id="abcdef012345", voter="U0APP", at=NOW)
    for status in ("pending", "rejected", "applied", "stale"):
        card = cards.approval_card(request(status), [vote], note="")
        yield f"approval_card {status}", card.payload()
    passing = request(gates_passed=True, snapshot="{}")  # Approve, with its confirm dialog
    yield "approval_card approve confirm", cards.approval_card(passing, []).payload()
    yield "reason_modal", cards.reason_modal(cards.Action.REJECT, request())
    yield "pending_reply", cards.pending_reply([(request(), [vote], "you can approve")]).payload()
    event = AuditEvent(
        id=1, at=NOW, actor="U0REQ", action="promotion_requested", model_name=HOSTILE,
        model_version="2", alias=HOSTILE, prev_hash="0", hash="1",
    )  # fmt: skip
    yield "audit_reply", cards.audit_reply([event], HOSTILE).payload()
    yield (
        "home_view",
        cards.home_view([(request(), [])], [(request(), [])], [request("applied")], HOSTILE),
    )
    # Thread replies: the outcome messages the service writes quote model, alias and reason.
    rejected = request("rejected")
    messages.announce(
        client, Outcome(OutcomeKind.REJECTED, f"Rejected by <@U0APP>: {HOSTILE}", rejected)
    )
    moved = f"`@{HOSTILE}` of `{HOSTILE}` moved to v2 (was v1)."
    messages.announce(client, Outcome(OutcomeKind.APPLIED, moved, request("applied")))
    messages.direct_message(client, "U0REQ", f"No registered model named `{HOSTILE}`.")
    messages.post_card(
        client,
        SimpleNamespace(attach_message=lambda *a: None),
        Outcome(OutcomeKind.REQUESTED, "", request()),
        "C1",
    )  # type: ignore[arg-type]  # noqa: E501
    # Registry notices: out of band, tag tampering, newly registered.
    rt = SimpleNamespace(
        policy=SimpleNamespace(for_model=lambda _m: SimpleNamespace(monitor=None, owners=("U0O",))),
        settings=SimpleNamespace(mlops_bot_report_channel="C1"),
        registry=SimpleNamespace(version_url=lambda *_a: None),
    )
    for kind in NoticeKind:
        notice = Notice(kind, f":warning: `{HOSTILE}` on `{HOSTILE}`", HOSTILE, HOSTILE, "2")
        yield f"notice_blocks {kind}", [b.to_dict() for b in notice_blocks(notice)]
        post_notice(client, rt, notice)  # type: ignore[arg-type]
    # Reports: summary, all features, failure.
    for body in (OLD_DRIFT_BODY, OLD_PERF_BODY):
        doc = report_doc(body)
        report = Report(doc, f"{HOSTILE} — {doc.kind}", alert=True)
        yield f"report_reply {doc.kind}", report_reply(report, rt).payload()  # type: ignore[arg-type]
        yield f"features_reply {doc.kind}", features_reply(doc, "0123456789ab").payload()
    post_failure(client, "C1", "drift", HOSTILE, f"`{HOSTILE}` answered HTTP 403")  # type: ignore[arg-type]
    for i, sent in enumerate(client.sent):
        yield f"sent {i}", sent


ALL = list(payloads())


@pytest.mark.parametrize(("builder", "payload"), ALL, ids=[b for b, _ in ALL])
def test_no_hostile_value_survives_unescaped(builder: str, payload: Any) -> None:
    shown = list(texts(payload))
    assert shown, f"{builder} has no text"
    for text in shown:
        assert not any(raw in text for raw in RAW), (builder, text)
        assert not BARE_AMP.search(text), (builder, text)
    assert any("&lt;!channel&gt;" in t for t in shown) or builder.startswith("features_reply perf")


def test_mentions_the_bot_writes_still_work() -> None:
    client = RecordingClient()
    messages.announce(
        client,
        Outcome(OutcomeKind.REJECTED, f"Rejected by <@U0APP>: {HOSTILE}", request("rejected")),
    )
    assert client.sent[0]["text"].startswith("<@U0REQ> Rejected by <@U0APP>: &lt;!channel&gt;")
