"""Who may do what: every authorisation decision of the bot goes through `Permissions.can`.

The rules read the effective policy of the model (approvers, owners) and resolve Slack user
groups through a `Directory`. A refusal carries the sentence shown to the user. Checks on the
state of a thing (a request already decided, expired…) belong to its service, not here.
`may_run` applies the policy's optional per-command and per-channel rules (`[permissions]`) to
`/mlops` subcommands; `limits` are that section's numbers (schedule interval and cap, retraining
cool-down), which the schedule and retraining code enforce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.policy.file import (
    ModelPolicy,
    PermissionsConfig,
    Policy,
    UnprotectedAliases,
    is_channel_id,
)


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    OVERRIDE = "override"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    SCHEDULE_ADD = "schedule_add"
    SCHEDULE_REMOVE = "schedule_remove"
    RETRAIN = "retrain"
    MOVE_UNPROTECTED = "move_unprotected"  # set an alias that needs no approval, at once
    COMMAND = "command"  # run a `/mlops` subcommand: see `Permissions.may_run`


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

    @property
    def limits(self) -> PermissionsConfig:
        """The policy's `[permissions]` numbers and rules."""
        return self.policy.file.permissions

    def can_somewhere(self, user: str, action: Action, channel: str | None = None) -> bool:
        """`user` may take `action` on some model: one of the policy file, or any other (whose
        policy is the defaults). For listing what a user may run, not for deciding."""
        models = [*self.policy.file.models, ""]
        return any(self.can(user, action, m, channel) is None for m in models)

    def may_run(self, user: str, command: str, channel: str | None) -> Refusal | None:
        """The `[permissions]` rules of one `/mlops` subcommand: who may run it and in which
        channels. None when nothing in the policy restricts it. `help` is always allowed."""
        if command == "help":
            return None
        rules = self.limits
        rule_here = rules.channels.get(channel) if channel is not None else None
        if rule_here is not None and command not in rule_here.commands:
            return Refusal(Action.COMMAND, f"`/mlops {command}` is not available in this channel.")
        rule = rules.commands.get(command)
        if rule is not None and rule.users and not self._named(user, tuple(rule.users)):
            return Refusal(Action.COMMAND, f"You are not allowed to run `/mlops {command}`.")
        return None

    def _named(self, user: str, principals: tuple[str, ...]) -> bool:
        """`user` is in `principals`, or a member of a user group (S…) named there."""
        if user in principals:
            return True
        for principal in principals:
            if principal.startswith("S") and user in self.directory.group_members(principal):
                return True
        return False

    def is_approver(self, user: str, policy: ModelPolicy) -> bool:
        """Named in the model's approvers, or a member of a user group (S…) named there."""
        return self._named(user, policy.approvers)

    def _is_owner_or_approver(self, user: str, policy: ModelPolicy) -> bool:
        return user in policy.owners or self.is_approver(user, policy)

    # -- the rules ----------------------------------------------------------------------------

    def _decide(self, ask: _Ask) -> Refusal | None:
        """Approvers decide, and never on their own request."""
        if ask.requester is not None and ask.user == ask.requester:
            return Refusal(ask.action, "You can't approve or reject your own request.")
        if not self.is_approver(ask.user, ask.policy):
            return Refusal(ask.action, f"You are not an approver of `{ask.policy.model}`.")
        return None

    def _anyone(self, ask: _Ask) -> Refusal | None:
        """Anyone in the workspace may ask for a promotion or a rollback: approvers then decide
        on protected aliases (and `MOVE_UNPROTECTED` says who may set the others at once)."""
        return None

    def _schedule(self, ask: _Ask) -> Refusal | None:
        """Owners and approvers of the model, posting into a channel (C…/G…, not a DM)."""
        if not self._is_owner_or_approver(ask.user, ask.policy):
            return Refusal(
                ask.action,
                f"Only owners and approvers of `{ask.policy.model}` can add or remove its "
                "scheduled reports.",
            )
        if ask.action == Action.SCHEDULE_ADD and not is_channel_id(ask.channel or ""):
            shown = (ask.channel or "")[:20] or "none"
            return Refusal(
                ask.action,
                f"Scheduled reports are posted into a channel; `{shown}` is not a channel ID "
                "(C…/G…). Name a #channel.",
            )
        return None

    def _retrain(self, ask: _Ask) -> Refusal | None:
        """Owners and approvers of the model."""
        if self._is_owner_or_approver(ask.user, ask.policy):
            return None
        return Refusal(
            ask.action, f"Only owners and approvers of `{ask.policy.model}` can trigger retraining."
        )

    def _move_unprotected(self, ask: _Ask) -> Refusal | None:
        """Owners and approvers, unless `[permissions] unprotected_aliases = "anyone"`."""
        if self.limits.unprotected_aliases == UnprotectedAliases.ANYONE:
            return None
        if self._is_owner_or_approver(ask.user, ask.policy):
            return None
        return Refusal(
            ask.action,
            f"Only owners and approvers of `{ask.policy.model}` can move its unprotected aliases.",
        )

    def _command(self, ask: _Ask) -> Refusal | None:
        """Subcommands are checked by `may_run`, which knows their names."""
        return None


_RULES: dict[Action, Callable[[Permissions, _Ask], Refusal | None]] = {
    Action.APPROVE: Permissions._decide,
    Action.REJECT: Permissions._decide,
    Action.OVERRIDE: Permissions._decide,
    Action.PROMOTE: Permissions._anyone,
    Action.ROLLBACK: Permissions._anyone,
    Action.SCHEDULE_ADD: Permissions._schedule,
    Action.SCHEDULE_REMOVE: Permissions._schedule,
    Action.RETRAIN: Permissions._retrain,
    Action.MOVE_UNPROTECTED: Permissions._move_unprotected,
    Action.COMMAND: Permissions._command,
}
