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
from bot.monitoring.datasets import DatasetError
from bot.monitoring.document import DriftDocument, PerfDocument
from bot.monitoring.report import Report, ReportError, make_report
from bot.monitoring.report_files import write_report
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
import json, os, sys
from bot.cli import main
numpy_before_main = "numpy" in sys.modules
sys.argv = ["mlops-bot", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ("mlflow", "matplotlib", "scipy", "pandas", "sqlalchemy")
slow = ("scipy.stats", "sqlalchemy", "httpx", "prometheus_client")  # not needed by a file report
print(json.dumps({"code": code, "mlflow": "mlflow" in sys.modules,
                  "heavy": [m for m in heavy if m in sys.modules],
                  "slow": [m for m in slow if m in sys.modules],
                  "numpy_before_main": numpy_before_main,
                  "blas_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}))
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
    assert not list(tmp_path.rglob("profiles"))  # files alone: no profile is stored


@pytest.mark.slow
def test_a_large_adhoc_report_imports_only_what_its_tests_need(tmp_path: Path) -> None:
    """Issue 14 item 9: past 1,000 reference rows numbers get Wasserstein and categories
    Jensen-Shannon, so scipy.stats (~1 s of import) is not needed, nor the database, HTTP
    client or metrics modules; the charts are drawn (in two processes where two CPUs are)."""
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b", "c"], 3000)})
    cur = ref.assign(x=ref["x"] + 1.0)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    args = ["report", "drift", "--reference", "ref.parquet", "--current", "cur.parquet"]
    seen, stdout = fresh_cli(tmp_path, *args, "--out", "out")
    assert seen["code"] == 0 and seen["slow"] == [], seen
    # OpenBLAS reads its spin time when numpy loads: after main() set it (CPU, same results)
    assert seen["numpy_before_main"] is False and seen["blas_timeout"] == "4", seen
    assert "wasserstein" in stdout and "jensenshannon" in stdout  # the terminal summary
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["drift_summary.png", "feature_01_x.png", "feature_02_c.png"]


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


def adhoc(tmp_path: Path, ref: pd.DataFrame, cur: pd.DataFrame, **kw: object) -> Report:
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    return make_report(
        "drift",
        Registry(f"sqlite:///{tmp_path / 'unused.db'}"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        reference=str(tmp_path / "r.parquet"),
        current=str(tmp_path / "c.parquet"),
        charts=False,
        **kw,  # type: ignore[arg-type]
    )


def test_no_column_in_common_is_a_failed_report(tmp_path: Path) -> None:
    """Issue 14 item 2: main answered `"drifted_share": 0.0, "dataset_drift": false`."""
    with pytest.raises(ReportError, match=r"^no column to compare: the reference has 2 column"):
        adhoc(tmp_path, pd.DataFrame({"a": [1.0], "b": [2.0]}), pd.DataFrame({"c": [1.0]}))


def test_a_schema_change_alone_alerts_and_is_listed_first(tmp_path: Path) -> None:
    ref, _ = frames(400)
    cur = ref.drop(columns=["income"]).assign(region="eu", plan=ref["plan"].astype("category"))
    rep = adhoc(tmp_path, ref, cur.assign(label=cur["label"].astype(str)))
    doc = rep.document
    assert isinstance(doc, DriftDocument) and not any(f.drifted for f in doc.features)
    assert rep.alert is True
    body = json.loads(doc.to_json())
    assert body["schema"] == {
        "missing": ["income"],
        "new": ["region"],
        "changed_types": [{"name": "label", "reference": "int64", "current": "str"}],
    }
    assert list(body).index("schema") < list(body).index("features")
    assert body["correction"] == "bh"


def test_correction_none_and_the_report_time_come_from_the_caller(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    ref, cur = frames(400)
    at = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    rep = adhoc(tmp_path, ref, cur, correction="none", now=at)
    doc = rep.document
    assert isinstance(doc, DriftDocument) and doc.correction == "none"
    assert doc.generated_at == "2026-11-01T12:30:00Z"
    assert all(f.p_value_adjusted is None for f in doc.features)
    (ts,) = [c for c in doc.quality.columns if c.name == "ts"] or [None]
    assert ts is None  # `ts` is new in current: a schema change, not a compared column
    assert [name for name, _ in rep.files] == ["drift_features.csv"]


@pytest.mark.slow
def test_cli_no_column_in_common_exits_1_with_one_line(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"b": [1.0, 2.0]}).to_csv(tmp_path / "b.csv", index=False)
    res = run_cli(tmp_path, "drift", "--reference", "a.csv", "--current", "b.csv")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].endswith("none is in both")
    assert not (tmp_path / "report" / "report.json").exists()


@pytest.mark.slow
def test_cli_correction_none_keeps_raw_p_and_a_bad_value_is_one_line(tmp_path: Path) -> None:
    ref, cur = frames(400)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.drop(columns=["ts"]).to_parquet(tmp_path / "cur.parquet")
    files = ["--reference", "ref.parquet", "--current", "cur.parquet"]
    bad = run_cli(tmp_path, "drift", *files, "--correction", "holm")
    assert bad.returncode == 1 and "--correction must be bh or none, not 'holm'" in bad.stderr
    res = run_cli(tmp_path, "drift", *files, "--correction", "none", "--out", "out")
    assert res.returncode == 0, res.stderr
    body = json.loads((tmp_path / "out" / "report.json").read_text())
    assert body["correction"] == "none"
    assert {f["p_value_adjusted"] for f in body["features"]} == {None}
    assert [f["name"] for f in body["features"]][0] == "age"  # severity order: the shifted one
    table = (tmp_path / "out" / "drift_features.csv").read_text().splitlines()
    assert table[0].startswith("feature,status,type,method") and table[1].startswith("age,drifted")


def test_a_folder_of_partitions_is_read_in_memory_when_it_is_small(tmp_path: Path) -> None:
    """`auto` keeps a small folder on numpy: its loader reads every data file of the folder
    (hive partition keys are not columns, as with DuckDB) instead of failing on a directory."""
    ref, cur = frames(400)
    ref.to_parquet(tmp_path / "r.parquet")
    days = tmp_path / "current"
    for i, part in enumerate((cur.iloc[:150], cur.iloc[150:])):
        (days / f"day=2026-11-0{i + 1}").mkdir(parents=True)
        part.to_parquet(days / f"day=2026-11-0{i + 1}" / "part-0.parquet")
    (tmp_path / "empty").mkdir()
    policy = load_policy(Settings(_env_file=None))  # type: ignore[call-arg]
    registry = Registry(f"sqlite:///{tmp_path / 'unused.db'}")
    rep = make_report(
        "drift",
        registry,
        policy,
        reference=str(tmp_path / "r.parquet"),
        current=str(days),
        charts=False,
    )
    body = json.loads(rep.document.to_json())
    assert body["engine"] == "numpy" and body["current"]["rows"] == len(cur)
    assert "day" not in body["schema"]["new"]
    with pytest.raises(DatasetError, match="folder without Parquet or CSV files"):
        make_report(
            "drift",
            registry,
            policy,
            reference=str(tmp_path / "r.parquet"),
            current=str(tmp_path / "empty"),
            charts=False,
        )
