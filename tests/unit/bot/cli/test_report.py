"""`mlops-bot report` in-process: `--out` refused before any data is read, the terminal
summary after the paths, `--fail-on-drift`, and the policy found as the shell finds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from bot.cli import cli


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a drifted pair of files and no policy, database or .env."""
    for key in ("MLOPS_BOT_CONFIG", "DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(key, "")  # empty = unset; restored after the test
    monkeypatch.setenv("MLOPS_BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    n = 2000
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    cur = ref.assign(age=ref["age"] + 8)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    ref.to_parquet(tmp_path / "same.parquet")
    return tmp_path


def report(*args: str) -> Result:
    return CliRunner().invoke(cli, ["report", *args])


def drift(current: str = "cur.parquet", *args: str) -> Result:
    return report("drift", "--reference", "ref.parquet", "--current", current, *args)


def test_summary_follows_the_paths(here: Path) -> None:
    res = drift("cur.parquet", "--out", "out")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == str(Path("out") / "report.json")
    verdict = next(i for i, line in enumerate(lines) if line.startswith("verdict:"))
    assert all(line.startswith("out") for line in lines[:verdict])  # the paths come first
    assert "verdict: DRIFT — 1 of 3 tested features drifted" in lines[verdict]
    table = "\n".join(lines[verdict:])
    age = next(line.split() for line in lines[verdict:] if line.split()[:1] == ["age"])
    assert age[-2:] != ["not", "drifted"] and age[-1] == "drifted", table
    assert table.index("age") < table.index("income")  # most severe first
    assert lines[-1] == "schema: no changes"


def test_schema_changes_are_named(here: Path) -> None:
    pd.read_parquet("cur.parquet").drop(columns="plan").assign(ts=1).to_parquet("cur2.parquet")
    res = drift("cur2.parquet", "--out", "out")
    assert res.exit_code == 0, res.output
    assert "schema: missing: plan; new: ts" in res.stdout


def test_fail_on_drift_exits_3_only_on_drift(here: Path) -> None:
    drifted = drift("cur.parquet", "--out", "a", "--fail-on-drift")
    assert drifted.exit_code == 3, drifted.output
    assert (here / "a" / "report.json").exists()  # written before the exit status says drift
    calm = drift("same.parquet", "--out", "b", "--fail-on-drift")
    assert calm.exit_code == 0, calm.output
    assert "verdict: no drift — 0 of 3 tested features drifted" in calm.stdout


@pytest.mark.parametrize(
    ("setup", "out", "expected"),
    [
        ("file", "taken", "--out taken is a file; name a directory"),
        ("report", "old", "--out old already holds a report (report.json); add --force"),
        ("file", "taken/sub", "is a file, not a directory"),
    ],
)
def test_out_problems_are_one_line_before_any_work(
    here: Path, setup: str, out: str, expected: str
) -> None:
    if setup == "file":
        (here / "taken").write_text("mine\n")
    else:
        (here / "old").mkdir()
        (here / "old" / "report.json").write_text("{}")
    res = drift("cur.parquet", "--out", out)
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("mlops-bot: ")
    assert expected in res.stderr
    assert "…" not in res.stderr  # no progress: refused before reading anything
    assert not (here / "data").exists()
    if setup == "file":
        assert (here / "taken").read_text() == "mine\n"


def test_force_replaces_the_report_only_once_a_new_one_is_made(here: Path) -> None:
    assert drift("cur.parquet", "--out", "out").exit_code == 0
    (here / "out" / "feature_99_gone.png").write_bytes(b"old chart")
    (here / "out" / "notes.txt").write_text("mine")
    failed = drift("missing.parquet", "--out", "out", "--force")
    assert failed.exit_code == 1 and "does not exist" in failed.stderr
    assert (here / "out" / "feature_99_gone.png").exists()  # the old report is whole
    replaced = drift("same.parquet", "--out", "out", "--force")
    assert replaced.exit_code == 0, replaced.output
    assert not (here / "out" / "feature_99_gone.png").exists()
    assert (here / "out" / "notes.txt").read_text() == "mine"  # not a report file: kept
    assert json.loads((here / "out" / "report.json").read_text())["dataset_drift"] is False


def test_performance_is_a_name_for_perf(here: Path) -> None:
    res = report("performance", "--current", "nope.csv", "--out", "out")
    assert res.exit_code == 1
    assert "does not exist" in res.stderr and "drift or perf" not in res.stderr


def test_a_model_report_without_an_mlflow_store_says_so(here: Path) -> None:
    res = report("drift", "churn", "--out", "out")
    assert res.exit_code == 1
    assert "no MLflow store at" in res.stderr and "mlops-bot demo" in res.stderr
    assert not (here / "data").exists()  # no empty store was created


def test_no_charts_writes_the_document_only(here: Path) -> None:
    res = drift("cur.parquet", "--out", "out", "--no-charts")
    assert res.exit_code == 0, res.output
    assert (here / "out" / "report.json").exists()
    assert list((here / "out").glob("*.png")) == []
    assert "rendering charts" not in res.stderr


def test_piped_progress_is_plain_lines(here: Path) -> None:
    res = drift("cur.parquet", "--out", "out")
    assert res.exit_code == 0, res.output
    progress = [line for line in res.stderr.splitlines() if line.startswith("… ")]
    assert progress[0].startswith("… loading: ")
    assert "… comparing: 3/3 columns" in progress
    assert progress[-1] == "… charts: rendering charts"
    assert "\x1b[" not in res.stderr  # no control codes in a CI log
