"""The reminder job on a fixed clock: DMs through Slack's Web API (the emulator, over HTTP) to
approvers who have not voted, then to requester and owners on expiry; each once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.approvals.service import ApprovalService
from bot.clock import FixedClock
from bot.policy.file import ModelPolicyConfig, Policy, PolicyFile
from bot.policy.permissions import Permissions
from bot.runtime import Runtime
from jobs import approvals as approval_jobs
from jobs.reminders import remind
from jobs.scheduler import Scheduler
from tests.slack_fake import FakeSlack, web_client

OPENED = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=72)


class NoGroups:
    def group_members(self, group_id: str) -> set[str]:
        return set()


def service(runtime: Runtime, clock: FixedClock) -> ApprovalService:
    policy = Policy(
        file=PolicyFile(models={"churn": ModelPolicyConfig(owners=["U0OWNER"])}),
        env_approvers=("U0APPROVER1", "U0APPROVER2"),
        env_required_approvals=2,
    )
    rt = dataclasses.replace(runtime, clock=clock, policy=policy)
    return ApprovalService(rt, Permissions(policy, NoGroups()))


def dms(fake: FakeSlack, user: str) -> list[str]:
    return [m["text"] for m in fake.messages(fake.workspace.im_channel(user))]


def test_approvers_get_a_dm_half_way_and_requester_and_owner_on_expiry(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    clock = FixedClock(OPENED)
    svc = service(runtime, clock)
    client = web_client(fake_slack)
    req = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall", "C0M").request
    assert req is not None
    assert remind(svc, client) == 0

    clock.advance(TTL / 2)
    assert remind(svc, client) == 2
    for user in ("U0APPROVER1", "U0APPROVER2"):
        (text,) = dms(fake_slack, user)
        assert "Half its time has passed" in text and f"`{req.id}`" in text
        assert "`@champion` of `churn` to v3" in text and "0/2 approvals" in text
    posted = fake_slack.calls_to("chat.postMessage")
    assert [c.params["channel"] for c in posted] == ["U0APPROVER1", "U0APPROVER2"]
    assert [c.response["channel"] for c in posted] == ["D0APPROVER1", "D0APPROVER2"]  # type: ignore[index]
    assert remind(svc, client) == 0  # once

    clock.advance(TTL)
    assert approval_jobs.expire(svc, client) == 1
    assert remind(svc, client) == 2
    for user in ("U0REQ", "U0OWNER"):
        assert "expired at" in dms(fake_slack, user)[-1]
    assert remind(svc, client) == 0
    assert len(dms(fake_slack, "U0APPROVER1")) == 1  # approvers are not told of the expiry


def test_a_slack_failure_loses_one_dm_never_doubles_one(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    clock = FixedClock(OPENED)
    svc = service(runtime, clock)
    svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall", "C0M")
    clock.at = OPENED + TTL - timedelta(minutes=59)
    fake_slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    assert remind(svc, web_client(fake_slack)) == 1
    assert remind(svc, web_client(fake_slack)) == 0
    assert dms(fake_slack, "U0APPROVER1") == []
    assert "Less than an hour left" in dms(fake_slack, "U0APPROVER2")[0]


def test_the_scheduler_runs_the_reminder_job(runtime: Runtime) -> None:
    sched = Scheduler(runtime, None, None, None)  # type: ignore[arg-type]
    job = sched._sched.get_job("remind approvers")
    every = runtime.settings.mlops_bot_recover_interval_seconds
    assert job is not None and job.trigger.interval == timedelta(seconds=every)
