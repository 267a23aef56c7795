"""Delivery IDs already handled (MLflow webhooks, Slack events): a redelivery is not redone."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.storage import db
from bot.storage.tables import WebhookDelivery


def first_delivery(engine: Engine, delivery_id: str) -> bool:
    """Remember a delivery ID; False when it was seen before (a replay or a retry)."""
    try:
        with db.session(engine, write=True) as s:
            s.add(WebhookDelivery(delivery_id=delivery_id[:128], received_at=utcnow()))
            s.commit()
        return True
    except IntegrityError:
        return False
