"""bot.policy.permissions: one rule per action, over a policy and a user-group directory."""

from __future__ import annotations

import pytest

from bot.policy.file import Policy, PolicyFile
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
def test_anyone_may_add_or_remove_a_schedule_for_now(perms: Permissions, action: Action) -> None:
    for user in (OUTSIDER, APPROVER, OWNER):
        assert perms.can(user, action, "churn", "C0ALERTS") is None
        assert perms.can(user, action, "unknown-model") is None


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
