"""`mlops-bot check`: every line a user sees, passing on a healthy setup and failing with the
fix named for each broken dependency in turn (the demo workspace: tests/e2e/test_check.py)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bot.checks import SLACK_SCOPES
from tests.helpers import BOT_TOKEN, SIGNING_SECRET, free_port
from tests.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parents[3]
POLICY = """\
[models.churn]
owners = ["U0ALICE"]
approvers = ["U0BOB"]

[models.churn.monitor]
reference = "{reference}"
current = "{current}"
target = "label"
prediction = "prediction"
features.age = {{ method = "ks" }}
"""


@pytest.fixture
def workspace(
    tmp_path: Path, mlflow_store: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A healthy setup: seeded MLflow, a migrated database, a policy whose monitor reads two
    local files, and the Slack emulator; the environment points at all of it."""
    from bot.storage import db

    frame = pd.DataFrame({"age": [30, 41, 52], "label": [0, 1, 1], "prediction": [0, 1, 0]})
    frame.to_parquet(tmp_path / "reference.parquet")
    frame.to_csv(tmp_path / "current.csv", index=False)
    write_policy(tmp_path, current=str(tmp_path / "current.csv"))
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.upgrade(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    for var in ("SLACK_APP_TOKEN", "MLOPS_BOT_CONFIG", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(var, raising=False)
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "MLFLOW_TRACKING_URI": mlflow_store,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "MLOPS_BOT_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def write_policy(tmp_path: Path, *, current: str, extra: str = "") -> None:
    text = POLICY.format(reference=tmp_path / "reference.parquet", current=current)
    (tmp_path / "policy.toml").write_text(text + extra, encoding="utf-8")


def check(tmp_path: Path) -> tuple[int, list[str]]:
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "policy.toml")])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout.strip().splitlines()


def failing(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


def test_a_healthy_setup_passes_every_check(workspace: Path) -> None:
    code, lines = check(workspace)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [
        "✓ settings",
        "✓ policy",
        "✓ database",
        "✓ MLflow",
        "✓ model churn",
        "✓ monitor churn reference",
        "✓ monitor churn current",
        "✓ monitor churn columns",
        "✓ Slack token",
        "✓ Slack scopes",
    ]
    assert "Slack HTTP" in lines[0] and SIGNING_SECRET not in lines[0] and BOT_TOKEN not in lines[0]
    assert "@champion → v1" in lines[4] and "@production not set yet" in lines[4]
    assert "3 rows, 3 columns" in lines[6]
    assert "target `label`, prediction `prediction`, features.age" in lines[7]
    assert f"all {len(SLACK_SCOPES)} of manifest.yml granted" in lines[9]


def test_a_wrong_token_is_named_with_where_to_get_the_right_one(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    code, lines = check(workspace)
    assert code == 1
    assert failing(lines) == [
        "✗ Slack token: Slack refused SLACK_BOT_TOKEN (invalid_auth) → fix: copy the Bot User "
        "OAuth Token (xoxb-…) from OAuth & Permissions to SLACK_BOT_TOKEN"
    ]


def test_scopes_the_token_lacks_are_named(workspace: Path, fake_slack: FakeSlack) -> None:
    team = fake_slack.workspace.team
    fewer = tuple(s for s in team.scopes if s not in ("files:write", "usergroups:read"))
    fake_slack.workspace.team = dataclasses.replace(team, scopes=fewer)
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert line.startswith("✗ Slack scopes: the token lacks files:write, usergroups:read → fix: ")
    assert "reinstall the app" in line


def test_unreachable_slack_is_named(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    monkeypatch.setenv("MLOPS_BOT_SLACK_TIMEOUT_SECONDS", "2")
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert line == (
        f"✗ Slack token: cannot reach Slack at {os.environ['SLACK_API_URL']} (Connection refused)"
        " → fix: check the network or proxy, and SLACK_API_URL"
    )


def test_mlflow_down_fails_fast_and_skips_what_needs_it(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert line == (
        f"✗ MLflow: {os.environ['MLFLOW_TRACKING_URI']} does not answer (Connection refused) "
        "→ fix: start the MLflow server, or correct MLFLOW_TRACKING_URI"
    )
    assert "– model churn: not checked: MLflow does not answer" in lines


def test_a_database_behind_head_names_the_upgrade(workspace: Path) -> None:
    from alembic import command

    from bot.storage import db

    engine = db.make_engine(f"sqlite:///{workspace / 'bot.db'}")
    cfg = db._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    engine.dispose()
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert f"not at head {db.head_revision()}" in line
    assert line.endswith("→ fix: run `mlops-bot db upgrade` (`serve` also migrates at start)")


def test_a_database_without_migrations_names_the_upgrade(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    sqlite3.connect(workspace / "empty.db").close()  # a file, no tables
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{workspace / 'empty.db'}")
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert line.startswith(f"✗ database: sqlite:///{workspace / 'empty.db'} has no migrations ")


def test_a_missing_database_is_not_created_by_the_check(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{workspace / 'none.db'}")
    code, lines = check(workspace)
    assert code == 1
    assert failing(lines)[0].startswith(f"✗ database: no database at {workspace / 'none.db'}")
    assert not (workspace / "none.db").exists()


def test_a_missing_data_file_is_named(workspace: Path) -> None:
    write_policy(workspace, current=str(workspace / "gone.csv"))
    code, lines = check(workspace)
    assert code == 1
    assert failing(lines) == [
        f"✗ monitor churn current: `{workspace / 'gone.csv'}` does not exist → fix: make "
        f"`{workspace / 'gone.csv'}` readable, or set `current` in [models.churn.monitor]"
    ]


def test_missing_columns_are_named(workspace: Path) -> None:
    frame = pd.DataFrame({"years": [30, 41], "label": [0, 1]})
    frame.to_csv(workspace / "current.csv", index=False)
    code, lines = check(workspace)
    assert code == 1
    assert failing(lines) == [
        "✗ monitor churn columns: prediction `prediction` not in current; features.age not in "
        "current → fix: add the columns to the data, or correct the column names in "
        "[models.churn.monitor]"
    ]


def test_a_policy_model_mlflow_does_not_have_is_named_with_suggestions(workspace: Path) -> None:
    write_policy(workspace, current=str(workspace / "current.csv"), extra="[models.chrun]\n")
    code, lines = check(workspace)
    assert code == 1
    [line] = failing(lines)
    assert line.startswith(
        "✗ model chrun: No registered model named `chrun`. Did you mean `churn`?"
    )


def test_an_invalid_policy_or_setting_exits_2(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(
        workspace,
        current="x.csv",
        extra="[permissions.commands.promte]\n[permissions.commands.drift]\n",
    )
    code, lines = check(workspace)
    assert code == 2
    assert "✗ policy: [permissions] names no /mlops subcommand: promte" in failing(lines)[0]
    monkeypatch.setenv("MLOPS_BOT_REQUIRED_APPROVALS", "many")
    code, lines = check(workspace)
    assert code == 2
    assert lines[0].startswith("✗ settings: MLOPS_BOT_REQUIRED_APPROVALS: ")


def test_without_a_slack_token_slack_is_skipped_not_failed(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    code, lines = check(workspace)
    assert code == 0
    assert lines[-1].startswith("– Slack: no SLACK_BOT_TOKEN: only the local shell can run")


def test_the_scopes_checked_are_those_manifest_yml_asks_for() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SLACK_SCOPES)
