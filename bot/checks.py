"""`mlops-bot check`: the configuration and every dependency, one verdict per line with the fix.

Each check returns `Check`s; `run_checks` yields them in order (settings, policy, database,
MLflow, each monitor's data, Slack) so the command prints each line as soon as it is known.
Nothing is changed: no migration runs, no database file is created, nothing is posted. The
Slack check is passed in by the composition root (bot.cli): this package speaks no Slack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.redact import redact

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.policy.file import MonitorConfig, Policy
    from bot.registry.gateway import Registry

# The bot token scopes manifest.yml asks for (oauth_config.scopes.bot);
# tests/unit/bot/test_checks.py keeps the two equal.
SLACK_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "users:read",
    "usergroups:read",
)
# A dependency check must answer in seconds: MLflow's REST client would otherwise retry with
# backoff for minutes. Used for `check` and the start-up probe of `serve` and the shell.
PROBE_RETRIES = "0"
PROBE_TIMEOUT_SECONDS = "5"


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not applicable here (no Slack token), or blocked by an earlier failure


_MARKS = {Verdict.PASSED: "✓", Verdict.FAILED: "✗", Verdict.SKIPPED: "–"}


@dataclass(frozen=True)
class Check:
    """One line of `mlops-bot check`: what was checked, what was found, and the fix."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict == Verdict.FAILED

    def line(self) -> str:
        fix = f" → fix: {self.fix}" if self.fix and self.verdict != Verdict.PASSED else ""
        return f"{_MARKS[self.verdict]} {self.name}: {self.detail}{fix}"


def passed(name: str, detail: str) -> Check:
    return Check(name, Verdict.PASSED, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Verdict.FAILED, detail, fix)


def skipped(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Verdict.SKIPPED, detail, fix)


SlackCheck = Callable[["Settings"], list[Check]]
PolicyCheck = Callable[["Policy"], list[Check]]


@contextmanager
def bounded_mlflow_http() -> Iterator[None]:
    """MLflow's HTTP retries and timeout bounded for a start-up probe, then back to what the
    bot uses otherwise (the environment's, else the gateway's defaults: MLflow reads them at
    each request)."""
    from bot.registry.gateway import use_http_defaults

    use_http_defaults()
    bounds = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": PROBE_RETRIES,
        "MLFLOW_HTTP_REQUEST_TIMEOUT": PROBE_TIMEOUT_SECONDS,
    }
    saved = {key: os.environ[key] for key in bounds}
    os.environ.update(bounds)
    try:
        yield
    finally:
        os.environ.update(saved)


def run_checks(
    settings: Settings,
    *,
    slack: SlackCheck | None = None,
    policy_checks: PolicyCheck | None = None,
) -> Iterator[Check]:
    """Every check for `settings` (already validated), in order; checks that need a part that
    failed are skipped with the reason."""
    from bot.policy.file import PolicyError, load_policy
    from bot.registry.gateway import Registry

    yield passed("settings", summary(settings))
    try:
        policy = load_policy(settings)
    except PolicyError as exc:
        first, *rest = str(exc).splitlines()
        more = f" (+{len(rest)} more)" if rest else ""
        yield failed("policy", f"{first}{more}", "correct the key named (docs/policy.md)")
        policy = None
    if policy is not None:
        source = policy.source or "no policy file (defaults from the environment)"
        yield passed("policy", f"{source}: {len(policy.file.models)} model(s)")
        if policy_checks is not None:
            yield from policy_checks(policy)
    yield check_database(settings.database_url)
    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    with bounded_mlflow_http():
        reachable = check_mlflow(registry)
        yield reachable
        if policy is not None:
            for model in policy.file.models:
                yield from check_model(registry, policy, model, reachable=not reachable.failed)
    if slack is not None:
        yield from slack(settings)


def summary(settings: Settings) -> str:
    """The configuration in one line, without secrets (the start log line says the same)."""
    if settings.socket_mode:
        mode = "Slack Socket Mode"
    elif settings.has_slack_tokens:
        mode = "Slack HTTP" + ("" if settings.slack_signing_secret else " (no signing secret)")
    else:
        mode = "no Slack tokens (local shell only)"
    return (
        f"{mode}; MLflow {redact(settings.mlflow_tracking_uri)}; "
        f"database {redact(settings.database_url)}; policy {settings.policy_path or 'none'}; "
        f"data dir {settings.mlops_bot_data_dir}"
    )


# -- database ----------------------------------------------------------------------------------


def check_database(url: str) -> Check:
    """DATABASE_URL opens and its migrations are at head (read only: nothing is migrated)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from bot.config import sqlite_path
    from bot.storage import db

    shown = redact(url)
    path = sqlite_path(url)
    upgrade = "run `mlops-bot db upgrade` (`serve` also migrates at start)"
    if path is not None and not path.exists():
        return failed("database", f"no database at {path.resolve()} yet", upgrade)
    try:
        engine = db.make_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
        return failed(
            "database",
            f"DATABASE_URL {shown!r} is not usable: {_first_line(exc)}",
            "set DATABASE_URL to sqlite:///path/to.db or postgresql+psycopg://user@host/db",
        )
    try:
        current = db.current_revisions(engine)
    except SQLAlchemyError as exc:
        return failed(
            "database",
            f"cannot open {shown}: {_first_line(exc)}",
            "start the database server, or correct host, user and password in DATABASE_URL",
        )
    finally:
        engine.dispose()
    head = db.head_revision()
    if not current:
        return failed("database", f"{shown} has no migrations applied (head: {head})", upgrade)
    if current != {head}:
        at = ", ".join(sorted(current))
        return failed("database", f"{shown} is at {at}, not at head {head}", upgrade)
    return passed("database", f"{shown}: migrations at head ({head})")


# -- MLflow ------------------------------------------------------------------------------------


def check_mlflow(registry: Registry) -> Check:
    from bot.config import sqlite_path
    from bot.registry.gateway import RegistryError

    shown = redact(registry.tracking_uri)
    path = sqlite_path(registry.tracking_uri)
    if path is not None and not path.exists():  # MLflow would create an empty store
        return failed(
            "MLflow",
            f"no MLflow store at {path.resolve()}",
            "set MLFLOW_TRACKING_URI to your tracking server, or `mlops-bot demo` for a demo store",
        )
    try:
        count = len(registry.list_models())
    except RegistryError as exc:
        return failed(
            "MLflow",
            f"{shown} does not answer ({why_unanswered(exc)})",
            "start the MLflow server, or correct MLFLOW_TRACKING_URI",
        )
    return passed(
        "MLflow", f"{shown}: registry answers ({count} registered model{'s' * (count != 1)})"
    )


def why_unanswered(exc: BaseException) -> str:
    """The root of an MLflow or Slack failure in a few words ("Connection refused", "timed out",
    "HTTP 503"): MLflow's own message quotes the whole request and urllib3's retry state."""
    text = " ".join(str(e) for e in (exc, exc.__cause__) if e is not None)
    if found := re.search(r"\[Errno -?\d+\] ([^'\"()<>\]]+)", text):
        return found.group(1).strip()
    if "timed out" in text.lower():
        return f"no answer within {PROBE_TIMEOUT_SECONDS} s"
    if found := re.search(r"error code (\d{3})", text):
        return f"HTTP {found.group(1)}"
    return redact(text.splitlines()[0])[:200] if text else type(exc).__name__


def check_model(registry: Registry, policy: Policy, model: str, *, reachable: bool) -> list[Check]:
    """The policy's model exists, its protected aliases that are set resolve to a version, its
    monitor's alias is set, and the monitor's data is readable with its columns."""
    from bot.registry.gateway import NotFoundError, RegistryError

    name = f"model {model}"
    if not reachable:
        return [skipped(name, "not checked: MLflow does not answer")]
    try:
        found = registry.get_model(model)
    except NotFoundError as exc:
        return [
            failed(name, str(exc), f"register `{model}` in MLflow, or correct [models.{model}]")
        ]
    except RegistryError as exc:
        return [failed(name, str(exc), "see the MLflow line above")]
    mp = policy.for_model(model)
    out = []
    aliases = []
    for alias in sorted(mp.protected_aliases):
        holder = found.holder(alias)
        if holder is None:
            continue  # not set yet: the first approved promotion sets it
        try:
            registry.get_version(model, f"@{alias}")
        except RegistryError as exc:
            out.append(
                failed(
                    f"{name} @{alias}",
                    str(exc),
                    f"`/mlops promote {model} <version> {alias}` to an existing version",
                )
            )
            continue
        aliases.append(f"@{alias} → v{holder}")
    unset = sorted(a for a in mp.protected_aliases if found.holder(a) is None)
    detail = ", ".join(aliases) or "no protected alias set yet"
    if unset:
        detail += f" ({', '.join('@' + a for a in unset)} not set yet)"
    out.insert(0, passed(name, f"registered, latest v{found.latest_version or '-'}; {detail}"))
    if mp.monitor is not None:
        out += check_monitor(registry, model, mp.monitor)
    return out


# -- monitor data ------------------------------------------------------------------------------


def check_monitor(registry: Registry, model: str, monitor: MonitorConfig) -> list[Check]:
    """Each data source of the monitor is readable; the columns the monitor names are in it."""
    from bot.monitoring import datasets
    from bot.registry.gateway import RegistryError

    name = f"monitor {model}"
    key = f"[models.{model}.monitor]"
    holder = datasets.Holder(registry, model, monitor.alias)
    try:
        held = registry.alias_holder(model, monitor.alias)
    except RegistryError as exc:
        return [failed(name, str(exc), "see the MLflow line above")]
    if held is None:
        return [
            failed(
                name,
                f"alias @{monitor.alias} (whose run holds `mlflow-artifact:` files) is not set",
                f"promote a version to @{monitor.alias}, or set `alias` in {key}",
            )
        ]
    frames = {}
    out = []
    for role, uri in (("reference", monitor.reference), ("current", monitor.current)):
        try:
            data = datasets.load(uri, holder=holder)
        except (datasets.DatasetError, RegistryError) as exc:
            out.append(
                failed(
                    f"{name} {role}", str(exc), f"make `{uri}` readable, or set `{role}` in {key}"
                )
            )
            continue
        frames[role] = set(data.frame.columns)
        out.append(
            passed(f"{name} {role}", f"{data.uri}: {data.rows:,} rows, {len(frames[role])} columns")
        )
    if "current" in frames:
        out.append(_columns(name, key, monitor, frames))
    return out


def _columns(name: str, key: str, monitor: MonitorConfig, frames: dict[str, set[str]]) -> Check:
    """The target, prediction and timestamp columns in the current data, and each feature
    override's column in both data sets."""
    wanted = {
        "target": monitor.target,
        "prediction": monitor.prediction,
        "timestamp": monitor.timestamp,
    }
    missing = [
        f"{field} `{column}` not in current"
        for field, column in wanted.items()
        if column and column not in frames["current"]
    ]
    for feature in sorted(monitor.features):
        for role, columns in frames.items():
            if feature not in columns:
                missing.append(f"features.{feature} not in {role}")
    if missing:
        return failed(
            f"{name} columns",
            "; ".join(missing),
            f"add the columns to the data, or correct the column names in {key}",
        )
    named = [f"{f} `{c}`" for f, c in wanted.items() if c] + [
        f"features.{f}" for f in sorted(monitor.features)
    ]
    return passed(f"{name} columns", ", ".join(named) or "no columns named by the monitor")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return redact(text.splitlines()[0][:300] if text else type(exc).__name__)
