"""Shared fixtures: a real MLflow sqlite store, the fake Slack Web API, a served bot."""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import BotServer, DeployReceiver, seed_mlflow, serving
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
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    with serving(tmp_path, fake_slack, mlflow_uri=mlflow_store, database_url=db_url) as server:
        yield server


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server URL; under CI=true an unreachable server fails instead of skipping."""
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


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A database of this test run's own on that server, dropped at the end.

    Named per run, so two suites on one machine never see each other's tables.
    """
    from tests.helpers import create_database, drop_database

    url = create_database(pg_server_url, f"mlops_bot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    try:
        yield url
    finally:
        drop_database(pg_server_url, url)


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """This run's database with every bot table dropped before and after the test."""
    from tests.helpers import reset_postgres

    reset_postgres(pg_url)
    yield pg_url
    reset_postgres(pg_url)


# The standard library runs `uname -p` once, on the first call that asks for the processor
# (libraries do, lazily): asked here, so no test is blamed for that process.
platform.processor()


@pytest.fixture(autouse=True)
def _slow_if_it_starts_a_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that starts an external process must be marked `slow` (the quick loop skips it)."""
    import subprocess

    started: list[str] = []
    real_init = subprocess.Popen.__init__

    def spy(self: subprocess.Popen, args: object, *a: object, **kw: object) -> None:
        started.append(str(args)[:120])
        real_init(self, args, *a, **kw)  # type: ignore[arg-type]

    subprocess.Popen.__init__ = spy  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = real_init  # type: ignore[method-assign]
    if started and request.node.get_closest_marker("slow") is None:
        pytest.fail(f"starts a process ({started[0]}) but is not marked slow", pytrace=False)


@pytest.fixture(scope="session")
def spark_master() -> Iterator[str]:
    """The run's one Spark session (`local[2]`, UI off, 2 shuffle partitions, 127.0.0.1, 512 MB
    driver), started once; without `java` skipped with the reason, except under CI=true."""
    if shutil.which("java") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the spark tests need Java 17 under CI (`java` is not on PATH)")
        pytest.skip("the spark tests need Java 17: `java` is not on PATH")
    from bot.monitoring.drift.engines.spark_engine import spark_session, stop_sessions

    spark_session("local[2]", driver_memory="512m")
    yield "local[2]"
    stop_sessions()


@pytest.fixture
def receiver() -> Iterator[DeployReceiver]:
    """A loopback deploy-hook receiver that records (and can verify) what it was sent."""
    rec = DeployReceiver()
    yield rec
    rec.shutdown()
