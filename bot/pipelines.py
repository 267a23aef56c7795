"""Pipelines (CI jobs) asking for promotions over HTTP: who they are, what they may ask, how
often, and what they are told about a request (issue 16, `POST/GET /api/v1/promotions`).

Plain Python over the policy and the approval service; the HTTP routes and the card posting
live in handlers/api. A pipeline is `[pipelines.<name>]` in the policy: the SHA-256 of its
bearer token (the token itself is never stored), the models and aliases it may request and the
channel its cards go to. Its actor in the audit log is `pipeline:<name>`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.approvals.outcomes import RequestStatus
from bot.policy.file import PipelineConfig, Policy
from bot.storage.tables import ApprovalVote, PromotionRequest

ACTOR_PREFIX = "pipeline:"


class ApiState(StrEnum):
    """A request's state as the API reports it (stale and refused requests `failed`)."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


_STATES = {
    RequestStatus.PENDING: ApiState.PENDING,
    RequestStatus.APPLYING: ApiState.APPLYING,
    RequestStatus.APPLIED: ApiState.APPLIED,
    RequestStatus.REJECTED: ApiState.REJECTED,
    RequestStatus.EXPIRED: ApiState.EXPIRED,
    RequestStatus.STALE: ApiState.FAILED,
    RequestStatus.REFUSED: ApiState.FAILED,
}


class PromotionBody(BaseModel):
    """`POST /api/v1/promotions`: what a pipeline asks for."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model: str = Field(min_length=1, max_length=256)
    version: str = Field(min_length=1, max_length=32)
    alias: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=3, max_length=2000)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        """`3`, `"3"` or `"v3"`; never a bool (JSON `true` is no version)."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            value = value.strip().removeprefix("v")
            if not value.isdigit():
                raise ValueError("must be a version number like 3")
        return value

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        return value.removeprefix("@")


class BodyError(ValueError):
    """A body that is not a valid request; `field` names the first field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_body(raw: bytes) -> PromotionBody:
    """Validate a JSON body; BodyError naming the field (`body` for a non-object)."""
    try:
        return PromotionBody.model_validate_json(raw or b"null")
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            field, message = "body", "not valid JSON"
        elif err["type"] == "model_type":
            field, message = "body", "must be a JSON object with model, version, alias, reason"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required"
        raise BodyError(field, message) from None


@dataclass(frozen=True)
class Pipeline:
    """An authenticated pipeline."""

    name: str
    config: PipelineConfig

    @property
    def actor(self) -> str:
        return ACTOR_PREFIX + self.name

    def refusal(self, model: str, alias: str) -> str | None:
        """Why this pipeline may not request `alias` of `model`, or None."""
        if model not in self.config.models:
            return f"pipeline `{self.name}` may not request promotions of `{model[:100]}`"
        if alias not in self.config.aliases:
            return f"pipeline `{self.name}` may not request `@{alias[:100]}`"
        return None


def token_digest(token: str) -> str:
    """What `token_sha256` holds for a token: its SHA-256 as hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(policy: Policy, authorization: str | None) -> Pipeline | None:
    """The pipeline whose token is in `Authorization: Bearer <token>`, or None.

    Every configured digest is compared in constant time, so timing tells nothing about them.
    """
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    digest = token_digest(token)
    found = None
    for name, config in policy.file.pipelines.items():
        if hmac.compare_digest(digest, config.token_sha256):
            found = Pipeline(name, config)
    return found


class TokenBuckets:
    """Requests per key (a token's digest, or a client address for bad tokens).

    A small in-process token bucket, written here rather than taken from a library: it is a
    dozen lines, needs no store, and a per-replica limit is what it is for (a runaway CI loop
    must not flood a channel with cards or the audit log with refusals); replicas behind a load
    balancer each allow `rate`, which is fine for that.
    """

    def __init__(
        self, capacity: float, per_second: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.now = now
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """Spend one request of `key`'s budget; False when it is used up."""
        with self._lock:
            now = self.now()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.per_second)
            if len(self._buckets) > 10_000:  # many addresses: forget the full buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.capacity}
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True


def request_view(req: PromotionRequest, votes: list[ApprovalVote]) -> dict[str, Any]:
    """`GET /api/v1/promotions/{id}`: id, state, votes, outcome (None until decided)."""
    state = _STATES.get(RequestStatus(req.status), ApiState.FAILED)
    outcome: str | None = None
    if state == ApiState.APPLIED:
        was = f"v{req.previous_version}" if req.previous_version else "unset"
        outcome = f"@{req.alias} of {req.model_name} moved to v{req.version} (was {was})"
    elif state != ApiState.PENDING or req.status_detail:
        outcome = req.status_detail or None
    if state == ApiState.EXPIRED and not outcome:
        outcome = "expired without enough approvals"
    if state == ApiState.APPLYING:
        outcome = None
    return {
        "id": req.id,
        "state": str(state),
        "model": req.model_name,
        "version": req.version,
        "alias": req.alias,
        "votes": [
            {"voter": v.voter, "at": v.at.isoformat(), "override": v.override} for v in votes
        ],
        "outcome": outcome,
    }
