"""SQLModel tables of the bot's own database (the schema lives in Alembic migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


class AuditEvent(SQLModel, table=True):
    """One row of the append-only, hash-chained audit log (SPEC §6)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_model", "model_name", "id"),
        Index("ix_audit_event_request", "request_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    model_name: str | None = Field(default=None, max_length=256)
    model_version: str | None = Field(default=None, max_length=32)
    alias: str | None = Field(default=None, max_length=256)
    run_id: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
