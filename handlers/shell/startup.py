"""Starting the local shell: the demo's policy when none is configured, a runtime without Slack
credentials, the welcome screen, and `open_shell`, which runs the REPL (`repl.Shell`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from bot.runtime import Runtime
from handlers.shell.repl import Shell
from handlers.slack_emulator.workspace import USER_ID

DEFAULT_USER = "U0YOU"
DEFAULT_CHANNEL = "C0SHELL"
NO_SLACK = "No Slack app: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN to serve Slack (README, .env)."
SLACK_SET = "Slack credentials are set, but this shell does not use them (`mlops-bot serve` does)."


def adopt_demo_policy() -> Path | None:
    """Point MLOPS_BOT_CONFIG at the demo's policy file when no policy is configured
    (`bot.demo.adopt_policy`, shared with `mlops-bot report`). Call before the runtime is
    built (it loads the policy and syncs its monitors). Returns the file adopted, or None."""
    from bot import demo

    return demo.adopt_policy()


def prepare_runtime(rt: Runtime) -> tuple[Runtime, bool]:
    """The shell answers in the terminal: a runtime without any Slack credentials (so no
    request verification either), and whether Slack credentials were configured."""
    settings = rt.settings.model_copy(
        update={"slack_bot_token": None, "slack_signing_secret": None, "slack_app_token": None}
    )
    return dataclasses.replace(rt, settings=settings), rt.settings.has_slack_tokens


def default_user(rt: Runtime) -> str:
    """The first model owner of the policy (the demo's U0ALICE), else U0YOU."""
    for model in rt.policy.file.models.values():
        for owner in model.owners:
            if USER_ID.fullmatch(owner):
                return owner
    return DEFAULT_USER


def default_channel(rt: Runtime) -> str:
    """The first monitor channel of the policy (the demo's C0DEMO), else C0SHELL."""
    for monitor in rt.policy.monitors().values():
        if monitor.channel:
            return monitor.channel
    return DEFAULT_CHANNEL


def welcome(
    rt: Runtime, user: str, channel: str, *, demo_model: bool, slack_configured: bool = False
) -> str:
    """One screen: what this is, where the data is, who you are, what to type."""
    from bot import demo

    model = demo.MODEL if demo_model else "<model>"
    approvers = [a for a in rt.policy.for_model(model).approvers if USER_ID.fullmatch(a)]
    approver = next((a for a in approvers if a != user), "U0BOB")
    policy = str(rt.policy.source) if rt.policy.source else "none (set MLOPS_BOT_CONFIG)"
    if approvers:
        policy += f" (approvers: {', '.join(approvers)})"
    tour = [
        ("/mlops models", "registered models and their aliases"),
        (f"/mlops show {model} @challenger", "a version: metrics, params, source run"),
        (
            f"/mlops promote {model} 3 champion better recall",
            "ask for approval, saying why (without a why, a form asks): a model card",
        ),
        ("press 1", "click Approve (refused: it is your own request)"),
        (f"as {approver}", "become an approver, then: press 1"),
        (f"/mlops drift {model}", "drift of the current data vs. the training data"),
        ("help", "shell commands; quit or Ctrl-D leaves"),
    ]
    width = max(len(cmd) for cmd, _ in tour) + 3
    lines = [
        "mlops-bot local shell: the bot's own /mlops listeners, answered in this terminal.",
        SLACK_SET if slack_configured else NO_SLACK,
        f"  MLflow  {rt.settings.mlflow_tracking_uri}",
        f"  policy  {policy}",
    ]
    if not demo_model:
        lines.append("No demo model here: `mlops-bot demo` seeds one (model churn).")
    lines.append(f"You are @{user} in #{channel}. Try:")
    lines += [f"  {cmd:<{width}}{what}" for cmd, what in tour]
    return "\n".join(lines)


def open_shell(
    rt: Runtime,
    *,
    user: str | None = None,
    channel: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the shell until quit / end of input, on `rt` without its Slack credentials (the
    welcome says whether there were any); returns the exit status."""
    from bot import demo

    rt, slack_configured = prepare_runtime(rt)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin is sys.stdin and sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    reconfigure = getattr(stdout, "reconfigure", None)
    if callable(reconfigure):
        reconfigure(errors="replace")  # emoji and box lines on a terminal that can't show them
    user = (user or default_user(rt)).upper()
    channel = (channel or default_channel(rt)).upper()
    shell = Shell(
        rt, user=user, channel=channel, stdin=stdin, stdout=stdout, interactive=interactive
    )
    warm = shell.warm_up()
    has_demo = demo.policy_file(rt.settings).exists() or demo.MODEL in {
        m for m in rt.policy.file.models
    }
    shell.emit(welcome(rt, user, channel, demo_model=has_demo, slack_configured=slack_configured))
    try:
        return shell.run()
    finally:
        warm.join(timeout=60)
        rt.engine.dispose()
