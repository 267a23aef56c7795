"""User-group lookups: a failing lookup reuses the last member list for one cache period at
most, then the group counts as empty (fails closed) until Slack answers again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.clock import FixedClock
from handlers.approvals.messages import SlackDirectory


class Groups:
    """usergroups.users.list answering from `members`, or failing while `down`."""

    def __init__(self) -> None:
        self.members = ["U0LEAD"]
        self.down = False
        self.calls = 0

    def usergroups_users_list(self, usergroup: str) -> dict[str, Any]:
        self.calls += 1
        if self.down:
            raise SlackApiError("failed", {"ok": False, "error": "internal_error"})
        return {"ok": True, "users": list(self.members)}


def test_a_failing_lookup_reuses_the_list_for_one_period_then_fails_closed() -> None:
    slack, clock = Groups(), FixedClock()
    directory = SlackDirectory(slack, ttl=60, clock=clock)  # type: ignore[arg-type]
    assert directory.group_members("S0LEADS") == {"U0LEAD"}
    clock.advance(timedelta(seconds=30))
    assert directory.group_members("S0LEADS") == {"U0LEAD"} and slack.calls == 1  # cached

    slack.down = True
    clock.advance(timedelta(seconds=40))  # expired; Slack fails: the last list, 70 s old
    assert directory.group_members("S0LEADS") == {"U0LEAD"}
    clock.advance(timedelta(seconds=40))  # still failing, 110 s old: still within one period
    assert directory.group_members("S0LEADS") == {"U0LEAD"}
    clock.advance(timedelta(seconds=20))  # 130 s old: more than one period past its expiry
    assert directory.group_members("S0LEADS") == set()
    clock.advance(timedelta(hours=1))
    assert directory.group_members("S0LEADS") == set()

    slack.down, slack.members = False, ["U0OTHER"]  # Slack is back: the fresh list counts
    assert directory.group_members("S0LEADS") == {"U0OTHER"}


def test_a_group_never_fetched_is_empty_while_slack_fails() -> None:
    slack = Groups()
    slack.down = True
    assert SlackDirectory(slack).group_members("S0LEADS") == set()  # type: ignore[arg-type]
