"""Alias history from the audit log: holders over time, the holder at a moment, the times `at`
accepts, and a tampered chain flagged or refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import text

from bot.approvals import history as hist
from bot.approvals.history import HistoryError, HolderSource
from bot.approvals.outcomes import RequestKind
from bot.runtime import Runtime
from tests.unit.bot.approvals.conftest import make_runtime, service

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def promote(rt: Runtime, version: str, reason: str, kind: RequestKind = RequestKind.PROMOTE) -> str:
    """churn v`version` → @champion by U0REQ, approved by U0APPROVER1 and U0LEAD (2 needed)."""
    svc = service(rt)
    outcome = svc.request_promotion("churn", version, "champion", "U0REQ", reason, "C0MLOPS", kind)
    assert outcome.request is not None
    rid = outcome.request.id
    svc.approve(rid, "U0APPROVER1")
    assert svc.approve(rid, "U0LEAD").kind == "applied"
    return rid


def test_holders_over_time_name_requester_reason_and_approvers(rt: Runtime) -> None:
    rid = promote(rt, "3", "better recall on Q3")
    found = hist.history(rt, "churn", "champion")
    assert found.chain.ok and found.chain.count > 0
    (checked,) = hist.histories(rt, ["churn"], "champion", whole=False)
    assert checked.chain.ok and checked.aliases == found.aliases
    before, now = found.aliases["champion"]
    assert (before.version, before.source, before.since) == ("1", HolderSource.BEFORE_LOG, None)
    assert before.seen_at == now.requested_at and before.until == now.since
    assert (now.version, now.source, now.until) == ("3", HolderSource.APPROVED, None)
    assert now.request_id == rid and now.requester == "U0REQ"
    assert now.reason == "better recall on Q3"
    assert [a.user for a in now.approvals] == ["U0APPROVER1", "U0LEAD"]
    assert now.requested_at is not None and now.requested_at <= now.approvals[0].at <= now.since


def test_holder_at_a_moment_and_a_rollback(rt: Runtime) -> None:
    promote(rt, "3", "better recall")
    promote(rt, "1", "v3 misbehaves", RequestKind.ROLLBACK)
    holdings = hist.history(rt, "churn", "champion").aliases["champion"]
    assert [h.version for h in holdings] == ["1", "3", "1"]
    assert [h.rollback for h in holdings] == [False, False, True]
    found = hist.history(rt, "churn")
    just_before = holdings[1].since - timedelta(microseconds=1)  # type: ignore[operator]
    assert found.holder_at("champion", just_before).version == "1"  # type: ignore[union-attr]
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)  # the last holder the log knows of
    assert found.holder_at("champion", long_ago).version == "1"  # type: ignore[union-attr]
    assert found.holder_at("champion", holdings[1].since).version == "3"  # type: ignore[union-attr, arg-type]
    assert found.holder_at("champion", holdings[2].since).version == "1"  # type: ignore[union-attr, arg-type]
    assert found.holder_at("challenger", NOW) is None  # never moved through the bot


def test_a_move_the_log_missed_is_pointed_out(rt: Runtime) -> None:
    promote(rt, "3", "better recall")
    uri = rt.settings.mlflow_tracking_uri  # someone moves the alias in MLflow, unrecorded
    MlflowClient(uri, uri).set_registered_model_alias("churn", "champion", "2")
    promote(rt, "1", "back to the known good one", RequestKind.ROLLBACK)
    holdings = hist.history(rt, "churn", "champion").aliases["champion"]
    assert [h.version for h in holdings] == ["1", "3", "1"]
    assert holdings[1].note == ""
    assert holdings[2].note == "it replaced v2: a move the log does not show came before"


def test_unprotected_moves_are_history_too(rt: Runtime) -> None:
    svc = service(rt)
    svc.request_promotion("churn", "2", "staging", "U0APPROVER1", "try it")  # not protected
    holdings = hist.history(rt, "churn", "staging").aliases["staging"]
    assert [(h.version, h.source) for h in holdings] == [("2", HolderSource.UNPROTECTED)]
    assert holdings[0].requester == "U0APPROVER1" and holdings[0].reason == "try it"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_tampered_event_flags_the_timeline_and_refuses_the_answer(
    backend: str, mlflow_store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_database") if backend == "postgresql" else None
    rt = make_runtime(tmp_path, mlflow_store, database_url=url)
    try:
        promote(rt, "3", "better recall")
        assert hist.history(rt, "churn").chain.ok
        with rt.engine.begin() as conn:  # someone with database access rewrites who approved
            conn.execute(
                text(
                    "UPDATE audit_event SET details = replace(details, 'U0LEAD', 'U0MALLORY') "
                    "WHERE action = 'promotion_applied'"
                )
            )
        found = hist.history(rt, "churn", "champion")
        assert not found.chain.ok and found.chain.bad_id is not None
        assert not found.aliases["champion"][-1].verified
        (shown,) = hist.histories(rt, ["churn"], whole=False)  # App Home's per-event check
        assert not shown.chain.ok and shown.chain.bad_id == found.chain.bad_id
        assert [h.verified for h in shown.aliases["champion"]] == [False, False]
        with pytest.raises(HistoryError, match=f"verification at event #{found.chain.bad_id}"):
            found.holder_at("champion", NOW)
    finally:
        rt.engine.dispose()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
        ("2026-11-29T09:30", datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),
        ("2026-11-29 09:30:15", datetime(2026, 11, 29, 9, 30, 15, tzinfo=UTC)),
        ("2026-11-29T09:30Z", datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),
        ("2026-11-29T10:30+01:00", datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),
        ("3 days ago", NOW - timedelta(days=3)),
        ("90 Minutes ago", NOW - timedelta(minutes=90)),
        ("1 week ago", NOW - timedelta(weeks=1)),
        ("now", NOW),
    ],
)
def test_at_accepts_iso_8601_and_relative_times(words: str, expected: datetime) -> None:
    assert hist.parse_when(words.split(), NOW) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("", "`at` needs a time"),
        ("yesterdayish", "`yesterdayish` is not a time: use ISO 8601"),
        ("2026-13-01", "`2026-13-01` is not a time"),
        ("2027-01-01", "is in the future"),
        ("999999 weeks ago", "before the year 1"),
        ("<!channel>", "is not a time"),
    ],
)
def test_bad_times_get_one_clear_line(words: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message) as exc:
        hist.parse_when(words.split(), NOW)
    assert "\n" not in str(exc.value)
