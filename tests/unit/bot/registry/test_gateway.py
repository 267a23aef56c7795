"""The MLflow gateway against a real sqlite tracking store (seeded in tests/helpers.py)."""

from __future__ import annotations

import pytest

from bot.registry.gateway import NotFoundError, Registry


@pytest.fixture
def registry(mlflow_store: str) -> Registry:
    return Registry(mlflow_store)


def test_list_models_with_aliases_and_latest_version(registry: Registry) -> None:
    models = {m.name: m for m in registry.list_models()}
    assert list(models) == ["churn", "empty-model", "fraud-detector"]
    assert models["churn"].aliases == {"champion": "1", "challenger": "3"}
    assert models["churn"].latest_version == "3" and models["empty-model"].latest_version is None


def test_get_version_by_alias_number_and_latest(registry: Registry) -> None:
    by_alias = registry.get_version("churn", "@champion")
    assert by_alias.version == "1" and by_alias.metrics["roc_auc"] == pytest.approx(0.80)
    assert by_alias.params == {"n_estimators": "100"} and by_alias.run_id
    assert registry.get_version("churn", "2").metrics["roc_auc"] == pytest.approx(0.82)
    assert registry.get_version("churn").version == "3"


def test_unknown_names_suggest_the_closest(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="Did you mean `churn`"):
        registry.get_model("chrun")
    with pytest.raises(NotFoundError, match="no version `99`"):
        registry.get_version("churn", "99")
    with pytest.raises(NotFoundError, match="no alias `@nope`"):
        registry.get_version("churn", "@nope")


def test_set_alias_moves_it_and_tags_are_written(registry: Registry) -> None:
    registry.set_alias("churn", "champion", "2")
    assert registry.alias_holder("churn", "champion") == "2"
    registry.set_version_tags("churn", "2", {"mlops_bot.request_id": "abc"})
    assert registry.get_version("churn", "2").tags["mlops_bot.request_id"] == "abc"
