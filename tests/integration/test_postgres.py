"""The bot on PostgreSQL: migrations from several processes, commands answered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import start_bot
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.postgres


def test_status_on_postgres(
    pg_database: str, mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    bot = start_bot(tmp_path, fake_slack, mlflow_uri=mlflow_store, database_url=pg_database)
    try:
        text = str(bot.ask("status"))
        assert "postgresql" in text and ":x:" not in text
    finally:
        bot.stop()


@pytest.mark.slow
def test_concurrent_migrations_on_postgres(pg_database: str) -> None:
    code = (
        "from bot.storage.db import make_engine, upgrade; import sys; "
        "upgrade(make_engine(sys.argv[1])); print('ok')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    from sqlalchemy import create_engine, text

    from bot.storage.db import head_revision

    engine = create_engine(pg_database)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == head_revision()
        )
    engine.dispose()
