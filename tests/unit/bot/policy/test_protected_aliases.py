"""Protected aliases are decided whatever the case, and look-alikes of one are named."""

from __future__ import annotations

import pytest

from bot.policy.file import Policy, PolicyFile


def churn_policy(protected: list[str]) -> Policy:
    return Policy(
        file=PolicyFile.model_validate({"models": {"churn": {"protected_aliases": protected}}})
    )


@pytest.mark.parametrize("alias", ["champion", "Champion", "CHAMPION", "Production"])
def test_protected_whatever_the_case(alias: str) -> None:
    assert Policy().for_model("churn").is_protected(alias)


@pytest.mark.parametrize("alias", ["challenger", "staging", "champions", "champ"])
def test_other_aliases_are_not_protected(alias: str) -> None:
    assert not Policy().for_model("churn").is_protected(alias)


@pytest.mark.parametrize(
    ("alias", "imitated"),
    [
        ("Champion", "champion"),
        ("CHAMPION", "champion"),
        ("_champion", "champion"),
        ("champion-", "champion"),
        ("__Champion--", "champion"),
        ("production_", "production"),
        ("champion", None),  # the protected alias itself
        ("challenger", None),
        ("champion_v2", None),  # a different name, not punctuation around the same one
    ],
)
def test_look_alikes_of_protected_aliases_are_named(alias: str, imitated: str | None) -> None:
    assert Policy().for_model("churn").lookalike(alias) == imitated


def test_look_alikes_follow_the_model_policy() -> None:
    policy = churn_policy(["Prod"]).for_model("churn")
    assert policy.is_protected("prod") and policy.lookalike("prod") == "Prod"
    assert policy.lookalike("Prod") is None and policy.lookalike("champion") is None
