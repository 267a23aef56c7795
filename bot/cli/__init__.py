"""The `mlops-bot` command line. Heavy modules are imported inside commands (fast --help)."""

from __future__ import annotations

import logging
import sys

import typer

from bot.cli.common import fail, load_runtime, setup_logging
from bot.cli.report import report
from bot.cli.request import request_cli
from bot.cli.webhook import webhook_cli

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
    from bot.logs import setup

    setup(logging.INFO, settings.mlops_bot_log_format)  # the value may come from .env
    if settings.slack_bot_token is None:
        fail(SLACK_SETUP, 1)
    from handlers.app import build_app, build_services

    if (http or not settings.socket_mode) and settings.slack_signing_secret is None:
        fail("HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret).", 1)
    from slack_bolt.error import BoltError

    from handlers.slack_client import SLACK_FAILURES, make_client, slack_error
    from jobs.scheduler import Scheduler

    client = make_client(settings)
    services = build_services(
        rt, client, scheduler=lambda approvals, reports: Scheduler(rt, approvals, reports, client)
    )
    try:
        app = build_app(services, client)  # Bolt checks the token with auth.test here
    except BoltError as exc:
        fail(f"Slack refused the bot token: {str(exc).splitlines()[0][:200]}", 1)
    except SLACK_FAILURES as exc:
        fail(f"cannot reach Slack at {settings.slack_api_url}: {slack_error(exc)}", 1)
    from handlers.router.registry import unknown_commands

    if unknown := unknown_commands(rt.policy):
        fail(f"invalid policy file: [permissions] names no /mlops subcommand: {unknown}")
    scheduler = services.scheduler
    assert isinstance(scheduler, Scheduler)
    rt.warm_up()  # before the scheduler's first jobs and the first request
    scheduler.start()
    problem = None
    try:
        if http or not settings.socket_mode:
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
    return local_shell.open_shell(load_runtime(say_where=True), user=user, channel=channel)


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
cli.add_typer(webhook_cli, name="webhook")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
