"""The bot's runtime: settings, policy, database, MLflow gateway and clock, built once per process.

Frozen: what a process works with is decided when it starts (`build_runtime`), and services
that need more (a Slack client, a scheduler) are built beside it by the composition root and
get what they need passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.clock import SYSTEM, Clock
from bot.config import Settings
from bot.policy.file import Policy
from bot.registry.gateway import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What every listener, job and CLI command works with."""

    settings: Settings
    policy: Policy
    engine: Engine
    registry: Registry
    clock: Clock = field(default=SYSTEM)

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
