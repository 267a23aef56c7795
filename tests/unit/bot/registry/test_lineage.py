"""A version's lineage read from a real sqlite MLflow store: signature, datasets, code tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.registry.gateway import Registry
from tests.helpers import log_signed_version


def test_signature_datasets_and_code_of_a_version(mlflow_store: str, tmp_path: Path) -> None:
    registry = Registry(mlflow_store)
    version = log_signed_version(
        mlflow_store, tmp_path, "card", {"age": "double", "plan": "string?"}
    )
    lineage = registry.lineage(registry.get_version("card", version))
    assert lineage.signature is not None and lineage.signature_error == ""
    assert [(c.name, c.type, c.required) for c in lineage.signature.inputs] == [
        ("age", "double", True),
        ("plan", "string", False),
    ]
    assert [(c.name, c.type) for c in lineage.signature.outputs] == [("#0", "long")]
    [data] = lineage.datasets
    assert data.name == "train" and data.context == "training" and len(data.digest) >= 8
    assert "s3://data/train.parquet" in data.source
    assert (lineage.git_commit, lineage.source_name) == ("0123abcd", "train.py")


@pytest.mark.parametrize(
    ("mlmodel", "error"), [(None, ""), ("flavors: [unclosed", "unreadable MLmodel file")]
)
def test_no_signature_or_a_broken_file_is_said_not_raised(
    mlflow_store: str, tmp_path: Path, mlmodel: str | None, error: str
) -> None:
    registry = Registry(mlflow_store)
    version = log_signed_version(mlflow_store, tmp_path, "card", None, mlmodel=mlmodel)
    lineage = registry.lineage(registry.get_version("card", version))
    assert lineage.signature is None and lineage.signature_error.startswith(error)
    assert lineage.datasets  # the rest is still read


def test_seeded_versions_without_an_mlmodel_have_no_signature(mlflow_store: str) -> None:
    registry = Registry(mlflow_store)
    lineage = registry.lineage(registry.get_version("churn", "1"))
    assert lineage.signature is None and lineage.signature_error == ""
    assert lineage.datasets == [] and lineage.git_commit is None


@pytest.mark.parametrize(
    ("kind", "source", "shown"),
    [
        ("s3", '{"uri": "s3://data/train.parquet"}', "s3://data/train.parquet"),
        ("delta_table", '{"table_name": "main.churn.train"}', "main.churn.train"),
        ("code", '{"tags": {"mlflow.source.name": "train.py"}}', "code: train.py"),
        ("http", "not json", "http: not json"),
    ],
)
def test_a_dataset_source_is_shown_as_one_line(kind: str, source: str, shown: str) -> None:
    from bot.registry.lineage import _source_text

    assert _source_text(kind, source) == shown
