"""A keyed, anchored audit chain: a database writer can neither re-hash edited history with the
bot's own functions nor shorten the log past an anchor unnoticed; an unkeyed log still verifies,
with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from bot import audit, audit_anchors
from bot.storage import db

KEY = "k3y-held-outside-the-database"


def seeded(tmp_path: Path, n: int, key: str | None, name: str = "audit.db") -> Engine:
    engine = db.make_engine(f"sqlite:///{tmp_path / name}")
    db.upgrade(engine)
    audit.use_key(engine, key)
    add(engine, n)
    return engine


def add(engine: Engine, n: int) -> None:
    for i in range(n):
        audit.record(
            engine,
            "approval_granted",
            f"U{i % 3}USER",
            model_name="churn",
            model_version=str(i),
            alias="champion",
            details={"i": i},
        )


def rehash_from(engine: Engine, first_id: int) -> None:
    """What an attacker with write access does after editing row `first_id`: recompute every
    hash from there on with the bot's own row_hash, so the chain links up again."""
    at_sql = audit._AT_TEXT["sqlite"]
    with engine.begin() as conn:
        prev = conn.execute(
            text("SELECT hash FROM audit_event WHERE id = :id"), {"id": first_id - 1}
        ).scalar_one_or_none()
        rows = conn.execute(
            text(
                f"SELECT id, {at_sql}, actor, action, model_name, model_version, alias, run_id,"
                " request_id, details FROM audit_event WHERE id >= :id ORDER BY id"
            ),
            {"id": first_id},
        ).all()
        prev = prev or audit.GENESIS
        for ev_id, at, actor, action, model, version, alias, run_id, req, details in rows:
            h = audit.row_hash(prev, ev_id, at, actor, action, model, version, alias, run_id,
                               req, details)  # fmt: skip
            conn.execute(
                text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": h, "id": ev_id},
            )
            prev = h


def edit_actor(engine: Engine, ev_id: int, actor: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET actor = :a WHERE id = :id"), {"a": actor, "id": ev_id}
        )


def delete_from(engine: Engine, ev_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": ev_id})


def test_rehashed_history_fails_when_keyed_and_would_pass_unkeyed(tmp_path: Path) -> None:
    keyed = seeded(tmp_path, 20, KEY)
    result = audit.verify(keyed)
    assert result.ok and result.count == 20 and result.warnings == ()

    edit_actor(keyed, 7, "U0ATTACKER")
    rehash_from(keyed, 7)
    result = audit.verify(keyed)
    assert not result.ok and result.bad_id == 7
    assert "re-hashed without the key" in result.reason

    plain = seeded(tmp_path, 20, None, "plain.db")  # the hole a key closes
    edit_actor(plain, 7, "U0ATTACKER")
    rehash_from(plain, 7)
    assert audit.verify(plain).ok


def test_a_keyed_log_verified_without_the_key_says_so(tmp_path: Path) -> None:
    engine = seeded(tmp_path, 3, KEY)
    audit.use_key(engine, None)
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == 1
    assert "set MLOPS_BOT_AUDIT_KEY" in result.reason
    audit.use_key(engine, "another key")
    assert not audit.verify(engine).ok


def test_unkeyed_log_verifies_with_a_warning(tmp_path: Path) -> None:
    engine = seeded(tmp_path, 5, None)
    result = audit.verify(engine)
    assert result.ok and result.count == 5
    assert result.warnings == (audit.UNKEYED,)


def test_log_started_without_a_key_verifies_then_stays_keyed(tmp_path: Path) -> None:
    engine = seeded(tmp_path, 4, None)
    audit.use_key(engine, KEY)  # the operator sets MLOPS_BOT_AUDIT_KEY later
    add(engine, 3)
    result = audit.verify(engine)
    assert result.ok and result.count == 7
    assert len(result.warnings) == 1 and "events 1–4 were written without" in result.warnings[0]

    rehash_from(engine, 6)  # a keyed row re-hashed with the plain function
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == 6


def test_truncation_after_an_anchor_is_detected_and_named(tmp_path: Path) -> None:
    engine = seeded(tmp_path, 10, KEY)
    anchor = audit_anchors.head(engine)
    assert anchor is not None and anchor.id == 10
    add(engine, 2)
    named = audit_anchors.parse(str(anchor), "--anchor")
    assert audit_anchors.verify(engine, [named]).ok

    delete_from(engine, 9)  # the newest rows, the anchored one among them
    assert audit.verify(engine).ok  # the table alone cannot tell
    result = audit_anchors.verify(engine, [named])
    assert not result.ok and result.bad_id == 10
    assert "the log ends at id 8" in result.reason and "truncated" in result.reason
    assert f"10:{anchor.hash[:12]}" in result.reason and "--anchor" in result.reason


def test_anchor_whose_id_now_holds_another_hash_fails(tmp_path: Path) -> None:
    engine = seeded(tmp_path, 6, None)
    anchor = audit_anchors.head(engine)
    assert anchor is not None
    edit_actor(engine, 3, "U0ATTACKER")
    rehash_from(engine, 3)  # unkeyed: the chain alone verifies again
    assert audit.verify(engine).ok
    result = audit_anchors.verify(engine, [anchor])
    assert not result.ok and result.bad_id == 6 and "rewritten" in result.reason


@pytest.mark.parametrize("value", ["", "12", "abc:def", "0:" + "a" * 64, "5:" + "g" * 64])
def test_bad_anchors_get_a_clear_answer(value: str) -> None:
    with pytest.raises(audit_anchors.AnchorError, match="expected ID:HASH"):
        audit_anchors.parse(value)


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.chdir(tmp_path)
    for var in ("MLOPS_BOT_CONFIG", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv("MLOPS_BOT_AUDIT_KEY", KEY)
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(tmp_path / "data"))
    return seeded(tmp_path, 6, KEY)


def verify_cli(*args: str) -> tuple[int, str, str]:
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["audit", "verify", "--no-mlflow", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_verify_with_anchor_names_the_truncation(cli_db: Engine) -> None:
    anchor = audit_anchors.head(cli_db)
    assert anchor is not None
    code, out, err = verify_cli("--anchor", str(anchor))
    assert code == 0 and "audit log OK: 6 events, chain intact, 1 anchor(s) match" in out
    assert "warning" not in err

    delete_from(cli_db, 5)
    code, out, err = verify_cli("--anchor", str(anchor))
    assert code == 1
    assert "audit log BROKEN at id 6: the log ends at id 4" in err and "truncated" in err


def test_cli_refuses_a_malformed_anchor_in_one_line(cli_db: Engine) -> None:
    code, out, err = verify_cli("--anchor", "6:nothex")
    assert code == 2 and "expected ID:HASH" in err and "Traceback" not in err + out


def test_cli_verify_reads_the_anchors_tagged_in_mlflow(
    cli_db: Engine, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from bot.cli import cli

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    anchor = audit_anchors.head(cli_db)
    assert anchor is not None
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.set_model_version_tag("churn", "2", audit_anchors.ANCHOR_TAG, str(anchor))
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0 and "1 anchor(s) match" in result.stdout

    delete_from(cli_db, 6)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "anchor 6:" in result.stderr and "MLflow `churn` v2" in result.stderr
