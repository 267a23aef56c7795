"""Test helpers: seed MLflow, serve the bot over real HTTP, sign requests as Slack does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.slack_fake import Call, FakeSlack

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test"
MLOPS_BOT = str(Path(sys.executable).parent / "mlops-bot")
# What `GET /healthz` says, and all it says, while MLflow is unreachable.
HEALTH_MLFLOW_DOWN = dict(status="unavailable", db="ok", mlflow="unavailable", scheduler="ok")

# name -> list of (metrics, params) per version; aliases set after
SEED_MODELS: dict[str, list[dict[str, float]]] = {
    "churn": [
        {"roc_auc": 0.80, "accuracy": 0.81, "latency_ms": 12.0},
        {"roc_auc": 0.82, "accuracy": 0.83, "latency_ms": 13.0},
        {"roc_auc": 0.85, "accuracy": 0.84, "latency_ms": 12.5},
    ],
    "fraud-detector": [{"roc_auc": 0.91, "precision": 0.7}],
}
SEED_ALIASES = {
    ("churn", "champion"): "1",
    ("churn", "challenger"): "3",
    ("fraud-detector", "production"): "1",
}


def seed_mlflow(root: Path, uri: str | None = None) -> str:
    """Create a real MLflow store with the seed models (artifacts under root; the tracking
    store at `uri`, by default a sqlite file under root); return its URI."""
    from mlflow.tracking import MlflowClient

    uri = uri or f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("seed", artifact_location=str(root / "artifacts"))
    for name, versions in SEED_MODELS.items():
        client.create_registered_model(name, description=f"{name} test model")
        for i, metrics in enumerate(versions):
            run = client.create_run(exp, run_name=f"{name}-v{i + 1}")
            rid = run.info.run_id
            for k, v in metrics.items():
                client.log_metric(rid, k, v)
            client.log_param(rid, "n_estimators", str(100 * (i + 1)))
            client.set_terminated(rid)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", rid)
    client.create_registered_model("empty-model")
    for (name, alias), version in SEED_ALIASES.items():
        client.set_registered_model_alias(name, alias, version)
    return uri


def log_signed_version(
    uri: str,
    tmp: Path,
    model: str,
    inputs: dict[str, str] | None,
    *,
    params: dict[str, str] | None = None,
    mlmodel: str | None = None,
) -> str:
    """A new version of `model` (created if need be) in the seeded store whose run has code tags,
    a training dataset input and an MLmodel file: with a signature of `inputs` (column → type,
    a `?` after the type for an optional one) and one `long` output, none when `inputs` is None,
    or the text `mlmodel` as it is. Returns the version number."""
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.models import Model, ModelSignature
    from mlflow.tracking import MlflowClient
    from mlflow.types import ColSpec, Schema

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("seed")
    assert exp is not None
    tags = {"mlflow.source.git.commit": "0123abcd", "mlflow.source.name": "train.py"}
    run = client.create_run(exp.experiment_id, tags=tags)
    rid = run.info.run_id
    for key, value in (params or {}).items():
        client.log_param(rid, key, value)
    frame = pd.DataFrame({"age": [1.0, 2.0], "churned": [0, 1]})
    data = from_pandas(frame, source="s3://data/train.parquet", name="train", targets="churned")
    context = InputTag("mlflow.data.context", "training")
    client.log_inputs(rid, datasets=[DatasetInput(data._to_mlflow_entity(), [context])])
    folder = tmp / rid
    folder.mkdir(parents=True)
    if mlmodel is not None:
        (folder / "MLmodel").write_text(mlmodel)
    else:
        signature = None
        if inputs is not None:
            cols = [
                ColSpec(kind.rstrip("?"), name, required=not kind.endswith("?"))
                for name, kind in inputs.items()
            ]
            signature = ModelSignature(Schema(cols), Schema([ColSpec("long")]))
        Model(artifact_path="model", run_id=rid, signature=signature).save(folder / "MLmodel")
    client.log_artifacts(rid, str(folder), "model")
    client.set_terminated(rid)
    if not client.search_registered_models(f"name='{model}'"):
        client.create_registered_model(model)
    return str(client.create_model_version(model, f"{run.info.artifact_uri}/model", rid).version)


def slack_signature(secret: str, timestamp: str, body: str) -> str:
    """Slack's v0 request signature (written out here, independent of the code under test)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    secret: str = SIGNING_SECRET,
    ts: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(secret, timestamp, body),
    }


@dataclass
class BotServer:
    """A bot served on 127.0.0.1 by uvicorn in a thread, plus helpers to talk to it."""

    url: str
    fake: FakeSlack
    runtime: Any
    app: Any
    _stop: Callable[[], None]
    services: Any = None  # handlers.context.Services of an in-process bot
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    _n: int = 0

    def stop(self) -> None:
        self.http.close()
        self._stop()

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers)

    def command(
        self, text: str, user: str = "U0REQ", channel: str = "C0MLOPS", **overrides: str
    ) -> tuple[httpx.Response, str]:
        """Send a signed `/mlops` slash command; returns the response and its response_url."""
        self._n += 1
        response_url = self.fake.response_url(f"cmd{self._n}")
        form = {
            "token": "verification-token-deprecated",
            "team_id": "T0TEAM",
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "mlops",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/mlops",
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{self._n}.456.trigger",
        }
        form.update(overrides)
        body = urlencode(form)
        return self.post(body, signed_headers(body)), response_url

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """Send a signed interaction (`payload=<JSON>`)."""
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, signed_headers(body))

    def reply_to(self, response_url: str, timeout: float = 30) -> dict[str, Any]:
        """The JSON the bot POSTed to a response_url (waits with a deadline)."""
        calls = self.fake.wait_for(
            "response_url", lambda c: response_url.endswith(c.path), timeout=timeout
        )
        body: dict[str, Any] = calls[0].params
        return body

    def ask(self, text: str, **command: str) -> dict[str, Any]:
        """The reply to a `/mlops` command (`command`: as for `command()`)."""
        _, response_url = self.command(text, **command)
        return self.reply_to(response_url)

    def posted_in(self, channel: str, timeout: float = 30) -> Call:
        """The first message the bot posted in `channel` (waits with a deadline)."""
        return self.fake.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == channel, timeout=timeout
        )[0]

    def audited(self, action: str, limit: int = 20) -> list[Any]:
        """The `action` events among the newest `limit` of the audit log, newest first."""
        from bot import audit

        return [e for e in audit.recent(self.runtime.engine, limit=limit) if e.action == action]


def start_bot(
    tmp_path: Path,
    fake: FakeSlack,
    *,
    mlflow_uri: str,
    database_url: str,
    policy: str | None = None,
    tls: tuple[Path, Path] | None = None,
    **settings: Any,
) -> BotServer:
    """Build the real app from settings and serve it over HTTP on an ephemeral port."""
    import uvicorn

    from bot.bootstrap import build_runtime
    from bot.config import Settings
    from handlers.app import build_app, build_services
    from handlers.slack_client import make_client
    from handlers.transport.http import create_asgi

    tmp_path.mkdir(parents=True, exist_ok=True)
    policy_path = None
    if policy is not None:
        policy_path = tmp_path / "policy.toml"
        policy_path.write_text(policy)
    cfg = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        mlflow_tracking_uri=mlflow_uri,
        database_url=database_url,
        mlops_bot_data_dir=tmp_path / "data",
        mlops_bot_config=policy_path,
        # a report is its first message here, however slow the machine; the placeholder's
        # tests (tests/unit/handlers/reports/test_progress.py) set their own
        **{"mlops_bot_report_progress_after_seconds": 3600, **settings},
    )
    rt = build_runtime(cfg)
    client = make_client(cfg)
    services = build_services(rt, client)
    app = build_app(services, client)
    tls_options = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    config = uvicorn.Config(
        create_asgi(app, services),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        **tls_options,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("bot server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        services.reports.shutdown()
        rt.engine.dispose()

    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    return BotServer(url=url, fake=fake, runtime=rt, app=app, _stop=stop, services=services)


@contextmanager
def serving(tmp_path: Path, fake: FakeSlack, **options: Any) -> Iterator[BotServer]:
    """start_bot(tmp_path, fake, **options) for the length of a `with` block."""
    server = start_bot(tmp_path, fake, **options)
    try:
        yield server
    finally:
        server.stop()


def serving_policy(
    tmp_path: Path, fake: FakeSlack, mlflow_store: str, policy: str | None, **settings: Any
) -> AbstractContextManager[BotServer]:
    """The bot on `policy`, MLflow at `mlflow_store` and a SQLite database of its own."""
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    return serving(
        tmp_path,
        fake,
        mlflow_uri=mlflow_store,
        database_url=database_url,
        policy=policy,
        **settings,
    )


def policy_bot(policy: str, **settings: Any) -> Any:
    """A pytest fixture: the bot on `policy` and `settings` (see serving_policy)."""
    import pytest

    @pytest.fixture
    def bot_on_policy(
        mlflow_store: str, fake_slack: FakeSlack, tmp_path: Path
    ) -> Iterator[BotServer]:
        with serving_policy(tmp_path, fake_slack, mlflow_store, policy, **settings) as server:
            yield server

    return bot_on_policy


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (the tests' loopback servers)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve `handler` on 127.0.0.1 in a daemon thread; the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class DeployReceiver:
    """A loopback webhook endpoint (a deploy hook's receiver) that records each POST and
    answers the `statuses` given, in turn, then 204; `verified` checks Standard Webhooks
    signatures, written out independently of the code under test. `shutdown()` when done."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        posts, answers = self.posts, list(statuses or [])

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(answers.pop(0) if answers else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server, self.url = serve_loopback(Handler)

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """The bodies whose Standard Webhooks signature checks out under `secret`."""
        key = base64.b64decode(secret.removeprefix("whsec_"))
        good = []
        for headers, body in self.posts:
            signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
            mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            if f"v1,{mac}" in headers["webhook-signature"].split():
                good.append(json.loads(body))
        return good


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url`; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop the database of `url`, closing whatever still holds a connection to it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def reset_postgres(url: str) -> None:
    """Drop every table of the public schema (the bot's and Alembic's)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def cli_env(tmp: Path, **env: str) -> dict[str, str]:
    """The environment of a `mlops-bot` process working in `tmp`: this one's, with the data
    directory and a SQLite database in `tmp`, and `env` on top."""
    return {
        **os.environ,
        "MLOPS_BOT_DATA_DIR": str(tmp / "data"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        **env,
    }


def run_mlops_bot(
    cwd: Path, *args: str, env: dict[str, str], timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`mlops-bot ARGS` in `cwd` until it exits, its output captured as text."""
    return subprocess.run(
        [MLOPS_BOT, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def serve_process(
    tmp: Path,
    fake: FakeSlack,
    mlflow_uri: str,
    db_url: str,
    policy: Path | None = None,
    **env: str,
) -> tuple[subprocess.Popen, str]:
    """`mlops-bot serve --http` as its own process (so a test can SIGTERM or SIGKILL it).

    Its stdout and stderr go to `tmp / "log"`.
    """
    port = free_port()
    ours = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "DATABASE_URL": db_url,
        **({"MLOPS_BOT_CONFIG": str(policy)} if policy is not None else {}),
    }
    environ = cli_env(tmp, **{**ours, **env})
    environ.pop("SLACK_APP_TOKEN", None)
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            MLOPS_BOT,
            "serve",
            "--http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=environ,
        cwd=tmp,
        stdout=(log := open(tmp / "log", "a")),  # noqa: SIM115
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc)
    return proc, url


def app_home_opened(user: str, event_id: str) -> str:
    """The JSON body of an `app_home_opened` Events API delivery."""
    return json.dumps(
        {
            "token": "x",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": "1764147630.000200",
            },
            "event_id": event_id,
            "event_time": 1764147630,
            "authorizations": [{"team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": True}],
        }
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the deadline")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until `url` answers at all (any status); on failure the process is killed."""

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=30)
            return True
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=timeout, interval=0.2)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


class MlflowServer:
    """A real `mlflow server` process (1 worker) on a sqlite store; stop and start again."""

    def __init__(
        self, store: Path, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.store = store
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.env}
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.store / 'mlflow.db'}",
                "--default-artifact-root",
                str(self.store / "artifacts"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.store / "mlflow-server.log").open("ab"),
        )
        wait_http(f"{self.url}/health", self.proc, timeout=90)
        assert httpx.get(f"{self.url}/health").status_code == 200

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def alias_of(uri: str, model: str = "churn", alias: str = "champion") -> str | None:
    """The version an alias of a model points to in the MLflow store at `uri`, or None."""
    from mlflow.tracking import MlflowClient

    version = (
        MlflowClient(tracking_uri=uri, registry_uri=uri)
        .get_registered_model(model)
        .aliases.get(alias)
    )
    return None if version is None else str(version)


@dataclass
class PageParts:
    """What a report page shows, read with the standard library's HTML parser."""

    tables: dict[str, list[list[str]]] = field(default_factory=dict)  # id -> rows (header first)
    urls: list[str] = field(default_factory=list)  # every src, href and action
    scripts: list[str] = field(default_factory=list)  # inline script bodies
    text: str = ""  # all text outside <script> and <style>


def page_parts(html: str) -> PageParts:
    """The tables (by id), URLs, scripts and text of a report page."""
    from html.parser import HTMLParser

    parts = PageParts()
    texts: list[str] = []

    class Reader(HTMLParser):
        table: str | None = None
        row: list[str] | None = None
        cell: list[str] | None = None
        raw: str | None = None  # inside <script> or <style>

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            parts.urls += [v for k, v in attrs if k in ("src", "href", "action") and v]
            if tag == "table":
                self.table = a.get("id") or f"table{len(parts.tables)}"
                parts.tables[self.table] = []
            elif tag == "tr" and self.table:
                self.row = []
            elif tag in ("td", "th") and self.row is not None:
                self.cell = []
            elif tag in ("script", "style"):
                self.raw = tag
                if tag == "script":
                    parts.scripts.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.row is not None and self.cell is not None:
                self.row.append("".join(self.cell).strip())
                self.cell = None
            elif tag == "tr" and self.table and self.row is not None:
                parts.tables[self.table].append(self.row)
                self.row = None
            elif tag == "table":
                self.table = None
            elif tag in ("script", "style"):
                self.raw = None

        def handle_data(self, data: str) -> None:
            if self.raw == "script":
                parts.scripts[-1] += data
            elif self.raw is None:
                texts.append(data)
                if self.cell is not None:
                    self.cell.append(data)

    Reader(convert_charrefs=True).feed(html)
    parts.text = " ".join(" ".join(texts).split())
    return parts
