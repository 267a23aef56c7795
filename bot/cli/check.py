"""`mlops-bot check`: settings, policy and every dependency, one ✓/✗ line each with the fix."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.common import setup_logging

if TYPE_CHECKING:
    from bot.checks import Check
    from bot.policy.file import Policy

# Exit statuses: as at start (README "Start failures and exit codes").
CONFIG_INVALID = 2
DEPENDENCY_FAILS = 1


def check(
    config: Path | None = typer.Option(
        None, "--config", help="Policy file to check (default: MLOPS_BOT_CONFIG, as `serve`)."
    ),
) -> None:
    """Validate settings and policy, then reach the database, MLflow, each monitor's data and
    Slack: one line per check (✓ passed, ✗ failed with the fix, – skipped); exit 0 only when
    none failed (2: settings or policy invalid, 1: a dependency fails)."""
    from pydantic import ValidationError

    from bot.checks import failed, run_checks
    from bot.config import Settings, unknown_settings
    from handlers.shell.startup import adopt_demo_policy
    from handlers.slack_check import check_slack

    setup_logging(logging.WARNING)
    for warning in unknown_settings(os.environ):
        logging.getLogger("bot.config").warning(warning)
    if config is None:
        adopt_demo_policy()  # as the shell does: after `mlops-bot demo`, its policy
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            var = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            line = failed("settings", f"{var}: {error['msg']}", f"correct {var} (.env.example)")
            typer.echo(line.line())
        raise typer.Exit(CONFIG_INVALID) from None
    if config is not None:
        settings = settings.model_copy(update={"mlops_bot_config": config})

    def permissions(policy: Policy) -> list[Check]:
        from handlers import approvals, models, reports  # noqa: F401  (declare subcommands)
        from handlers.router.registry import unknown_commands

        unknown = unknown_commands(policy)
        if not unknown:
            return []
        return [
            failed(
                "policy",
                f"[permissions] names no /mlops subcommand: {', '.join(unknown)}",
                "correct the subcommand names (`/mlops help` lists them)",
            )
        ]

    code = 0
    for result in run_checks(settings, slack=check_slack, policy_checks=permissions):
        typer.echo(result.line())
        if result.failed:
            config_problem = result.name in ("settings", "policy")
            code = max(code, CONFIG_INVALID if config_problem else DEPENDENCY_FAILS)
    if code:
        typer.echo("mlops-bot check: some checks failed (✗ above, each with its fix)", err=True)
    raise typer.Exit(code)
