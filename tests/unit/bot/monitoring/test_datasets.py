"""Data sources: local files and globs, http(s), MLflow artifacts; clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.datasets import DatasetError, Holder, load
from bot.registry.gateway import Registry


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.normal(40, 10, 200), "plan": rng.choice(["a", "b"], 200)})


def test_csv_parquet_and_glob(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "b.parquet")
    assert load(str(tmp_path / "a.csv")).rows == 200
    assert load(str(tmp_path / "b.parquet")).frame["plan"].tolist() == frame["plan"].tolist()
    frame.to_csv(tmp_path / "c.csv", index=False)
    assert load(str(tmp_path / "*.csv")).rows == 400


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty"),
        ("latin.csv", "name\ncaf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("bad.parquet", b"PAR1 not really", "cannot be read as parquet"),
        ("blob.bin", b"\x00\x01\x02", "neither CSV nor Parquet"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetError) as info:
        load(str(tmp_path / name))
    assert expected in str(info.value) and name in str(info.value)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load(str(tmp_path / "nope.csv"))
    with pytest.raises(DatasetError, match="no file matches"):
        load(str(tmp_path / "*.parquet"))


def test_http_source(http_dir: tuple[str, Path], frame: pd.DataFrame) -> None:
    base, root = http_dir
    frame.to_parquet(root / "cur.parquet")
    (root / "page.html").write_text("<html></html>")
    assert load(f"{base}/cur.parquet").rows == 200
    with pytest.raises(DatasetError, match="HTTP 404"):
        load(f"{base}/missing.parquet")
    with pytest.raises(DatasetError, match="text/html"):
        load(f"{base}/page.html")
    with pytest.raises(DatasetError, match="larger than"):
        load(f"{base}/cur.parquet", max_bytes=100)
    with pytest.raises(DatasetError, match="could not be fetched"):
        load("http://127.0.0.1:9/x.csv")


def test_mlflow_artifact_of_the_alias_holder(
    mlflow_store: str, tmp_path: Path, frame: pd.DataFrame
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    frame.to_parquet(tmp_path / "reference.parquet")
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    holder = Holder(Registry(mlflow_store), "churn", "champion")
    ds = load("mlflow-artifact:reference.parquet", holder=holder)
    assert ds.rows == 200
    with pytest.raises(DatasetError, match="could not be fetched"):
        load("mlflow-artifact:nope.parquet", holder=holder)
    with pytest.raises(DatasetError, match="needs a model and an alias"):
        load("mlflow-artifact:reference.parquet")
