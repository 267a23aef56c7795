"""Who may do what: every authorisation decision of the bot goes through `Permissions.can`.

The rules read the effective policy of the model (approvers, owners) and resolve Slack user
groups through a `Directory`. A refusal carries the sentence shown to the user. Checks on the
state of a thing (a request already decided, expired…) belong to its service, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.policy.file import ModelPolicy, Policy


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    OVERRIDE = "override"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    SCHEDULE_ADD = "schedule_add"
    SCHEDULE_REMOVE = "schedule_remove"
    RETRAIN = "retrain"


# Deciding on a request: approving, rejecting, overriding failed gates.
DECISIONS = frozenset({Action.APPROVE, Action.REJECT, Action.OVERRIDE})


@dataclass(frozen=True)
class Refusal:
    """Why `action` is not allowed; `reason` is shown to the user."""

    action: Action
    reason: str

    def __str__(self) -> str:
        return self.reason


class Directory(Protocol):
    """Resolves Slack user groups to their members."""

    def group_members(self, group_id: str) -> set[str]: ...


@dataclass(frozen=True)
class _Ask:
    """One question put to the rules."""

    user: str
    action: Action
    policy: ModelPolicy
    channel: str | None
    requester: str | None


class Permissions:
    """The rules, over the runtime's policy and a user-group directory."""

    def __init__(self, policy: Policy, directory: Directory) -> None:
        self.policy = policy
        self.directory = directory

    def can(
        self,
        user: str,
        action: Action,
        model: str,
        channel: str | None = None,
        *,
        requester: str | None = None,
    ) -> Refusal | None:
        """None when `user` may take `action` on `model` (in `channel`), else the refusal.

        `requester` is the person who opened the request being decided on (decisions only).
        """
        ask = _Ask(user, action, self.policy.for_model(model), channel, requester)
        return _RULES[action](self, ask)

    def is_approver(self, user: str, policy: ModelPolicy) -> bool:
        """Named in the model's approvers, or a member of a user group (S…) named there."""
        if user in policy.approvers:
            return True
        for principal in policy.approvers:
            if principal.startswith("S") and user in self.directory.group_members(principal):
                return True
        return False

    # -- the rules ----------------------------------------------------------------------------

    def _decide(self, ask: _Ask) -> Refusal | None:
        """Approvers decide, and never on their own request."""
        if ask.requester is not None and ask.user == ask.requester:
            return Refusal(ask.action, "You can't approve or reject your own request.")
        if not self.is_approver(ask.user, ask.policy):
            return Refusal(ask.action, f"You are not an approver of `{ask.policy.model}`.")
        return None

    def _anyone(self, ask: _Ask) -> Refusal | None:
        """Anyone in the workspace may ask for a promotion or a rollback (approvers then decide
        on protected aliases) and may add or remove a schedule.

        Schedules: this keeps today's behaviour; restricting them (to owners, approvers or
        channel members) is the work of the next security issue, here and nowhere else.
        """
        return None

    def _retrain(self, ask: _Ask) -> Refusal | None:
        """Owners and approvers of the model."""
        if ask.user in ask.policy.owners or self.is_approver(ask.user, ask.policy):
            return None
        return Refusal(
            ask.action, f"Only owners and approvers of `{ask.policy.model}` can trigger retraining."
        )


_RULES: dict[Action, Callable[[Permissions, _Ask], Refusal | None]] = {
    Action.APPROVE: Permissions._decide,
    Action.REJECT: Permissions._decide,
    Action.OVERRIDE: Permissions._decide,
    Action.PROMOTE: Permissions._anyone,
    Action.ROLLBACK: Permissions._anyone,
    Action.SCHEDULE_ADD: Permissions._anyone,
    Action.SCHEDULE_REMOVE: Permissions._anyone,
    Action.RETRAIN: Permissions._retrain,
}
