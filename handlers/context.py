"""What every listener works with, injected into Bolt's context by the app's middleware."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slack_bolt import BoltContext

from bot.approvals.service import ApprovalService
from bot.health import Health
from bot.monitoring.runner import ReportRunner
from bot.policy.permissions import Permissions
from bot.runtime import Runtime

SERVICES_KEY = "mlops_services"


class SchedulerView(Protocol):
    """What listeners may ask of the scheduler (jobs.scheduler.Scheduler)."""

    def state(self) -> tuple[bool, str]: ...

    def next_runs(self) -> list[str]: ...


@dataclass(frozen=True)
class Services:
    """The runtime and the services built on it, once per process (see handlers.app)."""

    rt: Runtime
    approvals: ApprovalService
    # Every authorisation decision (approvals, retraining, schedules) asks this.
    permissions: Permissions
    reports: ReportRunner
    health: Health
    # The periodic jobs, where this process runs them.
    scheduler: SchedulerView | None = None
    # The local shell: listeners finish their work before `dispatch` returns.
    inline_work: bool = False


def services_of(context: BoltContext) -> Services:
    """The services injected by the app's middleware."""
    services: Services = context[SERVICES_KEY]
    return services


def runtime_of(context: BoltContext) -> Runtime:
    """The runtime of the injected services."""
    return services_of(context).rt


def approvals_of(context: BoltContext) -> ApprovalService:
    """The approval service of the injected services."""
    return services_of(context).approvals


def permissions_of(context: BoltContext) -> Permissions:
    """Who may do what (bot.policy.permissions), for the injected services."""
    return services_of(context).permissions
