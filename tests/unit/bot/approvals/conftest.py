"""A runtime on a real MLflow sqlite store and a fresh bot database, with no Slack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.approvals.service import ApprovalService
from bot.bootstrap import build_runtime
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.policy.permissions import Permissions
from bot.runtime import Runtime

POLICY = """
[defaults]
approvers = ["U0APPROVER1", "U0APPROVER2", "S0LEADS"]
required_approvals = 1

[models.churn]
required_approvals = 2
request_ttl_hours = 72
gates = ["roc_auc >= champion - 0.005", "accuracy >= 0.80"]
"""


class Groups:
    """A user-group directory: S0LEADS has one member."""

    def group_members(self, group_id: str) -> set[str]:
        return {"U0LEAD"} if group_id == "S0LEADS" else set()


def make_runtime(
    tmp_path: Path,
    mlflow_uri: str,
    clock: Clock | None = None,
    policy_text: str = POLICY,
    database_url: str | None = None,
) -> Runtime:
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_text)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mlflow_tracking_uri=mlflow_uri,
        database_url=database_url or f"sqlite:///{tmp_path / 'bot.db'}",
        mlops_bot_data_dir=tmp_path / "data",
        mlops_bot_config=policy,
    )
    return build_runtime(settings, clock=clock or FixedClock())


@pytest.fixture
def rt(mlflow_store: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path, mlflow_store)
    yield runtime
    runtime.engine.dispose()


def service(rt: Runtime) -> ApprovalService:
    return ApprovalService(rt, Permissions(rt.policy, Groups()))
