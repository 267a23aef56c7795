"""Policy discovery shared by the shell and `mlops-bot report` (`demo.adopt_policy`):
MLOPS_BOT_CONFIG, then `./mlops-bot.toml`, then the demo workspace's policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import demo


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_BOT_CONFIG", "")  # empty = unset; restored after the test
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mlops-bot.toml").write_text("# the demo's\n")
    return tmp_path


def test_the_demo_policy_is_adopted_when_none_is_configured(here: Path) -> None:
    adopted = demo.adopt_policy()
    assert adopted == here / "data" / "mlops-bot.toml"
    assert os.environ["MLOPS_BOT_CONFIG"] == str(adopted)


def test_a_policy_in_the_working_directory_wins(here: Path) -> None:
    (here / "mlops-bot.toml").write_text("")
    assert demo.adopt_policy() is None
    assert os.environ["MLOPS_BOT_CONFIG"] == ""


def test_mlops_bot_config_wins(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BOT_CONFIG", str(here / "mine.toml"))
    assert demo.adopt_policy() is None
    assert os.environ["MLOPS_BOT_CONFIG"] == str(here / "mine.toml")


def test_no_demo_no_policy(here: Path) -> None:
    (here / "data" / "mlops-bot.toml").unlink()
    assert demo.adopt_policy() is None
