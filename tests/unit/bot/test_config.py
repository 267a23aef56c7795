"""Settings from env and the policy file: defaults, and one clear error per bad value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.policy.file import PolicyError, load_policy, read_policy_file

SPEC_POLICY = """
[defaults]
approvers = ["S0ML_LEADS"]
required_approvals = 1

[models.churn]
owners = ["U0ALICE"]
approvers = ["U0BOB", "S0ML_LEADS"]
required_approvals = 2
gates = ["roc_auc >= champion - 0.005", "accuracy >= 0.80", "latency_ms <= champion * 1.10"]

[models.churn.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "https://logs.example.com/churn/last-24h.parquet"
schedule = "0 9 * * 1-5"
channel = "C0ALERTS"
alias = "champion"
target = "label"
prediction = "prediction"
timestamp = "ts"
retrain_url = "https://ci.example.com/hooks/retrain-churn"
[models.churn.monitor.features]
age = { method = "psi", threshold = 0.2 }
"""


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "MLFLOW_TRACKING_URI", "MLOPS_BOT_PROTECTED_ALIASES"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.mlflow_tracking_uri == "sqlite:///.mlops-bot/mlflow.db"
    assert s.database_url == "sqlite:///.mlops-bot/mlops_bot.db"
    assert s.mlops_bot_protected_aliases == ["champion", "production"]
    assert s.mlops_bot_required_approvals == 1
    assert s.mlops_bot_request_ttl_hours == 72
    assert s.mlops_bot_reconcile_seconds == 300
    assert s.mlops_bot_timezone == "UTC"


def test_env_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BOT_APPROVERS", "U0BOB, S0LEADS")
    monkeypatch.setenv("MLOPS_BOT_PROTECTED_ALIASES", "prod")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.mlops_bot_approvers == ["U0BOB", "S0LEADS"]
    assert s.mlops_bot_protected_aliases == ["prod"]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-from-file\nMLOPS_BOT_REQUIRED_APPROVALS=3\n")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("MLOPS_BOT_REQUIRED_APPROVALS", raising=False)
    s = Settings(_env_file=env)  # type: ignore[call-arg]
    assert s.slack_bot_token is not None and s.mlops_bot_required_approvals == 3
    assert "xoxb-from-file" not in repr(s)  # secrets never print


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("MLOPS_BOT_APPROVERS", "bob"),
        ("MLOPS_BOT_TIMEZONE", "Mars/Olympus"),
        ("MLOPS_BOT_REQUIRED_APPROVALS", "0"),
    ],
)
def test_bad_env_values_are_refused(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_spec_policy_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "mlops-bot.toml"
    path.write_text(SPEC_POLICY)
    s = Settings(_env_file=None, mlops_bot_config=path)  # type: ignore[call-arg]
    policy = load_policy(s)
    churn = policy.for_model("churn")
    assert churn.required_approvals == 2 and churn.approvers == ("U0BOB", "S0ML_LEADS")
    assert [g.metric for g in churn.gates] == ["roc_auc", "accuracy", "latency_ms"]
    assert churn.monitor is not None and churn.monitor.features["age"].method == "psi"
    other = policy.for_model("fraud")
    assert other.approvers == ("S0ML_LEADS",) and other.required_approvals == 1
    assert other.is_protected("champion") and not other.is_protected("staging")


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[models.churn]\naprovers = ["U0BOB"]', "models.churn.aprovers: unknown key"),
        ('[models.churn]\ngates = ["roc_auc >== 1"]', "models.churn.gates"),
        (
            '[models.churn.monitor]\ncurrent = "x"\nschedule = "61 * * * *"',
            "models.churn.monitor.schedule: cron '61 * * * *'",
        ),
        ('[models.churn.monitor]\ncurrent = "x"\nschedule = "0 9 * *"', "must have 5 fields"),
        ("[defaults]\nrequired_approvals = 0", "defaults.required_approvals"),
        ("[models.churn\n", "invalid TOML"),
        ('[models.churn]\napprovers = ["bob"]', "not Slack user"),
    ],
)
def test_bad_policy_names_file_key_and_value(tmp_path: Path, snippet: str, expected: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(snippet)
    with pytest.raises(PolicyError) as info:
        read_policy_file(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_default_stores_follow_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(tmp_path / "data"))
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'data'}/mlflow.db"
    assert s.database_url == f"sqlite:///{tmp_path / 'data'}/mlops_bot.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")  # a URL that is set wins
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url == "sqlite:///elsewhere.db"
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'data'}/mlflow.db"


def test_unknown_settings_name_the_closest_one(tmp_path: Path) -> None:
    from bot.config import unknown_settings

    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKN=xoxb-1\nMLOPS_BOT_TIMEZONE=UTC\n")
    environ = {
        "MLOPS_BOT_REQUIRED_APROVALS": "2",
        "MLOPS_BOT_APPROVERS": "U0BOB",
        "MLOPS_BOT_TEST_DATABASE_URL": "x",  # the test suite's own
        "MLOPS_BOT_ZZZZ": "1",
        "HOME": "/root",
    }
    assert unknown_settings(environ, env) == [
        "unknown environment variable MLOPS_BOT_REQUIRED_APROVALS is ignored; "
        "did you mean MLOPS_BOT_REQUIRED_APPROVALS?",
        "unknown environment variable MLOPS_BOT_ZZZZ is ignored",
        f"unknown key in {env} SLACK_BOT_TOKN is ignored; did you mean SLACK_BOT_TOKEN?",
    ]


def test_a_misspelt_variable_is_a_warning_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_BOT_CONFIG", "")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("MLOPS_BOT_REQUIRED_APROVALS", "2")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (
        "unknown environment variable MLOPS_BOT_REQUIRED_APROVALS is ignored; "
        "did you mean MLOPS_BOT_REQUIRED_APPROVALS?" in caplog.messages
    )


def test_env_example_documents_every_setting() -> None:
    lines = (Path(__file__).parents[3] / ".env.example").read_text().splitlines()
    keys = {}
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            key = line.split("=", 1)[0]
            keys[key] = lines[i - 1]
    assert set(keys) == {name.upper() for name in Settings.model_fields}
    undocumented = [key for key, above in keys.items() if not above.startswith("# ")]
    assert undocumented == []


def test_a_new_default_store_is_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.cli.common import load_runtime

    monkeypatch.chdir(tmp_path)
    for var in ("DATABASE_URL", "MLOPS_BOT_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLOPS_BOT_CONFIG", "")
    # alembic's logging config disables loggers that exist when a migration runs in-process
    monkeypatch.setattr(logging.getLogger("bot.config"), "disabled", False)
    load_runtime(say_where=True).engine.dispose()  # what `serve` and `shell` do first
    where = tmp_path.resolve() / ".mlops-bot" / "mlops_bot.db"
    assert (
        f"no database at {where} yet: starting an empty one (run in the bot's directory, "
        "or set MLOPS_BOT_DATA_DIR or DATABASE_URL)" in caplog.messages
    )
    caplog.clear()
    logging.getLogger("bot.config").disabled = False
    load_runtime(say_where=True).engine.dispose()
    assert not [m for m in caplog.messages if m.startswith("no database")]  # it exists now
