"""A request is about the model MLflow names, not the one typed: on a case-insensitive store
(MySQL, MariaDB, SQL Server) `CHURN` finds `churn`, and churn's policy judges it.

The store here is SQLite behind a registry that finds models whatever the case, as those
stores do; tests/integration/test_case_insensitive_store.py runs the same against MariaDB.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bot import audit
from bot.approvals.outcomes import ApprovalError, OutcomeKind
from bot.registry.gateway import ModelSummary, Registry
from bot.runtime import Runtime
from tests.unit.bot.approvals.conftest import make_runtime, service


class CaseInsensitiveRegistry(Registry):
    """Finds a model whatever the case of its name and hands back the stored name."""

    def get_model(self, name: str) -> ModelSummary:
        stored = {n.casefold(): n for n in self.model_names()}
        return super().get_model(stored.get(name.casefold(), name))


@pytest.fixture
def ci_rt(mlflow_store: str, tmp_path: Path) -> Runtime:
    rt = make_runtime(tmp_path, mlflow_store)
    return dataclasses.replace(rt, registry=CaseInsensitiveRegistry(mlflow_store))


def test_a_request_typed_in_capitals_is_judged_by_the_models_own_policy(ci_rt: Runtime) -> None:
    svc = service(ci_rt)
    try:
        outcome = svc.request_promotion("CHURN", "3", "champion", "U0REQ", "better recall")
        req = outcome.request
        assert outcome.kind == OutcomeKind.REQUESTED and req is not None
        # churn's policy: 2 approvals and its two gates, not the defaults' 1 approval
        assert (req.model_name, req.required_approvals) == ("churn", 2)
        gates = [g["text"] for g in json.loads(req.snapshot)["gates"]]
        assert gates[:2] == ["roc_auc >= champion - 0.005", "accuracy >= 0.80"]
        (ev,) = audit.recent(ci_rt.engine, limit=5)
        assert (ev.action, ev.model_name) == ("promotion_requested", "churn")
        # one approval is not enough, as churn's policy says
        assert svc.approve(req.id, "U0APPROVER1").kind == OutcomeKind.VOTED
        assert ci_rt.registry.alias_holder("churn", "champion") == "1"
    finally:
        ci_rt.engine.dispose()


def test_the_duplicate_check_sees_through_the_case(ci_rt: Runtime) -> None:
    svc = service(ci_rt)
    try:
        svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall")
        with pytest.raises(ApprovalError, match="is already pending"):
            svc.request_promotion("Churn", "3", "champion", "U0REQ", "better recall")
    finally:
        ci_rt.engine.dispose()


def test_an_alias_found_whatever_its_case(ci_rt: Runtime) -> None:
    """A case-insensitive store keeps an alias in the case it was last set in: `Champion`
    is still the holder of `@champion`."""
    summary = ModelSummary("churn", {"Champion": "2", "challenger": "3"}, "3")
    assert summary.holder("champion") == "2" and summary.holder("CHALLENGER") == "3"
    assert summary.holder("staging") is None
    ci_rt.engine.dispose()
