"""Delivery IDs already handled (MLflow webhooks, Slack events, signed slash commands): a
redelivery or a replay is not redone. Rows older than KEEP are pruned (a daily job): every
sender's replay window (5 minutes) is far shorter."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.clock import utcnow
from bot.storage import db
from bot.storage.tables import WebhookDelivery

KEEP = timedelta(days=1)


def first_delivery(engine: Engine, delivery_id: str) -> bool:
    """Remember a delivery ID; False when it was seen before (a replay or a retry)."""
    try:
        with db.session(engine, write=True) as s:
            s.add(WebhookDelivery(delivery_id=delivery_id[:128], received_at=utcnow()))
            s.commit()
        return True
    except IntegrityError:
        return False


def prune_deliveries(engine: Engine, now: datetime, keep: timedelta = KEEP) -> None:
    """Forget deliveries received more than `keep` before `now`."""
    with db.session(engine, write=True) as s:
        s.execute(delete(WebhookDelivery).where(col(WebhookDelivery.received_at) < now - keep))
        s.commit()
