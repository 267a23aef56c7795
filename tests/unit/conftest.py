"""Unit-test fixtures: a runtime on a real sqlite MLflow store and a fresh SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import Runtime


@pytest.fixture
def runtime(mlflow_store: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime built from settings (no Slack), migrated, on this test's own files."""
    from bot.bootstrap import build_runtime
    from bot.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mlflow_tracking_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        mlops_bot_data_dir=tmp_path / "data",
    )
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.engine.dispose()
