"""Pipelines: tokens, bodies, the rate limit and the state a request is reported in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from bot.pipelines import (
    BodyError,
    TokenBuckets,
    authenticate,
    parse_body,
    request_view,
    token_digest,
)
from bot.policy.file import PipelineConfig, Policy, PolicyFile
from bot.storage.tables import ApprovalVote, PromotionRequest

TOKEN = "ci-token-0123456789"


def _policy() -> Policy:
    ci = PipelineConfig(
        token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest().upper(),
        models=["churn"],
        aliases=["champion"],
        channel="C0MLOPS",
    )
    return Policy(file=PolicyFile(pipelines={"ci": ci}))


def test_the_token_is_found_by_its_digest_and_nothing_else() -> None:
    policy = _policy()
    found = authenticate(policy, f"Bearer {TOKEN}")
    assert found is not None and found.actor == "pipeline:ci"
    assert authenticate(policy, f"bearer  {TOKEN} ") is not None  # scheme is case-insensitive
    for bad in (
        None,
        "",
        TOKEN,
        f"Basic {TOKEN}",
        "Bearer ",
        f"Bearer {TOKEN}x",
        "Bearer " + "a" * 600,
    ):
        assert authenticate(policy, bad) is None, bad
    # the digest the docs tell operators to compute (printf %s "$TOKEN" | sha256sum)
    assert token_digest(TOKEN) == hashlib.sha256(TOKEN.encode()).hexdigest()


def test_a_pipeline_may_ask_only_for_its_models_and_aliases() -> None:
    ci = authenticate(_policy(), f"Bearer {TOKEN}")
    assert ci is not None
    assert ci.refusal("churn", "champion") is None
    assert ci.refusal("fraud", "champion") == "pipeline `ci` may not request promotions of `fraud`"
    assert ci.refusal("churn", "production") == "pipeline `ci` may not request `@production`"


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (b"", "body", "must be a JSON object with model, version, alias, reason"),
        (b"{not json", "body", "not valid JSON"),
        (b"[1, 2]", "body", "must be a JSON object with model, version, alias, reason"),
        (b'{"version": "3", "alias": "champion", "reason": "why not"}', "model", "required"),
        (
            b'{"model": "churn", "version": "three", "alias": "c", "reason": "why not"}',
            "version",
            "must be a version number like 3",
        ),
        (
            b'{"model": "churn", "version": true, "alias": "c", "reason": "why not"}',
            "version",
            "Input should be a valid string",
        ),
        (
            b'{"model": "churn", "version": 3, "alias": "c", "reason": "  "}',
            "reason",
            "String should have at least 3 characters",
        ),
        (
            b'{"model": "churn", "version": 3, "alias": "c", "reason": "ok!", "x": 1}',
            "x",
            "unknown field",
        ),
    ],
)
def test_a_bad_body_names_its_field(raw: bytes, field: str, message: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_body(raw)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_good_body_is_normalised() -> None:
    body = parse_body(
        b'{"model": " churn ", "version": "v3", "alias": "@champion", "reason": "recall"}'
    )
    assert (body.model, body.version, body.alias, body.reason) == (
        "churn",
        "3",
        "champion",
        "recall",
    )
    assert (
        parse_body(b'{"model": "churn", "version": 3, "alias": "c", "reason": "abc"}').version
        == "3"
    )


def test_the_bucket_allows_a_burst_then_refills_with_time() -> None:
    now = [100.0]
    buckets = TokenBuckets(capacity=3, per_second=0.5, now=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # each key has its own budget
    now[0] += 1.9
    assert not buckets.take("a")  # 0.95 of a request refilled
    now[0] += 0.2
    assert buckets.take("a") and not buckets.take("a")


def _request(status: str, detail: str = "") -> PromotionRequest:
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    return PromotionRequest(
        id="0123456789ab",
        model_name="churn",
        version="3",
        alias="champion",
        previous_version="1",
        requester="pipeline:ci",
        required_approvals=1,
        status=status,
        status_detail=detail,
        created_at=at,
        expires_at=at,
    )


@pytest.mark.parametrize(
    ("status", "detail", "state", "outcome"),
    [
        ("pending", "", "pending", None),
        ("applying", "", "applying", None),
        ("applied", "", "applied", "@champion of churn moved to v3 (was v1)"),
        ("rejected", "not this week", "rejected", "not this week"),
        ("expired", "", "expired", "expired without enough approvals"),
        ("stale", "`@champion` moved to v2", "failed", "`@champion` moved to v2"),
        ("refused", "Not applied: …", "failed", "Not applied: …"),
    ],
)
def test_each_status_is_reported_as_one_of_the_six_states(
    status: str, detail: str, state: str, outcome: str | None
) -> None:
    vote = ApprovalVote(
        request_id="0123456789ab", voter="U0BOB", at=datetime(2026, 11, 30, 13, tzinfo=UTC)
    )
    view = request_view(_request(status, detail), [vote])
    assert (view["id"], view["state"], view["outcome"]) == ("0123456789ab", state, outcome)
    assert view["votes"] == [
        {"voter": "U0BOB", "at": "2026-11-30T13:00:00+00:00", "override": False}
    ]
