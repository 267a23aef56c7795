"""Where a version's files come from (bot.approvals.checks.source_outside_run), and the
gateway telling which run logged an MLflow 3 logged model."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from bot.approvals.checks import source_outside_run
from bot.registry.gateway import Registry, VersionInfo

RUN = "0123456789abcdef0123456789abcdef"
ARTIFACTS = "s3://bucket/mlflow/7/0123456789abcdef0123456789abcdef/artifacts"


def version(source: str, run_id: str | None = RUN, **kw: str | None) -> VersionInfo:
    return VersionInfo(
        name="churn",
        version="4",
        aliases=(),
        run_id=run_id,
        source=source,
        status="READY",
        created_ms=None,
        run_artifact_uri=kw.get("run_artifact_uri", ARTIFACTS),
        source_run_id=kw.get("source_run_id"),
    )


@pytest.mark.parametrize(
    "source",
    [
        f"runs:/{RUN}/model",
        f"{ARTIFACTS}/model",
        ARTIFACTS,
        f"{ARTIFACTS}/",
    ],
)
def test_sources_inside_the_run(source: str) -> None:
    assert source_outside_run(version(source)) is None


def test_local_paths_with_and_without_the_file_scheme() -> None:
    local = version(
        "file:///srv/mlruns/1/r/artifacts/model", run_artifact_uri="/srv/mlruns/1/r/artifacts"
    )
    assert source_outside_run(local) is None
    plain = version(
        "/srv/mlruns/1/r/artifacts/model", run_artifact_uri="file:///srv/mlruns/1/r/artifacts"
    )
    assert source_outside_run(plain) is None


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("s3://elsewhere/model.pkl", "is outside the artifacts of run"),
        (f"{ARTIFACTS}-evil/model", "is outside the artifacts of run"),  # a prefix, not a folder
        (f"{ARTIFACTS}/../../other/artifacts/model", "climbs out of a folder"),
        ("s3://other-bucket/mlflow/7/0123456789abcdef0123456789abcdef/artifacts/m", "outside"),
        ("runs:/ffffffffffffffffffffffffffffffff/model", "not in the version's run"),
        ("models:/m-0123abcd", "logged by no run MLflow knows of"),
        ("", "has no source"),
    ],
)
def test_sources_outside_the_run(source: str, why: str) -> None:
    outside = source_outside_run(version(source))
    assert outside is not None and why in outside


def test_a_logged_model_counts_only_for_the_run_that_logged_it() -> None:
    assert source_outside_run(version("models:/m-0123abcd", source_run_id=RUN)) is None
    other = source_outside_run(version("models:/m-0123abcd", source_run_id="f" * 32))
    assert other is not None and f"logged by run `{'f' * 32}`" in other


def test_a_version_without_a_run_is_outside() -> None:
    outside = source_outside_run(version(f"{ARTIFACTS}/model", run_id=None))
    assert outside is not None and "no source run" in outside


def test_the_gateway_reads_the_run_of_a_logged_model_and_the_run_artifacts(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 registers a logged model as `models:/m-…`; the version's run logged it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)  # where MLflow looks the model up
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    champion = client.get_model_version("churn", "1")
    run = client.get_run(champion.run_id)
    logged = client.create_logged_model(run.info.experiment_id, source_run_id=run.info.run_id)
    mv = client.create_model_version("churn", f"models:/{logged.model_id}", champion.run_id)
    stranger = client.create_run(run.info.experiment_id).info.run_id
    foreign = client.create_logged_model(run.info.experiment_id, source_run_id=stranger)
    mv_foreign = client.create_model_version(
        "churn", f"models:/{foreign.model_id}", champion.run_id
    )

    registry = Registry(mlflow_store)
    own = registry.get_version("churn", str(mv.version))
    assert own.source_run_id == champion.run_id and own.run_artifact_uri == run.info.artifact_uri
    assert source_outside_run(own) is None
    theirs = registry.get_version("churn", str(mv_foreign.version))
    assert theirs.source_run_id == stranger
    assert source_outside_run(theirs) is not None
    seeded = registry.get_version("churn", "1")  # `<artifact_uri>/model`, as tests/helpers.py
    assert seeded.source_run_id is None and source_outside_run(seeded) is None
