"""SQLModel tables of the bot's own database (the schema lives in Alembic migrations)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, LargeBinary, Text
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


class RequestStatus(StrEnum):
    """A promotion request's status; it changes only by compare-and-set (ApprovalStore)."""

    PENDING = "pending"
    APPLYING = "applying"  # claimed: the alias is being moved
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STALE = "stale"  # the alias moved elsewhere since the request: nothing moved
    REFUSED = "refused"  # failed the checks at the moment of the move: nothing moved


class RequestKind(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class PromotionRequest(SQLModel, table=True):
    """A request to move an alias to a version; its status changes only by compare-and-set."""

    __tablename__ = "promotion_request"
    __table_args__ = (Index("ix_promotion_request_status", "status", "expires_at"),)

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(default=RequestKind.PROMOTE, max_length=16)
    model_name: str = Field(max_length=256)
    version: str = Field(max_length=32)
    alias: str = Field(max_length=256)
    run_id: str | None = Field(default=None, max_length=64)
    previous_version: str | None = Field(default=None, max_length=32)  # holder at request time
    requester: str = Field(max_length=64)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    required_approvals: int
    gates_passed: bool = True
    overridden_by: str | None = Field(default=None, max_length=64)
    # candidate/holder metrics and gate results at request time, so cards render without MLflow
    snapshot: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default=RequestStatus.PENDING, max_length=16)
    status_detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    decided_by: str | None = Field(default=None, max_length=64)


class ApprovalVote(SQLModel, table=True):
    """One approval; the primary key makes a second vote by the same person impossible."""

    __tablename__ = "approval_vote"

    request_id: str = Field(primary_key=True, max_length=32, foreign_key="promotion_request.id")
    voter: str = Field(primary_key=True, max_length=64)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    override: bool = False


class ReportSchedule(SQLModel, table=True):
    """A scheduled report: from the policy file (source "file") or made in Slack ("slack")."""

    __tablename__ = "report_schedule"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # a ReportKind: drift | perf
    model_name: str = Field(max_length=256)
    alias: str | None = Field(default=None, max_length=256)
    cron: str = Field(max_length=128)
    channel: str = Field(max_length=32)
    source: str = Field(max_length=8)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ScheduleFire(SQLModel, table=True):
    """One claimed fire of a schedule: the primary key lets exactly one replica post it."""

    __tablename__ = "schedule_fire"

    schedule_id: str = Field(primary_key=True, max_length=64)
    fire_time: datetime = Field(
        sa_column=Column(DateTime(timezone=True), primary_key=True, nullable=False)
    )
    claimed_by: str = Field(max_length=128)
    claimed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReportRecord(SQLModel, table=True):
    """A posted report's JSON (aggregates only), for its buttons: details, retraining."""

    __tablename__ = "report_record"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=8)  # a ReportKind: drift | perf
    model_name: str | None = Field(default=None, max_length=256)
    body: str = Field(sa_column=Column(Text, nullable=False))  # a report document's JSON
    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReportChart(SQLModel, table=True):
    """A posted report's charts (PNG), in order, for its page (`GET /reports/<id>`)."""

    __tablename__ = "report_chart"

    record_id: str = Field(primary_key=True, max_length=32)  # a ReportRecord's id
    position: int = Field(primary_key=True)
    name: str = Field(max_length=128)
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """Delivery IDs already handled (MLflow webhooks; Slack events as `slack-event:<event_id>`).

    A replay or retry is acknowledged, not acted on.
    """

    __tablename__ = "webhook_delivery"

    delivery_id: str = Field(primary_key=True, max_length=128)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AliasState(SQLModel, table=True):
    """The last holder the bot saw of a protected alias (baseline, and warned-once marker)."""

    __tablename__ = "alias_state"

    model_name: str = Field(primary_key=True, max_length=256)
    alias: str = Field(primary_key=True, max_length=256)
    version: str | None = Field(default=None, max_length=32)
    seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReminderKind(StrEnum):
    """A message about a pending request, sent once: to approvers who have not voted (half
    its lifetime gone, one hour left), then to its requester and owners (expired)."""

    HALFWAY = "halfway"
    LAST_HOUR = "last_hour"
    EXPIRED = "expired"


class RequestReminder(SQLModel, table=True):
    """One claimed reminder: the primary key lets exactly one replica send it."""

    __tablename__ = "request_reminder"

    request_id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(primary_key=True, max_length=16)  # a ReminderKind
    claimed_by: str = Field(max_length=128)
    claimed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
