"""The policy file (TOML, SPEC §3): approvers, gates, monitors. Never read from MLflow tags."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import Settings
from bot.policy.gates import Gate, GateSyntaxError, parse_gate

_SLACK_PRINCIPAL = re.compile(r"^[UWS][A-Z0-9_]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9_]{2,}$")
_SHARED_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")  # a channel many people see, not a DM
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,48}$")  # `pipeline:<name>` fits an actor (64)


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names file, key and value."""


def _check_principals(values: list[str]) -> list[str]:
    bad = [v for v in values if not _SLACK_PRINCIPAL.match(v)]
    if bad:
        raise ValueError(f"not Slack user (U…/W…) or user-group (S…) IDs: {bad}")
    return values


def _check_gates(values: list[str]) -> list[str]:
    for text in values:
        try:
            parse_gate(text)
        except GateSyntaxError as exc:
            raise ValueError(str(exc)) from None
    return values


def is_channel_id(value: str) -> bool:
    """A Slack channel ID (C… public, G… private); not a DM, a name or a user."""
    return bool(_SHARED_CHANNEL.match(value))


def check_hook_url(value: str) -> str:
    """An absolute http(s) URL with a host, or ValueError naming what is wrong with it."""
    parsed = urlsplit(value)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise ValueError(f"must be an absolute http(s) URL: {value!r}")
    if parsed.username or parsed.password:
        raise ValueError(f"must not carry credentials (use secret_env): {value!r}")
    return value


def check_cron(expr: str) -> str:
    """Validate a 5-field crontab expression; raise ValueError naming the problem."""
    from apscheduler.triggers.cron import CronTrigger

    if len(expr.split()) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields: minute hour day month weekday")
    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"cron {expr!r}: {exc}") from None
    return expr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureOverrideConfig(_Strict):
    method: Literal["ks", "wasserstein", "psi", "chisquare", "jensenshannon"] | None = None
    threshold: float | None = Field(default=None, gt=0)


class MonitorConfig(_Strict):
    reference: str = "mlflow-artifact:reference.parquet"
    current: str
    schedule: str | None = None
    channel: str | None = None
    alias: str = "champion"
    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    timestamp: str | None = None
    window: str = "1D"
    min_window_rows: int = Field(default=30, ge=1)
    retrain_url: str | None = None
    correction: Literal["bh", "none"] = "bh"  # "none": raw p-values, Evidently's verdicts
    # where drift statistics are computed (bot.monitoring.drift.engines.EngineKind)
    engine: Literal["auto", "numpy", "duckdb", "spark"] = "auto"
    degradation_threshold: float = Field(default=0.05, ge=0)
    features: dict[str, FeatureOverrideConfig] = Field(default_factory=dict)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value) if value is not None else None

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL.match(value):
            raise ValueError(f"not a Slack channel ID (C…/G…): {value!r}")
        return value

    @field_validator("retrain_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"retrain_url must be an http(s) URL: {value!r}")
        return value


class DefaultsConfig(_Strict):
    approvers: list[str] | None = None
    required_approvals: int | None = Field(default=None, ge=1, le=20)
    protected_aliases: list[str] | None = None
    request_ttl_hours: float | None = Field(default=None, gt=0)
    gates: list[str] = Field(default_factory=list)

    @field_validator("gates")
    @classmethod
    def _gates(cls, value: list[str]) -> list[str]:
        return _check_gates(value)

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: list[str] | None) -> list[str] | None:
        return _check_principals(value) if value is not None else None


class DeployFormat(StrEnum):
    """The body a deploy hook is sent: the bot's own JSON, or GitHub's repository_dispatch."""

    STANDARD = "standard"
    GITHUB_DISPATCH = "github_dispatch"


class DeployHookConfig(_Strict):
    """`[[models.<name>.deploy]]`: a signed POST after a promotion of one of `aliases` applies."""

    url: str
    aliases: list[str] = Field(min_length=1)
    secret_env: str
    format: DeployFormat = DeployFormat.STANDARD

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_hook_url(value)

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"not an environment variable name: {value!r}")
        return value


class ModelPolicyConfig(DefaultsConfig):
    """A model's section: the defaults' keys, plus owners, a monitor and deploy hooks."""

    owners: list[str] = Field(default_factory=list)
    monitor: MonitorConfig | None = None
    deploy: list[DeployHookConfig] = Field(default_factory=list)

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        return _check_principals(value)


class UnprotectedAliases(StrEnum):
    """Who may move an alias that needs no approval."""

    OWNERS_AND_APPROVERS = "owners_and_approvers"
    ANYONE = "anyone"


class CommandRule(_Strict):
    """Who may run one `/mlops` subcommand: user IDs and user groups (S…); empty: anyone."""

    users: list[str] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        return _check_principals(value)


class ChannelRule(_Strict):
    """Which `/mlops` subcommands may run in one channel (`help` always may)."""

    commands: list[str]


class PermissionsConfig(_Strict):
    """`[permissions]`: limits on schedules and retraining, and optional command rules."""

    schedule_min_interval_minutes: int = Field(default=60, ge=1, le=10080)
    schedules_per_model: int = Field(default=5, ge=0, le=100)
    retrain_cooldown_minutes: int = Field(default=60, ge=0, le=10080)
    unprotected_aliases: UnprotectedAliases = UnprotectedAliases.OWNERS_AND_APPROVERS
    commands: dict[str, CommandRule] = Field(default_factory=dict)
    channels: dict[str, ChannelRule] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, ChannelRule]) -> dict[str, ChannelRule]:
        bad = [c for c in value if not is_channel_id(c)]
        if bad:
            raise ValueError(f"not Slack channel IDs (C…/G…): {bad}")
        return value


class PipelineConfig(_Strict):
    """`[pipelines.<name>]`: a CI pipeline that may open requests through the HTTP API."""

    token_sha256: str
    models: list[str] = Field(min_length=1)
    aliases: list[str] = Field(min_length=1)
    channel: str

    @field_validator("token_sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not _SHA256_HEX.match(value):
            raise ValueError("must be the SHA-256 of the token as 64 hex digits")
        return value.lower()

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not is_channel_id(value):
            raise ValueError(f"not a Slack channel ID (C…/G…): {value!r}")
        return value


class PolicyFile(_Strict):
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    models: dict[str, ModelPolicyConfig] = Field(default_factory=dict)
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)

    @field_validator("pipelines")
    @classmethod
    def _names(cls, value: dict[str, PipelineConfig]) -> dict[str, PipelineConfig]:
        bad = [n for n in value if not _PIPELINE_NAME.match(n)]
        if bad:
            raise ValueError(f"pipeline names are letters, digits, `_`, `-` and `.`: {bad}")
        digests = [p.token_sha256 for p in value.values()]
        if len(set(digests)) != len(digests):
            raise ValueError("two pipelines have the same token_sha256")
        return value


@dataclass(frozen=True)
class ModelPolicy:
    """The effective policy of one model: file entry over file defaults over env defaults."""

    model: str
    approvers: tuple[str, ...]
    required_approvals: int
    protected_aliases: frozenset[str]
    request_ttl_hours: float
    gates: tuple[Gate, ...]
    owners: tuple[str, ...] = ()
    monitor: MonitorConfig | None = None
    deploy: tuple[DeployHookConfig, ...] = ()

    def is_protected(self, alias: str) -> bool:
        """Protected, whatever the case: MySQL, MariaDB and SQL Server stores compare aliases
        case-insensitively and Databricks lowercases them, so `Champion` may be `champion`."""
        return alias.casefold() in {a.casefold() for a in self.protected_aliases}

    def lookalike(self, alias: str) -> str | None:
        """The protected alias that `alias` imitates (the same but for case or for `_`/`-`
        around it, like `Champion` or `champion_`), or None when it is none or exactly one."""
        if alias in self.protected_aliases:
            return None
        bare = alias.strip("_-").casefold()
        for protected in sorted(self.protected_aliases):
            if protected.strip("_-").casefold() == bare:
                return protected
        return None


@dataclass
class Policy:
    """The loaded policy file plus env defaults."""

    file: PolicyFile = field(default_factory=PolicyFile)
    source: Path | None = None
    env_approvers: tuple[str, ...] = ()
    env_required_approvals: int = 1
    env_protected_aliases: tuple[str, ...] = ("champion", "production")
    env_ttl_hours: float = 72

    def for_model(self, model: str) -> ModelPolicy:
        d = self.file.defaults
        m = self.file.models.get(model, ModelPolicyConfig())
        approvers = _first(m.approvers, d.approvers, list(self.env_approvers))
        return ModelPolicy(
            model=model,
            approvers=tuple(approvers),
            required_approvals=_first(
                m.required_approvals, d.required_approvals, self.env_required_approvals
            ),
            protected_aliases=frozenset(
                _first(m.protected_aliases, d.protected_aliases, list(self.env_protected_aliases))
            ),
            request_ttl_hours=_first(m.request_ttl_hours, d.request_ttl_hours, self.env_ttl_hours),
            gates=tuple(parse_gate(g) for g in (m.gates or d.gates)),
            owners=tuple(m.owners),
            monitor=m.monitor,
            deploy=tuple(m.deploy),
        )

    def monitors(self) -> dict[str, MonitorConfig]:
        return {name: m.monitor for name, m in self.file.models.items() if m.monitor is not None}


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def load_policy(settings: Settings) -> Policy:
    """Load and validate the policy file named by the settings (or none) with env defaults."""
    path = settings.policy_path
    policy_file = read_policy_file(path) if path else PolicyFile()
    return Policy(
        file=policy_file,
        source=path,
        env_approvers=tuple(settings.mlops_bot_approvers),
        env_required_approvals=settings.mlops_bot_required_approvals,
        env_protected_aliases=tuple(settings.mlops_bot_protected_aliases),
        env_ttl_hours=settings.mlops_bot_request_ttl_hours,
    )


def read_policy_file(path: Path) -> PolicyFile:
    """Parse and validate a TOML policy file; one PolicyError naming file, key and value."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission
        raise PolicyError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from None
    try:
        return PolicyFile.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_describe(path, exc)) from None


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (value: {value!r})"
        lines.append(f"{path}: {key}: {msg}{shown}")
    return "\n".join(lines)
