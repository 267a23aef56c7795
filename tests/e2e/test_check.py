"""`mlops-bot check` as a process on the demo workspace (`mlops-bot demo` makes it): every check
passes, then each broken part is named with its fix."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import BOT_TOKEN, SIGNING_SECRET, free_port, run_mlops_bot
from tests.slack_fake import FakeSlack

_OURS = re.compile(r"^(SLACK_|MLFLOW_|MLOPS_BOT_|DATABASE_URL$)")


def demo_env(**extra: str) -> dict[str, str]:
    """A fresh clone's environment (no bot, Slack or MLflow variable) plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not _OURS.match(k)}, **extra}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-workspace")
    seeded = run_mlops_bot(root, "demo", env=demo_env(), timeout=600)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    return root


def check(root: Path, fake: FakeSlack, **env: str) -> tuple[int, list[str], str]:
    slack = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    environ = demo_env(**{**slack, "SLACK_API_URL": fake.api_url, **env})
    res = run_mlops_bot(root, "check", env=environ, timeout=180)
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return res.returncode, res.stdout.strip().splitlines(), res.stderr


@pytest.mark.slow
def test_check_passes_on_the_demo_workspace_then_names_each_broken_part(
    demo_dir: Path, fake_slack: FakeSlack
) -> None:
    code, lines, err = check(demo_dir, fake_slack)
    print("\n".join(lines))  # the closing note quotes it
    assert code == 0, "\n".join(lines) + err
    assert all(line.startswith("✓") for line in lines), lines
    text = "\n".join(lines)
    assert ".mlops-bot/mlops-bot.toml: 1 model(s)" in text
    assert "✓ monitor churn reference: mlflow-artifact:reference.parquet: " in text
    assert "✓ Slack scopes: all 6 of manifest.yml granted" in text

    code, lines, _ = check(demo_dir, fake_slack, SLACK_BOT_TOKEN="xoxb-wrong")
    assert code == 1
    assert [line for line in lines if line.startswith("✗")] == [
        "✗ Slack token: Slack refused SLACK_BOT_TOKEN (invalid_auth) → fix: copy the Bot User "
        "OAuth Token (xoxb-…) from OAuth & Permissions to SLACK_BOT_TOKEN"
    ]

    mlflow_down = f"http://127.0.0.1:{free_port()}"
    code, lines, _ = check(demo_dir, fake_slack, MLFLOW_TRACKING_URI=mlflow_down)
    assert code == 1
    assert [line.split(":")[0] for line in lines if line.startswith("✗")] == ["✗ MLflow"]

    current = demo_dir / ".mlops-bot" / "demo" / "current.parquet"
    pd.read_parquet(current).drop(columns=["prediction"]).to_parquet(current)
    code, lines, _ = check(demo_dir, fake_slack)
    assert code == 1
    assert [line for line in lines if line.startswith("✗")] == [
        "✗ monitor churn columns: prediction `prediction` not in current → fix: add the columns "
        "to the data, or correct the column names in [models.churn.monitor]"
    ]
