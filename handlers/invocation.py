"""What a subcommand receives, and the error for wrong arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient

from bot.approvals import ApprovalService
from bot.commands import Parsed
from bot.render import Reply
from bot.runtime import Runtime


class UsageError(Exception):
    """Wrong arguments: answered with the message and the subcommand's usage."""

    def __init__(self, message: str, sub: str) -> None:
        super().__init__(message)
        self.sub = sub


@dataclass
class Invocation:
    """One `/mlops` call: who, where, what, and the parts to act with."""

    rt: Runtime
    svc: ApprovalService
    parsed: Parsed
    user: str
    channel: str
    client: WebClient

    @property
    def words(self) -> list[str]:
        return self.parsed.words()


Subcommand = Callable[[Invocation], Reply]
