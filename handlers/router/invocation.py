"""What a subcommand receives, and the error for wrong arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.approvals.service import ApprovalService
from bot.runtime import Runtime
from handlers.blocks import Reply
from handlers.context import Services
from handlers.router.parsing import Parsed


class UsageError(Exception):
    """Wrong arguments: answered with the message and the subcommand's usage."""

    def __init__(self, message: str, sub: str) -> None:
        super().__init__(message)
        self.sub = sub


@dataclass
class Invocation:
    """One `/mlops` call: who, where, what, and the parts to act with."""

    services: Services
    parsed: Parsed
    user: str
    channel: str
    client: WebClient
    trigger_id: str = ""  # for a modal the subcommand opens (views.open)
    deferred: list[Callable[[], object]] = field(default_factory=list)

    def defer(self, fn: Callable[[], object]) -> None:
        """Run `fn` after the reply was sent (slow work that reports on its own)."""
        self.deferred.append(fn)

    @property
    def rt(self) -> Runtime:
        return self.services.rt

    @property
    def svc(self) -> ApprovalService:
        return self.services.approvals

    @property
    def words(self) -> list[str]:
        return self.parsed.words()


Subcommand = Callable[[Invocation], Reply]
