"""`mlops-bot demo` against an MLflow that does not answer: one clear error within seconds
(MLflow's own HTTP defaults retry for minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import demo
from bot.config import Settings
from tests.helpers import free_port


def test_an_unreachable_mlflow_is_named_at_once(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mlflow_tracking_uri=uri,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        mlops_bot_data_dir=tmp_path / "data",
    )
    said: list[str] = []
    with pytest.raises(demo.DemoError) as exc:
        demo.seed(settings, echo=said.append)
    assert str(exc.value) == f"MLFLOW_TRACKING_URI: {uri} failed (Connection refused)"
    assert not (tmp_path / "data" / "mlops-bot.toml").exists()  # nothing seeded
