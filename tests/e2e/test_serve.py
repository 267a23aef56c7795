"""End to end: `mlops-bot serve --http` as a process, against a real `mlflow server` process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    BOT_TOKEN,
    HEALTH_MLFLOW_DOWN,
    SIGNING_SECRET,
    BotServer,
    MlflowServer,
    cli_env,
    free_port,
    run_mlops_bot,
    serve_process,
)
from tests.slack_fake import FakeSlack


@pytest.fixture(scope="module")
def mlflow_server(mlflow_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (1 worker) on a copy of the seeded store."""
    root = tmp_path_factory.mktemp("mlflow-server")
    shutil.copytree(mlflow_template, root / "store")
    server = MlflowServer(root / "store")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def start_serve(tmp_path: Path, fake: FakeSlack, mlflow_uri: str) -> tuple[subprocess.Popen, str]:
    return serve_process(tmp_path, fake, mlflow_uri, f"sqlite:///{tmp_path / 'bot.db'}")


@pytest.mark.slow
def test_serve_http_against_mlflow_server(
    tmp_path: Path, fake_slack: FakeSlack, mlflow_server: str
) -> None:
    proc, url = start_serve(tmp_path, fake_slack, mlflow_server)
    try:
        client = BotServer(url=url, fake=fake_slack, runtime=None, app=None, _stop=lambda: None)
        assert fake_slack.calls_to("auth.test"), "Bolt calls auth.test at start"
        for text, expected in [
            ("models", "`@champion` → v1"),
            ("show churn @champion", "churn v1"),
            ("show churn 3", "0.85"),
            ("show chrun", "Did you mean `churn`"),
            ("status", "scheduler: ok (running"),
        ]:
            started = time.monotonic()
            resp, response_url = client.command(text)
            assert resp.status_code == 200 and time.monotonic() - started < 3
            reply = client.reply_to(response_url)
            assert expected in reply["text"] + str(reply.get("blocks")), (text, reply)
        health = httpx.get(f"{url}/healthz").json()
        assert (
            health == {"status": "ok", "db": "ok", "mlflow": "ok", "scheduler": "ok"}
            or health["status"] == "ok"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    out = (tmp_path / "log").read_text()
    assert proc.returncode == 0, out
    assert BOT_TOKEN not in out and SIGNING_SECRET not in out


@pytest.mark.slow
def test_healthz_is_503_when_mlflow_is_down(tmp_path: Path, fake_slack: FakeSlack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proc, url = start_serve(tmp_path, fake_slack, dead)
    try:
        resp = httpx.get(f"{url}/healthz", timeout=60)
        assert resp.status_code == 503
        assert resp.json() == HEALTH_MLFLOW_DOWN
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.mark.slow
def test_run_without_tokens_opens_the_shell_and_says_what_to_set(
    tmp_path: Path, mlflow_store: str
) -> None:
    # issue 6: without tokens `run` opens the local shell (the store is not empty: no demo seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["MLOPS_BOT_DATA_DIR"] = str(tmp_path / "data")
    env["MLFLOW_TRACKING_URI"] = mlflow_store
    res = run_mlops_bot(tmp_path, "run", env=env, timeout=120, stdin="/mlops models\n")
    assert res.returncode == 0, res.stderr
    assert "SLACK_BOT_TOKEN" in res.stdout and "SLACK_APP_TOKEN" in res.stdout
    assert "`@champion` → v1" in res.stdout


@pytest.mark.slow
def test_bad_policy_file_stops_start_with_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "mlops-bot.toml").write_text('[models.churn]\ngates = ["auc >>= 1"]\n')
    env = cli_env(tmp_path, SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s")
    res = run_mlops_bot(tmp_path, "serve", "--http", env=env, timeout=60)
    assert res.returncode == 2
    assert "mlops-bot.toml: models.churn.gates" in res.stderr and "Traceback" not in res.stderr
    assert (
        res.stderr.strip().splitlines()[-1].startswith("mlops-bot: cannot start: MLOPS_BOT_CONFIG")
    )


def serve_until_exit(tmp_path: Path, *args: str, **env: str) -> str:
    """Run `mlops-bot serve ARGS` with ENV until it exits 1; its last line of stderr."""
    environ = cli_env(tmp_path, **{"SLACK_SIGNING_SECRET": SIGNING_SECRET, **env})
    if "SLACK_APP_TOKEN" not in env:
        environ.pop("SLACK_APP_TOKEN", None)
    res = run_mlops_bot(tmp_path, "serve", *args, env=environ, timeout=90)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "not-the-token" not in res.stderr and "not-valid" not in res.stderr
    return res.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_slack_refusing_the_token_at_start_is_one_clear_error(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    last = serve_until_exit(
        tmp_path,
        "--http",
        "--port",
        str(free_port()),
        SLACK_BOT_TOKEN="xoxb-not-the-token",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert last.startswith("mlops-bot: cannot start: SLACK_BOT_TOKEN: Slack refused it")
    assert "invalid_auth" in last


@pytest.mark.slow
def test_slack_unreachable_at_start_is_one_clear_error(tmp_path: Path) -> None:
    last = serve_until_exit(
        tmp_path,
        "--http",
        "--port",
        str(free_port()),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
    )
    assert last.startswith(
        "mlops-bot: cannot start: SLACK_API_URL: cannot reach Slack at http://127.0.0.1:"
    )


@pytest.mark.slow
def test_socket_mode_that_cannot_connect_is_one_clear_error(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    last = serve_until_exit(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN="xapp-1-not-valid",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert last.startswith(
        "mlops-bot: cannot start: SLACK_APP_TOKEN: Socket Mode could not connect"
    )
