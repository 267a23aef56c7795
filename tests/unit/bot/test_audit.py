"""The audit log: hash chain, tamper detection, export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from bot import audit, clock
from bot.storage import db
from tests.helpers import cli_env, run_mlops_bot


def seeded(url: str, n: int = 30) -> Engine:
    engine = db.make_engine(url)
    db.upgrade(engine)
    for i in range(n):
        audit.record(
            engine,
            "approval_granted" if i % 2 else "promotion_requested",
            f"U{i % 3}USER",
            model_name=f"model{i % 2}",
            model_version=str(i),
            alias="champion",
            request_id=f"r{i}",
            details={"i": i, "note": "ünïcode ✓"},
        )
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        return seeded(f"sqlite:///{tmp_path / 'audit.db'}")
    url = request.getfixturevalue("pg_database")
    return seeded(url)


def test_chain_verifies_and_links(engine: Engine) -> None:
    result = audit.verify(engine)
    assert result.ok and result.count == 30
    rows = list(audit.iter_events(engine))
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))


def _sql(engine: Engine, stmt: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(stmt))


@pytest.mark.parametrize(
    ("tamper", "bad_id"),
    [
        ("UPDATE audit_event SET actor = 'UEVIL' WHERE id = 7", 7),
        ("UPDATE audit_event SET details = '{\"i\": 99}' WHERE id = 12", 12),
        ("DELETE FROM audit_event WHERE id = 10", 11),
        ("UPDATE audit_event SET at = at + interval '1 second' WHERE id = 3", 3),
    ],
)
def test_tampering_is_detected_at_the_first_bad_row(
    engine: Engine, tamper: str, bad_id: int
) -> None:
    if engine.dialect.name == "sqlite":
        tamper = tamper.replace("at + interval '1 second'", "datetime(at, '+1 second')")
    _sql(engine, tamper)
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == bad_id, result


def test_inserted_row_is_detected(engine: Engine) -> None:
    """A forged row copied in between (ids renumbered) breaks the chain."""
    _sql(engine, "UPDATE audit_event SET id = id + 1000 WHERE id > 15")
    _sql(engine, "UPDATE audit_event SET id = id - 999 WHERE id > 1000")
    forged = next(e for e in audit.iter_events(engine) if e.id == 15)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (id, at, actor, action, details, prev_hash, hash) "
                "VALUES (16, :at, 'UEVIL', 'promotion_applied', '{}', :ph, :h)"
            ),
            {"at": forged.at, "ph": forged.hash, "h": "f" * 64},
        )
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == 16


def test_export_formats(engine: Engine) -> None:
    out = io.StringIO()
    assert audit.export(engine, out, "json") == 30
    events = json.loads(out.getvalue())
    assert len(events) == 30 and set(events[0]) == set(audit.FIELDS)
    assert events[0]["details"]["note"] == "ünïcode ✓"

    out = io.StringIO()
    audit.export(engine, out, "jsonl", model="model1")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 15 and {e["model_name"] for e in lines} == {"model1"}

    out = io.StringIO()
    audit.export(engine, out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 30 and json.loads(rows[5]["details"])["i"] == 5

    out = io.StringIO()
    assert audit.export(engine, out, "jsonl", since=clock.utcnow()) == 0


def test_csv_export_cells_never_run_as_formulas(engine: Engine) -> None:
    hostile = ['=HYPERLINK("https://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for i, cell in enumerate(hostile):
        audit.record(engine, "promotion_requested", cell, model_name=cell, alias=f"a{i}")
    out = io.StringIO()
    audit.export(engine, out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))[-len(hostile) :]
    assert [r["model_name"] for r in rows] == ["'" + c for c in hostile]
    assert [r["actor"] for r in rows] == ["'" + c for c in hostile]
    assert rows[0]["alias"] == "a0"  # ordinary cells are left alone
    assert audit.verify(engine).ok  # the stored events are as they were hashed


@pytest.mark.slow
def test_concurrent_appends_from_processes_keep_one_chain(tmp_path: Path, pg_database: str) -> None:
    for url in (f"sqlite:///{tmp_path / 'c.db'}", pg_database):
        engine = db.make_engine(url)
        db.upgrade(engine)
        code = (
            "import sys; from bot import audit; from bot.storage import db; "
            "e = db.make_engine(sys.argv[1]); "
            "[audit.record(e, 'report_posted', 'system', model_name='m', details={'n': i}) "
            "for i in range(40)]"
        )
        procs = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(3)]
        assert all(p.wait(timeout=120) == 0 for p in procs)
        result = audit.verify(engine)
        assert result.ok and result.count == 120, result
        engine.dispose()


@pytest.mark.slow
def test_cli_export_and_verify(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = seeded(url, 5)
    env = cli_env(tmp_path, DATABASE_URL=url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_mlops_bot(tmp_path, "audit", *args, env=env, timeout=60)

    ok = run("verify")
    assert ok.returncode == 0 and "5 events" in ok.stdout
    exported = run("export", "--format", "jsonl", "--model", "model0")
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 3
    assert run("export", "--format", "xml").returncode == 2
    bad_since = run("export", "--since", "yesterday")
    assert bad_since.returncode == 2 and "--since" in bad_since.stderr
    _sql(engine, "UPDATE audit_event SET action = 'promotion_applied' WHERE id = 2")
    broken = run("verify")
    assert broken.returncode == 1 and "id 2" in broken.stderr


@given(
    st.integers(1, 10**9),
    st.text(max_size=30),
    st.text(max_size=30),
    st.one_of(st.none(), st.text(max_size=30)),
    st.one_of(st.none(), st.text(max_size=8)),
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
        max_size=5,
    ),
)
def test_fast_row_hash_equals_the_canonical_definition(
    ev_id: int, actor: str, action: str, model: str | None, version: str | None, details: dict
) -> None:
    at = "2026-11-27T00:00:00.000001Z"
    fields = {
        "id": ev_id,
        "at": at,
        "actor": actor,
        "action": action,
        "model_name": model,
        "model_version": version,
        "alias": "champion",
        "run_id": None,
        "request_id": "r1",
        "details": details,
    }
    expected = audit.compute_hash(audit.GENESIS, fields)
    got = audit.row_hash(
        audit.GENESIS,
        ev_id,
        at,
        actor,
        action,
        model,
        version,
        "champion",
        None,
        "r1",
        audit.canonical(details),
    )
    assert got == expected


def test_timestamps_format_like_strftime() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    for at in (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 7),
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2))),
    ):
        assert audit.fmt_at(at) == clock.as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
