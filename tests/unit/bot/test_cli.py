"""What `mlops-bot --help` and `--version` show."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from bot.cli import cli


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mlops-bot {version('mlops-bot')}"


def test_help_shows_flags_without_a_type() -> None:
    top = CliRunner().invoke(cli, ["--help"])
    assert top.exit_code == 0 and "<bool>" not in top.output
    assert "--version" in top.output and "--help" in top.output
    serve = CliRunner().invoke(cli, ["serve", "--help"])
    assert serve.exit_code == 0 and "<bool>" not in serve.output
    assert "--http " in serve.output and "--port <int>" in serve.output
    verify = CliRunner().invoke(cli, ["audit", "verify", "--help"])
    assert "--mlflow / --no-mlflow" in verify.output and "<bool>" not in verify.output


def test_request_timeouts_read_like_durations() -> None:
    from bot.cli.request import parse_duration

    assert [parse_duration(t) for t in ("2h", "30m", "90s", "1h30m", "1d", "600", "0.5")] == [
        7200,
        1800,
        90,
        5400,
        86400,
        600,
        0.5,
    ]
    for bad in ("", "2x", "h", "-5", "1.5h"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
