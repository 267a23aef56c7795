"""Building the runtime from settings: load the policy, connect, migrate, sync file monitors."""

from __future__ import annotations

from bot import audit
from bot.clock import SYSTEM, Clock
from bot.config import Settings, secret
from bot.monitoring.schedules import sync_file_monitors
from bot.policy.file import load_policy
from bot.registry.gateway import Registry
from bot.runtime import Runtime
from bot.storage import db


def build_runtime(
    settings: Settings | None = None, *, migrate: bool = True, clock: Clock = SYSTEM
) -> Runtime:
    """Load settings and policy (PolicyError on a bad file), connect, migrate."""
    settings = settings or Settings()
    settings.ensure_local_dirs()
    policy = load_policy(settings)
    engine = db.make_engine(settings.database_url)
    audit.use_key(engine, secret(settings.mlops_bot_audit_key))
    if migrate:
        db.upgrade(engine)
    registry = Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    rt = Runtime(settings=settings, policy=policy, engine=engine, registry=registry, clock=clock)
    if migrate:
        sync_file_monitors(rt)  # the policy file's monitors, as schedules every replica sees
    return rt
