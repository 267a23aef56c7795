"""The bot's runtime: settings, policy, database and MLflow gateway, built once per process."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.config import Settings
from bot.policy.file import Policy, load_policy
from bot.registry.gateway import Registry, RegistryError
from bot.storage import db
from handlers.blocks import HealthItem

if TYPE_CHECKING:
    from bot.approvals.service import ApprovalService
    from bot.monitoring.runner import ReportRunner

log = logging.getLogger(__name__)
HEALTH_TTL = 5.0  # seconds a health check is reused


@dataclass
class Runtime:
    """What every listener, job and CLI command works with."""

    settings: Settings
    policy: Policy
    engine: Engine
    registry: Registry
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    scheduler: Any | None = None  # jobs.scheduler.Scheduler once started
    approvals: ApprovalService | None = None  # wired by bot.app.build_app (needs a Slack client)

    reports: ReportRunner | None = None  # wired by bot.app.build_app
    inline_work: bool = False  # the local shell: listeners finish before dispatch returns
    _health: tuple[float, list[HealthItem]] | None = field(default=None, repr=False)
    _health_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def require_reports(self) -> ReportRunner:
        if self.reports is None:
            raise RuntimeError("the report runner is wired by build_app")
        return self.reports

    def require_approvals(self) -> ApprovalService:
        if self.approvals is None:
            raise RuntimeError("the approval service is wired by build_app")
        return self.approvals

    def warm_up(self) -> None:
        """Before serving: import MLflow once, then move everything alive to the GC's
        permanent generation.

        Otherwise the first command pays MLflow's import (a second or more), and the
        scheduler's first jobs would import it from several threads at once.
        """
        import gc

        try:
            self.registry.client  # noqa: B018  (the import happens on first use)
        except Exception:  # a bad URI is reported by the first call that needs MLflow
            log.warning("MLflow client could not be created at start", exc_info=True)
        gc.collect()
        gc.freeze()

    def health(self) -> list[HealthItem]:
        """Database, MLflow and scheduler health, each with a short detail.

        One check at a time, and its answer is reused for HEALTH_TTL seconds: a burst of
        `/mlops status` costs one database ping and one MLflow call, not one per request
        (each MLflow call is CPU in this process, which the acks of the burst need).
        """
        with self._health_lock:
            if self._health is not None and time.monotonic() - self._health[0] < HEALTH_TTL:
                return self._health[1]
            items = self._check_health()
            self._health = (time.monotonic(), items)
            return items

    def _check_health(self) -> list[HealthItem]:
        items = []
        try:
            db.ping(self.engine)
            items.append(HealthItem("database", True, self.engine.dialect.name))
        except db.DatabaseError as exc:
            items.append(HealthItem("database", False, str(exc)))
        try:
            self.registry.ping()
            items.append(HealthItem("mlflow", True, _redact_uri(self.registry.tracking_uri)))
        except RegistryError as exc:
            items.append(HealthItem("mlflow", False, str(exc)))
        if self.scheduler is None:
            items.append(HealthItem("scheduler", True, "not running in this process"))
        else:
            items.append(HealthItem("scheduler", *self.scheduler.state()))
        return items


def build_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    """Load settings and policy (PolicyError on a bad file), connect, migrate."""
    settings = settings or Settings()
    settings.ensure_local_dirs()
    policy = load_policy(settings)
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.upgrade(engine)
    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    rt = Runtime(settings=settings, policy=policy, engine=engine, registry=registry)
    if migrate:
        from bot.monitoring.schedules import sync_file_monitors

        sync_file_monitors(rt)  # the policy file's monitors, as schedules every replica sees
    return rt


def _redact_uri(uri: str) -> str:
    """A tracking URI without credentials."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri
