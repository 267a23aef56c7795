"""bot.policy.permissions: one rule per action, over a policy and a user-group directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.file import Policy, PolicyError, PolicyFile, read_policy_file
from bot.policy.permissions import Action, Permissions, Refusal

APPROVER, LEAD, OWNER, REQUESTER, OUTSIDER = "U0APPR", "U0LEAD", "U0OWNER", "U0REQ", "U0OUT"


class Groups:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def group_members(self, group_id: str) -> set[str]:
        self.asked.append(group_id)
        return {LEAD} if group_id == "S0LEADS" else set()


@pytest.fixture
def groups() -> Groups:
    return Groups()


@pytest.fixture
def perms(groups: Groups) -> Permissions:
    policy = Policy(
        file=PolicyFile.model_validate(
            {
                "defaults": {"approvers": ["U0NOBODY"]},
                "models": {"churn": {"approvers": [APPROVER, "S0LEADS"], "owners": [OWNER]}},
            }
        )
    )
    return Permissions(policy, groups)


def refused(refusal: Refusal | None) -> str:
    assert refusal is not None
    return refusal.reason


@pytest.mark.parametrize("action", [Action.APPROVE, Action.REJECT, Action.OVERRIDE])
def test_decisions_belong_to_approvers_never_on_their_own_request(
    perms: Permissions, action: Action
) -> None:
    assert perms.can(APPROVER, action, "churn", requester=REQUESTER) is None
    assert perms.can(LEAD, action, "churn", requester=REQUESTER) is None  # via S0LEADS
    assert refused(perms.can(APPROVER, action, "churn", requester=APPROVER)) == (
        "You can't approve or reject your own request."
    )
    assert refused(perms.can(OUTSIDER, action, "churn", requester=REQUESTER)) == (
        "You are not an approver of `churn`."
    )
    assert refused(perms.can(OWNER, action, "churn", requester=REQUESTER)) == (
        "You are not an approver of `churn`."  # owning a model is not approving it
    )
    refusal = perms.can(APPROVER, action, "fraud", requester=REQUESTER)  # the defaults apply
    assert refusal is not None and refusal.action == action


@pytest.mark.parametrize("action", [Action.PROMOTE, Action.ROLLBACK])
def test_anyone_may_ask_for_a_promotion_or_a_rollback(perms: Permissions, action: Action) -> None:
    for user in (OUTSIDER, REQUESTER, APPROVER, OWNER):
        assert perms.can(user, action, "churn", "C0MLOPS") is None


@pytest.mark.parametrize("action", [Action.SCHEDULE_ADD, Action.SCHEDULE_REMOVE])
def test_schedules_belong_to_owners_and_approvers(perms: Permissions, action: Action) -> None:
    for user in (OWNER, APPROVER, LEAD):
        assert perms.can(user, action, "churn", "C0ALERTS") is None
        assert perms.can(user, action, "churn", "G0PRIVATE") is None
    assert refused(perms.can(OUTSIDER, action, "churn", "C0ALERTS")) == (
        "Only owners and approvers of `churn` can add or remove its scheduled reports."
    )
    assert perms.can(OWNER, action, "unknown-model", "C0ALERTS") is not None  # not its owner


@pytest.mark.parametrize("channel", [None, "D0DIRECT", "U0SOMEONE", "general", "#general"])
def test_schedules_post_into_a_channel(perms: Permissions, channel: str | None) -> None:
    assert "is not a channel ID" in refused(perms.can(OWNER, Action.SCHEDULE_ADD, "churn", channel))


def test_unprotected_aliases_move_for_owners_and_approvers_unless_opened(
    perms: Permissions, groups: Groups
) -> None:
    for user in (OWNER, APPROVER, LEAD):
        assert perms.can(user, Action.MOVE_UNPROTECTED, "churn", "C0MLOPS") is None
    assert refused(perms.can(OUTSIDER, Action.MOVE_UNPROTECTED, "churn")) == (
        "Only owners and approvers of `churn` can move its unprotected aliases."
    )
    opened = Policy(
        file=PolicyFile.model_validate({"permissions": {"unprotected_aliases": "anyone"}})
    )
    assert Permissions(opened, groups).can(OUTSIDER, Action.MOVE_UNPROTECTED, "churn") is None


def test_command_and_channel_rules(groups: Groups) -> None:
    policy = Policy(
        file=PolicyFile.model_validate(
            {
                "permissions": {
                    "commands": {"promote": {"users": [APPROVER, "S0LEADS"]}},
                    "channels": {"C0RANDOM": {"commands": ["models", "show"]}},
                }
            }
        )
    )
    perms = Permissions(policy, groups)
    assert perms.may_run(APPROVER, "promote", "C0MLOPS") is None
    assert perms.may_run(LEAD, "promote", "C0MLOPS") is None  # via S0LEADS
    assert refused(perms.may_run(OUTSIDER, "promote", "C0MLOPS")) == (
        "You are not allowed to run `/mlops promote`."
    )
    assert perms.may_run(OUTSIDER, "audit", "C0MLOPS") is None  # no rule: anyone
    assert perms.may_run(OUTSIDER, "show", "C0RANDOM") is None
    assert refused(perms.may_run(APPROVER, "promote", "C0RANDOM")) == (
        "`/mlops promote` is not available in this channel."
    )
    assert perms.may_run(OUTSIDER, "help", "C0RANDOM") is None  # help always answers
    assert perms.can_somewhere(APPROVER, Action.SCHEDULE_ADD, "C0MLOPS") is False
    assert perms.can_somewhere(OUTSIDER, Action.PROMOTE, "C0MLOPS") is True


def test_permissions_section_defaults_and_errors(tmp_path: Path) -> None:
    limits = PolicyFile().permissions
    assert (limits.schedule_min_interval_minutes, limits.schedules_per_model) == (60, 5)
    assert limits.retrain_cooldown_minutes == 60
    assert limits.unprotected_aliases == "owners_and_approvers"
    bad = tmp_path / "policy.toml"
    bad.write_text(
        '[permissions]\nunprotected_aliases = "everyone"\nschedule_min_interval_minutes = 0\n'
        '[permissions.channels.general]\ncommands = ["models"]\n'
        '[permissions.commands.promote]\nusers = ["alice"]\n'
    )
    with pytest.raises(PolicyError) as err:
        read_policy_file(bad)
    text = str(err.value)
    assert "permissions.unprotected_aliases" in text and "'everyone'" in text
    assert "permissions.schedule_min_interval_minutes" in text
    assert "not Slack channel IDs (C…/G…): ['general']" in text
    assert "permissions.commands.promote.users" in text and "alice" in text


def test_retraining_is_for_owners_and_approvers(perms: Permissions, groups: Groups) -> None:
    assert perms.can(OWNER, Action.RETRAIN, "churn") is None
    assert groups.asked == []  # an owner needs no user-group lookup
    assert perms.can(APPROVER, Action.RETRAIN, "churn") is None
    assert perms.can(LEAD, Action.RETRAIN, "churn") is None
    assert refused(perms.can(OUTSIDER, Action.RETRAIN, "churn")) == (
        "Only owners and approvers of `churn` can trigger retraining."
    )


def test_every_action_has_a_rule(perms: Permissions) -> None:
    for action in Action:
        perms.can(OUTSIDER, action, "churn")  # a KeyError here is an action without a rule


def test_is_approver_by_name_or_by_user_group(perms: Permissions) -> None:
    policy = perms.policy.for_model("churn")
    assert perms.is_approver(APPROVER, policy)
    assert perms.is_approver(LEAD, policy)
    assert not perms.is_approver(OUTSIDER, policy)
