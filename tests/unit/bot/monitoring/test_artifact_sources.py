"""Where `mlflow-artifact:` data comes from: only the tracking server gets the bot's MLflow
credentials, and only the monitor's configured alias holder chooses the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bot.config import Settings
from bot.monitoring.datasets import DatasetError, Holder, load
from bot.monitoring.document import ReportKind
from bot.monitoring.report import make_report
from bot.policy.file import load_policy
from bot.registry.gateway import Registry
from tests.helpers import QuietHandler, serve_loopback


class Listener:
    """An internal host that records every request (and its headers) it gets."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.seen.append(dict(self.headers))
                self.send_response(404)
                self.end_headers()

        self.server, base = serve_loopback(Handler)
        self.url = base + ""


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.server.shutdown()


def test_mlflow_credentials_never_go_to_a_run_artifact_host(
    mlflow_store: str, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "bot-secret-token")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    exp = client.create_experiment("elsewhere", artifact_location=f"{listener.url}/artifacts")
    run = client.create_run(exp)
    client.create_registered_model("lured")
    client.create_model_version("lured", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("lured", "champion", "1")
    holder = Holder(Registry(mlflow_store), "lured", "champion")
    with pytest.raises(DatasetError, match="not on the tracking server") as err:
        load("mlflow-artifact:reference.parquet", holder=holder)
    assert "127.0.0.1" in str(err.value) and "bot-secret-token" not in str(err.value)
    assert listener.seen == []  # not even a request, let alone the Bearer token


def test_a_user_chosen_alias_does_not_choose_whose_reference_is_read(
    mlflow_store: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    for alias, rows in (("champion", 2000), ("challenger", 300)):
        (tmp_path / alias).mkdir()
        path = tmp_path / alias / "reference.parquet"
        pd.DataFrame({"age": rng.normal(40, 10, rows)}).to_parquet(path)
        client.log_artifact(client.get_model_version_by_alias("churn", alias).run_id, str(path))
    pd.DataFrame({"age": rng.normal(40, 10, 500)}).to_parquet(tmp_path / "current.parquet")
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        "[models.churn.monitor]\n"
        'reference = "mlflow-artifact:reference.parquet"\n'
        f'current = "{tmp_path / "current.parquet"}"\n'
    )
    settings = Settings(_env_file=None, mlops_bot_config=policy_file)  # type: ignore[call-arg]
    report = make_report(
        ReportKind.DRIFT,
        Registry(mlflow_store),
        load_policy(settings),
        model="churn",
        alias="challenger",
        charts=False,
    )
    doc = report.document.model_dump()
    assert doc["alias"] == "challenger" and doc["version"] == "3"
    assert doc["reference"]["rows"] == 2000  # the monitor's holder (@champion), not @challenger
