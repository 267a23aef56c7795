"""Shared fixtures: a real MLflow sqlite store, the fake Slack Web API, a served bot."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import BotServer, seed_mlflow, start_bot
from tests.slack_fake import FakeSlack

PG_URL_ENV = "MLOPS_BOT_TEST_DATABASE_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded MLflow store built once per session; tests get copies."""
    root = tmp_path_factory.mktemp("mlflow-template")
    seed_mlflow(root)
    return root


@pytest.fixture
def mlflow_store(mlflow_template: Path, tmp_path: Path) -> str:
    """A private copy of the seeded store; returns its tracking URI."""
    dest = tmp_path / "mlflow"
    shutil.copytree(mlflow_template, dest)
    # artifact locations are absolute paths inside the template; they are only read, never moved
    return f"sqlite:///{dest / 'mlflow.db'}"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def bot(mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotServer]:
    """The bot served over HTTP in this process (uvicorn thread) on a fresh SQLite database."""
    server = start_bot(
        tmp_path,
        fake_slack,
        mlflow_uri=mlflow_store,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL; under CI=true an unreachable server fails instead of skipping."""
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {url}: {type(exc).__name__}")
    return url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """A fresh schema-less database state: every bot table dropped before and after."""
    from tests.helpers import reset_postgres

    reset_postgres(pg_url)
    yield pg_url
    reset_postgres(pg_url)
