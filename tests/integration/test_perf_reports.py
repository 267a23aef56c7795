"""Performance reports end to end on a real MLflow store: whose predictions, which baseline,
intervals, CBPE beside the realised metrics, and the charts that show them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.config import Settings
from bot.monitoring.document import PerfDocument, parse_document
from bot.monitoring.report import PerfColumns, make_report
from bot.policy.file import load_policy
from bot.registry.gateway import Registry
from tests.helpers import cli_env, run_mlops_bot


def scored(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    p = 1 / (1 + np.exp(-2 * x))
    return pd.DataFrame({"x": x, "label": y, "score": p, "prediction": (p >= 0.5).astype(int)})


@pytest.fixture
def churn_monitor(tmp_path: Path, mlflow_store: str) -> tuple[Registry, Settings]:
    from mlflow.tracking import MlflowClient

    scored(4000, 1).to_parquet(tmp_path / "reference.parquet")
    cur = scored(600, 2, shift=0.4)
    cur["ts"] = pd.date_range("2026-11-01 21:00", periods=600, freq="15min", tz="UTC")
    cur["model_version"] = 1  # made by v1 while @champion is moved to v3 below
    cur.loc[500:, "label"] = np.nan  # the last rows' labels have not arrived
    cur.to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.set_registered_model_alias("churn", "champion", "3")
    run_id = client.get_model_version("churn", "3").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    policy = tmp_path / "policy.toml"
    policy.write_text(f"""
[models.churn]
owners = ["U0ALICE"]
[models.churn.monitor]
current = "{tmp_path / "current.parquet"}"
target = "label"
prediction = "prediction"
score = "score"
timestamp = "ts"
window = "1D"
min_window_rows = 40
""")
    settings = Settings(_env_file=None, mlflow_tracking_uri=mlflow_store, mlops_bot_config=policy)  # type: ignore[call-arg]
    return Registry(mlflow_store), settings


def test_a_perf_report_attributes_predictions_and_estimates_unlabelled_rows(
    churn_monitor: tuple[Registry, Settings],
) -> None:
    registry, settings = churn_monitor
    rep = make_report("perf", registry, load_policy(settings), model="churn")
    doc = parse_document(rep.document.to_json())  # what a stored record reads back as
    assert isinstance(doc, PerfDocument)
    perf = doc.performance
    assert rep.title.startswith("churn v1 — performance")  # not "@champion v3"
    assert doc.version == "3" and [v.version for v in perf.versions] == ["1"]
    assert perf.baseline["roc_auc"] == pytest.approx(0.80)  # v1's run, not v3's 0.85
    assert perf.baseline_source is not None and "(v1)" in perf.baseline_source
    assert perf.rows == 500 and all(w.rows >= 40 for w in perf.windows)
    assert perf.windows[0].periods == 2  # 12 rows on the first evening, merged
    lo, hi = perf.intervals["roc_auc"]
    assert lo < (perf.metrics["roc_auc"] or 0) < hi
    assert perf.confusion is not None and perf.reliability
    cbpe = perf.cbpe
    assert cbpe is not None and cbpe.reason is None and cbpe.windows
    assert sum(w.rows for w in cbpe.windows) == 600  # labelled or not
    assert cbpe.windows[-1].labelled_rows < cbpe.windows[-1].rows
    assert perf.prediction_drift is not None and perf.target_drift is not None
    names = [name for name, _ in rep.charts]
    for chart in ("metric_roc_auc.png", "cbpe_roc_auc.png", "reliability.png"):
        assert chart in names
    assert "confusion_matrix.png" in names


def test_cli_columns_override_the_monitor_for_ad_hoc_files(tmp_path: Path) -> None:
    frame = scored(500, 3).rename(columns={"label": "churned", "score": "p_churn"})
    frame.drop(columns="prediction").to_parquet(tmp_path / "cur.parquet")
    rep = make_report(
        "perf",
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        current=str(tmp_path / "cur.parquet"),
        columns=PerfColumns(target="churned", score="p_churn"),
    )
    perf = rep.document.performance  # type: ignore[union-attr]
    assert perf.rows == 500 and perf.metrics["roc_auc"] is not None
    assert rep.title.startswith("ad-hoc data") and perf.cbpe is not None
    assert perf.cbpe.reason == "no reference data to calibrate the scores on"


def test_a_regression_report_has_a_residual_chart(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(10, 2, 400)
    frame = pd.DataFrame({"label": y, "prediction": y + rng.normal(0, 0.5, 400)})
    frame["ts"] = pd.date_range("2026-11-01", periods=400, freq="h", tz="UTC")
    frame.to_parquet(tmp_path / "cur.parquet")
    rep = make_report(
        "perf",
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        current=str(tmp_path / "cur.parquet"),
        columns=PerfColumns(timestamp="ts"),
    )
    perf = rep.document.performance  # type: ignore[union-attr]
    assert perf.task == "regression" and set(perf.metrics) == {"rmse", "mae", "r2"}
    names = [name for name, _ in rep.charts]
    assert "residuals.png" in names and "metric_rmse.png" in names


def test_a_perf_report_is_stamped_with_the_callers_report_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    scored(200, 6).to_parquet(tmp_path / "cur.parquet")
    rep = make_report(
        "perf",
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        current=str(tmp_path / "cur.parquet"),
        now=datetime(2026, 11, 2, 9, 15, tzinfo=UTC),
    )
    assert isinstance(rep.document, PerfDocument)
    assert rep.document.generated_at == "2026-11-02T09:15:00Z"
    assert rep.title.endswith("2026-11-02 09:15 UTC")


@pytest.mark.slow
def test_cli_perf_with_column_options(tmp_path: Path) -> None:
    frame = scored(300, 5).rename(columns={"label": "churned", "score": "p"})
    frame.to_csv(tmp_path / "cur.csv", index=False)
    res = run_mlops_bot(
        tmp_path,
        "report",
        "perf",
        "--current",
        "cur.csv",
        "--target",
        "churned",
        "--score",
        "p",
        "--out",
        "out",
        env=cli_env(tmp_path),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    body = json.loads((tmp_path / "out" / "report.json").read_text())
    assert body["performance"]["score"] == "p" and body["performance"]["rows"] == 300
    assert (tmp_path / "out" / "reliability.png").exists()
