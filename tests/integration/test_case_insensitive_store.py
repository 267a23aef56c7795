"""Names are MLflow's, on a real case-insensitive MLflow store: MariaDB.

MySQL, MariaDB and SQL Server compare names case-insensitively, so there `CHURN` is the model
`churn` and `Champion` is the alias `champion`. This module starts a MariaDB server of its own
(a temporary data directory, a free loopback port; nothing shared with another run) from the
Debian package `mariadb-server`, and is skipped, with the reason, when it cannot start one;
with MLOPS_BOT_TEST_MARIADB=required (set by .ci/run when it could start one) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bot import audit
from handlers import action_ids as ids
from tests.helpers import alias_of, free_port, seed_mlflow, serving, wait_until
from tests.integration.test_approvals import click, ephemeral, everything, request
from tests.integration.test_integrity import POLICY, buttons_of
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.slow  # starts mariadbd
REQUIRED = os.environ.get("MLOPS_BOT_TEST_MARIADB") == "required"


def _program(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if found:
            return found
    return None


def _unavailable(why: str) -> None:
    if REQUIRED:
        pytest.fail(f"MariaDB is required (MLOPS_BOT_TEST_MARIADB=required): {why}", pytrace=False)
    pytest.skip(f"MariaDB could not start: {why}")


def _accepts(proc: subprocess.Popen, port: int) -> bool:
    import pymysql

    if proc.poll() is not None:
        raise RuntimeError(f"mariadbd exited with {proc.returncode}")
    try:
        pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
        return True
    except pymysql.err.OperationalError:
        return False


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MariaDB server of this module's own; yields `mysql+pymysql://root@127.0.0.1:<port>`."""
    server = _program("mariadbd", "mysqld")
    install = _program("mariadb-install-db", "mysql_install_db")
    if server is None or install is None:
        _unavailable("mariadbd or mariadb-install-db not found (Debian package mariadb-server)")
    assert server is not None and install is not None
    root = tmp_path_factory.mktemp("mariadb")
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    made = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={root / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_root,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        _unavailable(f"mariadb-install-db failed: {(made.stderr or made.stdout)[-300:]}")
    port = free_port()
    log = root / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={root / 'data'}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={root / 'mysqld.sock'}",
                f"--pid-file={root / 'mysqld.pid'}",
                "--skip-grant-tables",
                "--skip-log-bin",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                *as_root,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_until(lambda: _accepts(proc, port), timeout=60, interval=0.2)
        except (AssertionError, RuntimeError) as exc:
            tail = log.read_text(errors="replace")[-300:]
            _unavailable(f"{exc}; its log ends: {tail}")
        yield f"mysql+pymysql://root@127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def mlflow_on_mariadb(mariadb: str, tmp_path: Path) -> str:
    """The seed models in a fresh database on that server (case-insensitive collation)."""
    import pymysql

    name = f"mlflow_{tmp_path.name[-20:]}".replace("-", "_")
    port = int(mariadb.rsplit(":", 1)[1])
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    conn.close()
    return seed_mlflow(tmp_path / "store", uri=f"{mariadb}/{name}")


def test_names_on_a_case_insensitive_store_are_mlflows(
    mlflow_on_mariadb: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    uri = mlflow_on_mariadb
    store = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert store.get_registered_model("CHURN").name == "churn"  # the store is what we say
    with serving(
        tmp_path / "bot",
        fake_slack,
        mlflow_uri=uri,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        policy=POLICY,
    ) as bot:
        # `Champion` is `champion` here: it used to be "not protected" and moved at once
        reply = everything(bot.ask("promote churn 2 Champion"))
        assert "`@Champion` differs from the protected alias `@champion`" in reply
        assert alias_of(uri) == "1"
        assert store.get_registered_model("churn").aliases == {"champion": 1, "challenger": 3}

        # `CHURN` is churn: judged by churn's policy (2 approvals, its gates), which v2 fails
        rid, card = request(bot, "promote CHURN 2 champion simpler model, easier to explain")
        shown = everything(card)
        assert "Promotion request: churn v2 → @champion" in shown and "0/2" in shown
        assert ":x: `latency_ms &lt;= champion * 1.05`" in shown
        assert buttons_of(card) == [ids.OVERRIDE, ids.REJECT, ids.REQUEST_DETAILS]
        url = click(bot, ids.APPROVE, rid, "U0APPROVER1", card)
        assert "Gates failed" in ephemeral(bot, url)
        req, _ = bot.services.approvals.get(rid)
        assert req is not None and (req.model_name, req.required_approvals) == ("churn", 2)
        requested = wait_until(lambda: bot.audited("promotion_requested"))
        assert [(e.model_name, e.request_id) for e in requested] == [("churn", rid)]
        assert alias_of(uri) == "1"
        assert audit.verify(bot.runtime.engine).ok
