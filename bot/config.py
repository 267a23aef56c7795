"""Settings from the environment and `.env` (SPEC §3)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path(".mlops-bot")
DEFAULT_POLICY_FILE = Path("mlops-bot.toml")

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9_]{2,}$")


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every variable of SPEC §3; names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    mlflow_tracking_uri: str = f"sqlite:///{DATA_DIR}/mlflow.db"
    mlflow_ui_url: str | None = None
    database_url: str = f"sqlite:///{DATA_DIR}/mlops_bot.db"

    mlops_bot_config: Path | None = None
    mlops_bot_data_dir: Path = DATA_DIR
    mlops_bot_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mlops_bot_required_approvals: int = Field(default=1, ge=1, le=20)
    mlops_bot_protected_aliases: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["champion", "production"]
    )
    mlops_bot_report_channel: str | None = None
    mlops_bot_request_ttl_hours: float = Field(default=72, gt=0)
    mlflow_webhook_secret: SecretStr | None = None
    mlops_bot_reconcile_seconds: int = Field(default=300, ge=5)
    # A request left `applying` this long after its last vote is finished by the recovery job
    # (a process died between the decision and the alias move).
    mlops_bot_recover_after_seconds: int = Field(default=60, ge=1)
    # How often the recovery and expiry jobs look (they also run once at start).
    mlops_bot_recover_interval_seconds: int = Field(default=60, ge=1)
    mlops_bot_timezone: str = "UTC"
    mlops_bot_log_format: Literal["text", "json"] = "text"
    mlops_bot_slack_timeout_seconds: int = Field(default=10, ge=1, le=60)
    mlops_bot_outbound_secret: SecretStr | None = None
    # HMAC key of the audit chain, kept outside the database; where its head is anchored.
    mlops_bot_audit_key: SecretStr | None = None
    mlops_bot_audit_channel: str | None = None
    # Reports: how many may wait or run at once, in all, per user and per model; identical
    # queued requests are merged. The worker process is limited to this much memory (0: none).
    mlops_bot_report_queue_limit: int = Field(default=16, ge=1)
    mlops_bot_report_user_limit: int = Field(default=2, ge=1)
    mlops_bot_report_model_limit: int = Field(default=4, ge=1)
    mlops_bot_report_worker_memory_mb: int = Field(default=4096, ge=0)
    # A report still running this long posts a placeholder that shows its progress (0: always).
    mlops_bot_report_progress_after_seconds: float = Field(default=3.0, ge=0)
    # Caps on every data source, checked before the full load.
    mlops_bot_report_max_mb: int = Field(default=512, ge=1)
    mlops_bot_report_max_rows: int = Field(default=10_000_000, ge=1)
    mlops_bot_report_max_columns: int = Field(default=2000, ge=1)
    # The DuckDB drift engine's memory limit (DuckDB syntax: "2GB", "512MB"); it spills to
    # <data dir>/duckdb-spill beyond it.
    mlops_bot_duckdb_memory_limit: str = Field(
        default="2GB", pattern=r"^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$"
    )
    # The Spark drift engine's master: "local[2]", "spark://host:7077", "yarn", or a Spark
    # Connect URL "sc://host:15002".
    mlops_bot_spark_master: str = Field(default="local[2]", min_length=1)
    # The pipeline client (`mlops-bot request …`): the bot's base URL and a pipeline's token.
    mlops_bot_url: str | None = None
    mlops_bot_api_token: SecretStr | None = None
    # Report pages: the bot's public base URL (links are left out when unset), the HMAC key of
    # the links (derived from SLACK_SIGNING_SECRET when unset) and how long a link works.
    mlops_bot_public_url: str | None = None
    mlops_bot_report_link_secret: SecretStr | None = None
    mlops_bot_report_link_ttl_hours: float = Field(default=720, gt=0, le=24 * 366)

    @field_validator("mlops_bot_approvers", "mlops_bot_protected_aliases", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("mlops_bot_approvers")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _SLACK_ID.match(v)]
        if bad:
            raise ValueError(f"not Slack user (U…/W…) or user-group (S…) IDs: {', '.join(bad)}")
        return value

    @field_validator("mlops_bot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("mlops_bot_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(f"{value!r} is not a base URL like https://mlops-bot.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _stores_in_data_dir(self) -> Settings:
        """The SQLite stores, when their URLs are not set, are files of MLOPS_BOT_DATA_DIR."""
        if "mlflow_tracking_uri" not in self.model_fields_set:
            self.mlflow_tracking_uri = f"sqlite:///{self.mlops_bot_data_dir}/mlflow.db"
        if "database_url" not in self.model_fields_set:
            self.database_url = f"sqlite:///{self.mlops_bot_data_dir}/mlops_bot.db"
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def has_slack_tokens(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None and self.slack_bot_token is not None

    @property
    def policy_path(self) -> Path | None:
        """The policy file: MLOPS_BOT_CONFIG, else `mlops-bot.toml` when present."""
        if self.mlops_bot_config is not None:
            return self.mlops_bot_config
        return DEFAULT_POLICY_FILE if DEFAULT_POLICY_FILE.exists() else None

    @cached_property
    def data_dir(self) -> Path:
        """The local data dir, created on first use."""
        self.mlops_bot_data_dir.mkdir(parents=True, exist_ok=True)
        return self.mlops_bot_data_dir

    def ensure_local_dirs(self) -> None:
        """Create the directories of sqlite URLs (both default to the data dir)."""
        for url in (self.database_url, self.mlflow_tracking_uri):
            path = sqlite_path(url)
            if path is not None and path.parent != Path(""):
                path.parent.mkdir(parents=True, exist_ok=True)


def unknown_settings(environ: Mapping[str, str], env_file: Path | None = Path(".env")) -> list[str]:
    """One warning per `MLOPS_BOT_*` variable or `.env` key that is no setting, naming the
    closest known one (MLOPS_BOT_TEST_* variables belong to the test suite)."""
    known = [name.upper() for name in Settings.model_fields]
    found = [
        (key, "environment variable")
        for key in environ
        if key.upper().startswith("MLOPS_BOT_") and not key.upper().startswith("MLOPS_BOT_TEST_")
    ]
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        found += [(key, f"key in {env_file}") for key in dotenv_values(env_file)]
    warnings = []
    for key, where in found:
        if key.upper() in known:
            continue
        close = difflib.get_close_matches(key.upper(), known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"unknown {where} {key} is ignored{hint}")
    return warnings


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///…` URL, or None for other URLs and in-memory databases."""
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///") :].split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def secret(value: SecretStr | None) -> str | None:
    """The plain value of an optional secret."""
    return value.get_secret_value() if value is not None else None
