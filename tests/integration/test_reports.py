"""`mlops-bot report` and the report pipeline: JSON per SPEC §7, charts, clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.config import Settings
from bot.monitoring.document import DriftDocument, PerfDocument
from bot.monitoring.report import ReportError, make_report, write_report
from bot.policy.file import load_policy
from bot.registry.gateway import Registry
from tests.helpers import cli_env, run_mlops_bot

SPEC_KEYS = {
    "kind",
    "model",
    "alias",
    "version",
    "run_id",
    "reference",
    "current",
    "features",
    "drifted_share",
    "dataset_drift",
    "generated_at",
}
FEATURE_KEYS = {
    "name",
    "type",
    "method",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "psi",
    "missing_reference",
    "missing_current",
}


def frames(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "label": rng.integers(0, 2, n),
        }
    )
    ref["prediction"] = np.clip(ref["label"] * 0.4 + rng.random(n) * 0.6, 0, 1)
    cur = ref.copy()
    cur["age"] = cur["age"] + 8
    cur["ts"] = pd.date_range("2026-11-01", periods=n, freq="5min", tz="UTC")
    return ref, cur


def run_cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_mlops_bot(
        tmp_path, "report", *args, env=cli_env(tmp_path, **(env or {})), timeout=120
    )


@pytest.mark.slow
def test_cli_drift_report_without_a_model(tmp_path: Path) -> None:
    ref, cur = frames()
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    res = run_cli(
        tmp_path, "drift", "--reference", "ref.parquet", "--current", "cur.csv", "--out", "out"
    )
    assert res.returncode == 0, res.stderr
    assert "comparing" in res.stderr  # progress on stderr
    body = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(body) >= SPEC_KEYS and body["model"] is None and body["version"] is None
    by_name = {f["name"]: f for f in body["features"]}
    assert set(by_name["age"]) >= FEATURE_KEYS
    assert by_name["age"]["drifted"] is True and by_name["income"]["drifted"] is False
    assert "quality" in body and "ts" in body["quality"]["extra_columns"]
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs[0] == "drift_summary.png" and len(pngs) >= 3
    assert (tmp_path / "out" / "drift_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# `mlops-bot report` in a fresh interpreter, then the modules it imported
FRESH_CLI = """
import json, sys
from bot.cli import main
sys.argv = ["mlops-bot", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ("mlflow", "matplotlib", "scipy", "pandas", "sqlalchemy")
print(json.dumps({"code": code, "mlflow": "mlflow" in sys.modules,
                  "heavy": [m for m in heavy if m in sys.modules]}))
"""


def fresh_cli(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    """`mlops-bot ARGS` in a fresh interpreter: (exit code and modules imported, stdout)."""
    res = subprocess.run(
        [sys.executable, "-c", FRESH_CLI, *args],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1]), res.stdout


@pytest.mark.slow
def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    for args in (["--help"], ["report", "--help"]):
        seen, _ = fresh_cli(tmp_path, *args)
        assert seen["code"] == 0 and seen["heavy"] == [], args


@pytest.mark.slow
def test_adhoc_report_neither_imports_mlflow_nor_creates_a_database(tmp_path: Path) -> None:
    ref, cur = frames()
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    args = ["report", "drift", "--reference", "ref.parquet", "--current", "cur.csv"]
    seen, stdout = fresh_cli(tmp_path, *args, "--out", "out", "--fail-on-drift")
    assert seen["code"] == 3 and seen["mlflow"] is False  # drift: exit 3; MLflow not imported
    assert "verdict: DRIFT" in stdout
    assert (tmp_path / "out" / "report.json").exists()
    assert sorted(p.name for p in tmp_path.rglob("*.db")) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["drift", "--current", "cur.csv"], "no data to compare"),
        (["drift", "--reference", "nope.csv", "--current", "nope.csv"], "does not exist"),
        (["sideways"], "drift or perf"),
        (["drift", "chrun"], "Did you mean 'churn'"),
    ],
)
def test_cli_bad_input_exits_1_with_one_line(
    tmp_path: Path, mlflow_store: str, args: list[str], expected: str
) -> None:
    res = run_cli(tmp_path, *args, env={"MLFLOW_TRACKING_URI": mlflow_store})
    assert res.returncode == 1
    assert expected in res.stderr and "Traceback" not in res.stderr


def test_model_report_uses_the_monitor_and_the_holders_artifact(
    tmp_path: Path, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    ref, cur = frames()
    ref.to_parquet(tmp_path / "reference.parquet")
    cur.to_parquet(tmp_path / "current.parquet")
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    run_id = client.get_model_version_by_alias("churn", "champion").run_id
    client.log_artifact(run_id, str(tmp_path / "reference.parquet"))
    policy = tmp_path / "policy.toml"
    policy.write_text(f"""
[models.churn]
owners = ["U0ALICE"]
[models.churn.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "{tmp_path / "current.parquet"}"
target = "label"
prediction = "prediction"
timestamp = "ts"
window = "1D"
[models.churn.monitor.features]
income = {{ method = "psi", threshold = 0.3 }}
""")
    settings = Settings(
        _env_file=None,
        mlflow_tracking_uri=mlflow_store,  # type: ignore[call-arg]
        mlops_bot_config=policy,
    )
    registry, pol = Registry(mlflow_store), load_policy(settings)
    rep = make_report("drift", registry, pol, model="churn")
    doc = rep.document
    assert isinstance(doc, DriftDocument)
    assert (doc.model, doc.alias, doc.version) == ("churn", "champion", "1")
    assert doc.run_id == run_id and rep.alert
    names = {f.name: f for f in doc.features}
    assert "label" not in names and "prediction" not in names  # target columns excluded
    assert names["income"].method == "psi" and names["income"].threshold == 0.3
    written = write_report(rep, tmp_path / "out")
    assert json.loads(written[0].read_text())["kind"] == "drift"

    perf = make_report("perf", registry, pol, model="churn")
    assert isinstance(perf.document, PerfDocument)
    body = perf.document.performance
    assert body.task == "classification" and body.windows
    assert body.baseline["roc_auc"] == pytest.approx(0.80)  # logged on the v1 run
    assert any(name.startswith("metric_") for name, _ in perf.charts)


def test_ten_feature_charts_render_quickly(tmp_path: Path) -> None:
    """Not a timed assertion on speed: checks the count; the time is printed for the README."""
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({f"f{i}": rng.normal(size=20000) for i in range(12)})
    cur = ref + 1.0
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    started = time.perf_counter()
    rep = make_report(
        "drift",
        Registry("sqlite:///unused.db"),
        load_policy(Settings(_env_file=None)),
        reference=str(tmp_path / "r.parquet"),  # type: ignore[call-arg]
        current=str(tmp_path / "c.parquet"),
    )
    print(f"drift report + {len(rep.charts)} charts: {time.perf_counter() - started:.2f} s")
    assert len(rep.charts) == 11  # summary + the 10 most drifted features


def test_report_error_when_no_sources() -> None:
    with pytest.raises(ReportError):
        make_report(
            "drift",
            Registry("sqlite:///unused.db"),
            load_policy(Settings(_env_file=None)),
            current="x.csv",
        )  # type: ignore[call-arg]
