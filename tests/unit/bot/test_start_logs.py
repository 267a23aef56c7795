"""What an operator sees at start: no library chatter at INFO, and one last line naming the
variable at fault, with the documented exit status, when the start fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import logs
from tests.helpers import wait_until


@pytest.fixture
def logging_setup(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """`logs.setup` as the bot does it, caplog still listening; everything restored after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    names = [*logs.QUIET_LIBRARIES, *logs._CHATTY_LOGGERS]
    levels = {n: logging.getLogger(n).level for n in names}
    filters = {n: list(logging.getLogger(n).filters) for n in names}

    def setup(level: int) -> None:
        logs.setup(level)
        root.addHandler(caplog.handler)  # basicConfig(force=True) took it off
        caplog.handler.setLevel(logging.NOTSET)

    caplog.setup = setup  # type: ignore[attr-defined]
    try:
        yield caplog
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        for n in names:
            logging.getLogger(n).setLevel(levels[n])
            logging.getLogger(n).filters[:] = filters[n]


def _library_chatter(tmp_path: Path) -> None:
    """Run the code that logs each kind of chatter: migrations, a scheduled job, an HTTP retry
    against a closed port, and a Bolt app given a client (as handlers.app builds it)."""
    import urllib3
    from apscheduler.schedulers.background import BackgroundScheduler
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.storage import db

    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.upgrade(engine)
    engine.dispose()

    ran: list[int] = []
    sched = BackgroundScheduler(timezone="UTC")
    sched.add_job(lambda: ran.append(1), "interval", hours=1, next_run_time=datetime.now(UTC))
    sched.start()
    try:
        wait_until(lambda: ran, timeout=10)
    finally:
        sched.shutdown(wait=True)

    pool = urllib3.PoolManager(retries=urllib3.Retry(total=1, backoff_factor=0))
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        pool.request("GET", "http://127.0.0.1:1/", timeout=2)

    App(
        client=WebClient(token="xoxb-test"),
        token="xoxb-test",
        signing_secret="s",
        token_verification_enabled=False,
        logger=logging.getLogger("mlops_bot.bolt"),
    )
    uvicorn = logging.getLogger("uvicorn.error")  # what uvicorn says at every start and stop
    uvicorn.setLevel(logging.INFO)  # as serve_http's uvicorn.run(log_level="info") sets it
    uvicorn.info("Waiting for application startup.")
    uvicorn.info("Application startup complete.")
    uvicorn.info("Uvicorn running on http://127.0.0.1:3000 (Press CTRL+C to quit)")
    logging.getLogger("mlops_bot.example").info("promotion request abc approved")


CHATTER = (
    "setup plugin",  # alembic
    "Running upgrade",
    "Running job",  # APScheduler, every run
    "executed successfully",
    "Retrying (",  # urllib3
    "`token` will be unused",  # Bolt
    "Waiting for application startup",  # uvicorn
    "Application startup complete",
)


def test_library_chatter_is_not_logged_at_info(logging_setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logging_setup.setup(logging.INFO)
    _library_chatter(tmp_path)
    text = "\n".join(r.getMessage() for r in logging_setup.records)
    assert [c for c in CHATTER if c in text] == []
    assert "promotion request abc approved" in text  # what an operator acts on stays
    assert "Uvicorn running on http://127.0.0.1:3000" in text


def test_debug_shows_the_library_lines(logging_setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logging_setup.setup(logging.DEBUG)
    _library_chatter(tmp_path)
    text = "\n".join(r.getMessage() for r in logging_setup.records)
    once_per_process = "setup plugin"  # alembic sets its plugins up on the first upgrade only
    assert [c for c in CHATTER if c not in text and c != once_per_process] == []


@pytest.fixture
def start_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logging_setup) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for var in ("MLOPS_BOT_CONFIG", "MLFLOW_TRACKING_URI", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _serve() -> tuple[int, list[str]]:
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["serve"])
    return result.exit_code, result.stderr.strip().splitlines()


@pytest.mark.parametrize("url", ["garbage", "nosuchdialect://x/y"])
def test_a_bad_database_url_is_named_and_exits_2(
    start_env: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    code, lines = _serve()
    assert code == 2
    assert lines[-1].startswith(
        f"mlops-bot: cannot start: DATABASE_URL: {url!r} is not a database URL"
    )
    assert "Traceback" not in "\n".join(lines)


def test_an_unreachable_database_is_named_without_its_password_and_exits_1(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://bot:s3cret@127.0.0.1:1/bot")
    code, lines = _serve()
    assert code == 1
    assert lines[-1].startswith("mlops-bot: cannot start: DATABASE_URL: cannot open postgresql")
    assert "s3cret" not in "\n".join(lines)
    assert not any("alembic" in line for line in lines)  # the last line is not buried


def test_a_bad_setting_is_named_and_exits_2(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_BOT_REQUIRED_APPROVALS", "many")
    code, lines = _serve()
    assert code == 2 and "MLOPS_BOT_REQUIRED_APPROVALS" in lines[-1]


def test_no_bot_token_ends_with_one_line_naming_it_and_exits_1(start_env: Path) -> None:
    code, lines = _serve()
    assert code == 1
    assert lines[-1] == "mlops-bot: cannot start: SLACK_BOT_TOKEN is not set (what to set is above)"
    assert any("SLACK_APP_TOKEN=xapp-" in line for line in lines)  # the help comes first


def test_http_mode_without_a_signing_secret_names_it_and_exits_1(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    code, lines = _serve()
    assert code == 1
    assert lines[-1].startswith("mlops-bot: cannot start: SLACK_SIGNING_SECRET is not set")


def test_a_port_in_use_names_the_port_and_exits_1_after_the_start_line(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret-signing-value")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        from bot.cli import cli

        result = CliRunner().invoke(
            cli, ["serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
        )
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1
    assert lines[-1] == (
        f"mlops-bot: cannot start: --host 127.0.0.1 --port {port}: cannot listen there: "
        "Address already in use"
    )
    [start] = [line for line in lines if "mlops-bot 0.1.0 starting: " in line]
    assert " INFO " in start and "Slack HTTP; MLflow sqlite:///" in start and "policy none" in start
    assert "secret-token-value" not in result.stderr and "secret-signing-value" not in result.stderr


def test_a_policy_file_with_several_problems_lists_them_then_names_the_variable(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = start_env / "policy.toml"
    policy.write_text('[models.churn]\nrequired_approvals = 0\ngates = ["auc >>= 1"]\n')
    monkeypatch.setenv("MLOPS_BOT_CONFIG", str(policy))
    code, lines = _serve()
    assert code == 2
    assert (
        lines[-1]
        == "mlops-bot: cannot start: MLOPS_BOT_CONFIG: invalid policy file: 2 problems above"
    )
    problems = lines[-3:-1]  # each problem on its own line, just above the last one
    assert problems[0].startswith(f"  {policy}: models.churn.required_approvals: ")
    assert problems[1].startswith(f"  {policy}: models.churn.gates: ")


def test_a_data_dir_that_cannot_be_made_is_named_and_exits_1(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (start_env / "a-file").write_text("")
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(start_env / "a-file" / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, lines = _serve()
    assert code == 1
    assert lines[-1] == (
        "mlops-bot: cannot start: MLOPS_BOT_DATA_DIR (where DATABASE_URL is by default): cannot "
        f"create the directory {start_env / 'a-file' / 'data'}: Not a directory"
    )


def test_the_shell_names_an_mlflow_that_does_not_answer_and_exits_1(
    start_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import cli
    from tests.helpers import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = CliRunner().invoke(cli, ["shell"], input="/mlops models\n")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"mlops-bot: cannot start: MLFLOW_TRACKING_URI: {uri} does not answer (Connection refused)"
    )
