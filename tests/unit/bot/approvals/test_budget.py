"""What a promotion request and a final approval cost: database sessions and MLflow calls.

Measured against a real MLflow sqlite store and a real bot database: every connection the
bot's engine hands out counts as a session (a transaction), every call the bot makes on its
`MlflowClient` is counted. Calls the client makes on itself are kept apart: MLflow 3 reads the
registered model before each model-version tag write (its "is this a prompt" check), which is
MLflow's cost, not a read the bot repeats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bot.runtime import Runtime
from tests.unit.bot.approvals.conftest import service

MAX_SESSIONS_FINAL_APPROVE = 3


@dataclass
class Cost:
    sessions: int = 0
    mlflow: list[tuple[str, str]] = field(default_factory=list)  # the bot's calls
    inside_mlflow: list[str] = field(default_factory=list)  # the client's calls on itself
    depth: int = 0

    def calls(self, name: str) -> int:
        return sum(1 for n, _ in self.mlflow if n == name)

    def repeated_reads(self) -> list[tuple[str, str]]:
        reads = Counter(c for c in self.mlflow if c[0].startswith(("get_", "search_")))
        return [c for c, n in reads.items() if n > 1]


@contextmanager
def measured(rt: Runtime) -> Iterator[Cost]:
    cost = Cost()

    def on_checkout(*_: Any) -> None:
        cost.sessions += 1

    client = rt.registry.client
    originals = {
        name: getattr(client, name)
        for name in dir(client)
        if not name.startswith("_") and callable(getattr(client, name))
    }

    def spy(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if cost.depth:
                cost.inside_mlflow.append(name)
            else:
                cost.mlflow.append((name, repr((args, sorted(kwargs.items())))))
            cost.depth += 1
            try:
                return real(*args, **kwargs)
            finally:
                cost.depth -= 1

        return call

    for name, real in originals.items():
        setattr(client, name, spy(name, real))
    event.listen(rt.engine, "checkout", on_checkout)
    try:
        yield cost
    finally:
        event.remove(rt.engine, "checkout", on_checkout)
        for name in originals:
            delattr(client, name)
    print(
        f"sessions={cost.sessions} mlflow={[n for n, _ in cost.mlflow]} "
        f"inside_mlflow={cost.inside_mlflow}"
    )


def test_a_promotion_request_reads_the_registered_model_once(rt: Runtime) -> None:
    svc = service(rt)
    with measured(rt) as cost:
        outcome = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall")
    assert outcome.kind == "requested"
    assert outcome.request is not None and outcome.request.previous_version == "1"
    assert cost.calls("get_registered_model") == 1
    assert cost.repeated_reads() == []
    assert cost.sessions == 1


def test_the_final_approval_stays_within_its_budget(rt: Runtime) -> None:
    svc = service(rt)
    opened = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall")
    assert opened.request is not None
    rid = opened.request.id
    assert svc.approve(rid, "U0APPROVER1").kind == "voted"
    with measured(rt) as cost:
        outcome = svc.approve(rid, "U0APPROVER2")
    assert outcome.kind == "applied", outcome.message
    assert outcome.request is not None and outcome.request.status == "applied"
    assert [v.voter for v in outcome.votes] == ["U0APPROVER1", "U0APPROVER2"]
    assert rt.registry.alias_holder("churn", "champion") == "3"
    assert cost.sessions <= MAX_SESSIONS_FINAL_APPROVE
    assert cost.repeated_reads() == []
    assert cost.calls("set_registered_model_alias") == 1
