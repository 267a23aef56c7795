"""Health of the bot's parts (database, MLflow, scheduler), for `/mlops status` and `/healthz`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from bot.redact import redact
from bot.registry.gateway import Registry, RegistryError
from bot.storage import db

HEALTH_TTL = 5.0  # seconds a health check is reused


@dataclass(frozen=True)
class HealthItem:
    name: str
    ok: bool
    detail: str


SchedulerState = Callable[[], tuple[bool, str]]


class Health:
    """Checks each part, one check at a time, and reuses the answer for HEALTH_TTL seconds.

    A burst of `/mlops status` costs one database ping and one MLflow call, not one per request
    (each MLflow call is CPU in this process, which the acks of the burst need).
    """

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        scheduler: SchedulerState | None = None,
        reports: SchedulerState | None = None,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._scheduler = scheduler
        self._reports = reports  # the report worker's state (ReportRunner.state)
        self._cached: tuple[float, list[HealthItem]] | None = None
        self._lock = threading.Lock()

    def check(self) -> list[HealthItem]:
        """Database, MLflow and scheduler health, each with a short detail."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < HEALTH_TTL:
                return self._cached[1]
            items = self._check()
            self._cached = (time.monotonic(), items)
            return items

    def _check(self) -> list[HealthItem]:
        items = []
        try:
            db.ping(self._engine)
            items.append(HealthItem("database", True, self._engine.dialect.name))
        except db.DatabaseError as exc:
            items.append(HealthItem("database", False, redact(exc)))
        try:
            self._registry.ping()
            items.append(HealthItem("mlflow", True, redact(self._registry.tracking_uri)))
        except RegistryError as exc:
            items.append(HealthItem("mlflow", False, redact(exc)))
        if self._scheduler is None:
            items.append(HealthItem("scheduler", True, "not running in this process"))
        else:
            items.append(HealthItem("scheduler", *self._scheduler()))
        if self._reports is not None:
            items.append(HealthItem("report worker", *self._reports()))
        return items
