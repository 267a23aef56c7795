"""The `mlops-bot` command line. Heavy modules are imported inside commands (fast --help)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import typer

from bot.cli.check import check
from bot.cli.common import fail, load_runtime, setup_logging
from bot.cli.report import report
from bot.cli.request import request_cli
from bot.cli.webhook import webhook_cli

if TYPE_CHECKING:
    from bot.runtime import Runtime

cli = typer.Typer(
    help="mlops-bot: promote models with approval, watch drift, keep an audit log — in Slack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Typer's rich help shows `--http <bool>`; plain help shows flags
)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
cli.add_typer(db_cli, name="db")
audit_cli = typer.Typer(
    help="Export and verify the audit log.", no_args_is_help=True, rich_markup_mode=None
)
cli.add_typer(audit_cli, name="audit")
cli.add_typer(request_cli, name="request")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mlops-bot {version('mlops-bot')}")
        raise typer.Exit()


@cli.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """mlops-bot: promote models with approval, watch drift, keep an audit log — in Slack."""


SLACK_SETUP = """\
No Slack credentials are configured. Set these (in the environment or in .env):
  SLACK_BOT_TOKEN=xoxb-…        bot token (OAuth & Permissions)
  SLACK_APP_TOKEN=xapp-…        app-level token with connections:write, for Socket Mode
or, for HTTP mode instead of Socket Mode:
  SLACK_SIGNING_SECRET=…        signing secret (Basic Information), and run `mlops-bot serve --http`
See .env.example and README.md ("Create the Slack app")."""


@cli.command()
def serve(
    http: bool = typer.Option(
        False, "--http", help="Serve HTTP (POST /slack/events) instead of Socket Mode."
    ),
    host: str = typer.Option("0.0.0.0", help="HTTP bind address."),
    port: int = typer.Option(3000, help="HTTP port."),
) -> None:
    """Serve Slack: Socket Mode when SLACK_APP_TOKEN is set, else (or with --http) HTTP."""
    setup_logging()
    rt = load_runtime(say_where=True)
    settings = rt.settings
    from bot.checks import summary
    from bot.logs import setup

    setup(logging.INFO, settings.mlops_bot_log_format)  # the value may come from .env
    log = logging.getLogger("mlops_bot")
    log.info("mlops-bot %s starting: %s", _installed_version(), summary(settings))
    if settings.slack_bot_token is None:
        typer.echo(SLACK_SETUP, err=True)
        fail("cannot start: SLACK_BOT_TOKEN is not set (what to set is above)", 1)
    http = http or not settings.socket_mode
    if http and settings.slack_signing_secret is None:
        fail(
            "cannot start: SLACK_SIGNING_SECRET is not set; HTTP mode needs it (Basic "
            "Information → Signing Secret), or set SLACK_APP_TOKEN for Socket Mode",
            1,
        )
    if http and (busy := _cannot_listen(host, port)):
        fail(f"cannot start: --host {host} --port {port}: cannot listen there: {busy}", 1)
    from slack_bolt.error import BoltError

    from handlers.app import build_app, build_services
    from handlers.slack_client import SLACK_FAILURES, make_client, slack_error
    from jobs.scheduler import Scheduler

    client = make_client(settings)
    services = build_services(
        rt, client, scheduler=lambda approvals, reports: Scheduler(rt, approvals, reports, client)
    )
    try:
        app = build_app(services, client)  # Bolt checks the token with auth.test here
    except BoltError as exc:
        fail(f"cannot start: SLACK_BOT_TOKEN: Slack refused it: {_first(exc)}", 1)
    except SLACK_FAILURES as exc:
        fail(
            f"cannot start: SLACK_API_URL: cannot reach Slack at {settings.slack_api_url}: "
            f"{slack_error(exc)}",
            1,
        )
    from handlers.router.registry import unknown_commands

    if unknown := unknown_commands(rt.policy):
        fail(
            f"cannot start: MLOPS_BOT_CONFIG: {rt.policy.source}: [permissions] names no /mlops "
            f"subcommand: {unknown}"
        )
    _probe_mlflow(rt)
    scheduler = services.scheduler
    assert isinstance(scheduler, Scheduler)
    rt.warm_up()  # before the scheduler's first jobs and the first request
    scheduler.start()
    where = f"HTTP on http://{host}:{port}" if http else "Socket Mode"
    models = len(rt.policy.file.models)
    log.info("serving Slack over %s (policy: %d model%s)", where, models, "s" * (models != 1))
    problem = None
    try:
        if http:
            from handlers.transport.http import serve_http

            serve_http(app, services, host, port)
        else:
            from bot.config import secret
            from handlers.transport.socket import serve_socket_mode

            problem = serve_socket_mode(app, secret(settings.slack_app_token))
    finally:
        scheduler.shutdown(wait=problem is not None)
    if problem:
        fail(problem, 1)  # after the scheduler's last log line, so it is the last line shown


def _installed_version() -> str:
    from importlib.metadata import version

    return version("mlops-bot")


def _first(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _cannot_listen(host: str, port: int) -> str | None:
    """Why uvicorn could not bind host:port (address in use, no such address), else None; so
    that the start fails with one line naming --port instead of uvicorn's exit."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind(address)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _ask_mlflow(rt: Runtime) -> None:
    """One MLflow call with its HTTP retries off and a short timeout: RegistryError within
    seconds when it does not answer (its default retries take minutes)."""
    from bot.checks import bounded_mlflow_http

    with bounded_mlflow_http():
        rt.registry.ping()


def _probe_mlflow(rt: Runtime) -> None:
    """Ask MLflow once at start, within seconds (retries and timeout bounded): one warning
    when it does not answer. The bot serves anyway; /healthz says so until MLflow answers."""
    from bot.checks import why_unanswered
    from bot.redact import redact
    from bot.registry.gateway import RegistryError

    try:
        _ask_mlflow(rt)
    except RegistryError as exc:
        logging.getLogger("mlops_bot").warning(
            "MLFLOW_TRACKING_URI: %s does not answer (%s); serving anyway, /healthz says "
            "mlflow unavailable until it does",
            redact(rt.registry.tracking_uri),
            why_unanswered(exc),
        )


@cli.command()
def run() -> None:
    """What `make run` does: serve Slack when tokens are set, else the local shell on demo data."""
    from bot.config import Settings

    settings = Settings()
    if settings.has_slack_tokens:
        serve(http=not settings.socket_mode, host="0.0.0.0", port=3000)
        return
    setup_logging(logging.WARNING)
    from bot import demo

    if demo.store_is_empty(settings):
        typer.echo(
            "No Slack app is configured and MLflow has no models yet: seeding the demo workspace "
            "(first run only, about 30 s)."
        )
        try:
            demo.seed(settings, echo=typer.echo)
        except demo.DemoError as exc:
            fail(str(exc))
        typer.echo("")
    raise typer.Exit(_open_shell(None, None))


@cli.command()
def shell(
    user: str | None = typer.Option(
        None, "--user", help="Slack user ID to act as (default: the policy's first model owner)."
    ),
    channel: str | None = typer.Option(
        None, "--channel", help="Channel ID to type in (default: the policy's monitor channel)."
    ),
) -> None:
    """Local shell: type /mlops commands, press buttons, switch users; no Slack app needed."""
    raise typer.Exit(_open_shell(user, channel))


def _open_shell(user: str | None, channel: str | None) -> int:
    import re

    user = user.removeprefix("@") if user is not None else None
    channel = channel.removeprefix("#") if channel is not None else None
    if user is not None and not re.fullmatch(r"[UW][A-Z0-9_]{2,}", user.upper()):
        fail(f"--user {user!r} is not a Slack user ID (U… or W…)")
    if channel is not None and not re.fullmatch(r"[CGD][A-Z0-9_]{2,}", channel.upper()):
        fail(f"--channel {channel!r} is not a Slack channel ID (C…)")
    setup_logging(logging.WARNING)
    from handlers.shell import startup as local_shell

    local_shell.adopt_demo_policy()
    rt = load_runtime(say_where=True)
    if rt.registry.tracking_uri.startswith(("http://", "https://")):
        from bot.registry.gateway import RegistryError

        try:
            _ask_mlflow(rt)
        except RegistryError as exc:
            from bot.checks import why_unanswered
            from bot.redact import redact

            uri = redact(rt.registry.tracking_uri)
            fail(
                f"cannot start: MLFLOW_TRACKING_URI: {uri} does not answer ({why_unanswered(exc)})",
                1,
            )
    return local_shell.open_shell(rt, user=user, channel=channel)


@cli.command()
def demo(
    reset: bool = typer.Option(False, "--reset", help="Delete the demo's data, then seed again."),
) -> None:
    """Seed the embedded MLflow store with a demo model `churn`, its policy and drifted data."""
    from pydantic import ValidationError

    from bot import demo as demo_data
    from bot.config import Settings

    setup_logging(logging.WARNING)
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(f"invalid configuration: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
    try:
        demo_data.seed(settings, reset=reset, echo=typer.echo)
    except demo_data.DemoError as exc:
        fail(str(exc))


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (they also run at every start)."""
    load_runtime()
    typer.echo("database is up to date")


@audit_cli.command("export")
def audit_export(
    fmt: str = typer.Option("jsonl", "--format", help="csv, json or jsonl"),
    model: str | None = typer.Option(None, "--model", help="only events of this model"),
    since: str | None = typer.Option(None, "--since", help="ISO time, e.g. 2026-11-01T00:00Z"),
) -> None:
    """Write audit events to stdout, oldest first."""
    from bot import audit

    if fmt not in ("csv", "json", "jsonl"):
        fail(f"--format must be csv, json or jsonl, not {fmt!r}")
    since_at = None
    if since is not None:
        from datetime import datetime

        try:
            from bot import clock

            since_at = clock.as_utc(datetime.fromisoformat(since))
        except ValueError:
            fail(f"--since {since!r} is not an ISO date or time (e.g. 2026-11-01T00:00Z)")
    rt = load_runtime()
    audit.export(rt.engine, sys.stdout, fmt, model=model, since=since_at)  # type: ignore[arg-type]


@audit_cli.command("verify")
def audit_verify(
    anchor: list[str] = typer.Option(
        [], "--anchor", help="ID:HASH of an anchor (from the audit channel); repeatable."
    ),
    mlflow: bool = typer.Option(
        True, "--mlflow/--no-mlflow", help="Also check the anchors tagged on MLflow versions."
    ),
) -> None:
    """Check the hash chain and its anchors: exit 0 with the count, or 1 naming the first bad
    row or the anchor the log no longer reaches."""
    from bot import audit_anchors

    try:
        anchors = [audit_anchors.parse(a, "--anchor") for a in anchor]
    except audit_anchors.AnchorError as exc:
        fail(f"--anchor {exc}")
    rt = load_runtime()
    from bot.config import sqlite_path

    store = sqlite_path(rt.settings.mlflow_tracking_uri)
    if mlflow and (store is None or store.exists()):  # no local store yet: nothing tagged
        from bot.registry.gateway import RegistryError

        try:
            anchors += audit_anchors.from_registry(rt.registry)
        except RegistryError as exc:
            typer.echo(f"warning: anchors on MLflow versions not checked: {exc}", err=True)
    result = audit_anchors.verify(rt.engine, anchors)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.ok:
        checked = f", {len(anchors)} anchor(s) match" if anchors else ", no anchors to check"
        typer.echo(f"audit log OK: {result.count} events, chain intact{checked}")
        return
    typer.echo(
        f"audit log BROKEN at id {result.bad_id}: {result.reason} "
        f"({result.count} events verified before it)",
        err=True,
    )
    raise typer.Exit(1)


cli.command("report")(report)
cli.command("check")(check)
cli.add_typer(webhook_cli, name="webhook")


# OpenBLAS worker threads spin for 2**28 cycles (~0.1 s) after each call before they sleep;
# a drift report makes a few hundred short np.dot calls, so the spinning cost about as much CPU
# as the rest of the comparison and slowed its threads. 2**4 cycles: they sleep at once. The
# thread count, and so every result, stays the same. Read when numpy loads: set it before.
BLAS_THREAD_TIMEOUT = "4"


def main() -> None:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_THREAD_TIMEOUT)
    cli()


if __name__ == "__main__":
    main()
