"""Local shell and demo workspace (issue 6): scripted sessions over the real Bolt listeners.

The demo is seeded once per session by what a newcomer runs first — `mlops-bot run` in an empty
directory with no Slack variables — and each test works on a copy of that directory.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from handlers.shell.render import mrkdwn, render_blocks
from tests.helpers import run_mlops_bot

_OURS = re.compile(r"^(SLACK_|MLFLOW_|MLOPS_BOT_|DATABASE_URL$)")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Slack, MLflow or bot variable (a fresh clone's)."""
    env = {k: v for k, v in os.environ.items() if not _OURS.match(k)}
    env.update(extra)
    return env


def run_cli(
    cwd: Path, *args: str, stdin: str = "", timeout: float = 600
) -> subprocess.CompletedProcess:
    return run_mlops_bot(cwd, *args, env=clean_env(), timeout=timeout, stdin=stdin)


@pytest.fixture(scope="session")
def fresh_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """`mlops-bot run` in an empty directory, no Slack variables, typing `/mlops models`."""
    root = tmp_path_factory.mktemp("fresh-clone")
    proc = run_cli(root, "run", stdin="/mlops models\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, proc


@pytest.fixture
def workspace(fresh_run: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> Path:
    """A private copy of the seeded directory (relative paths: `.mlops-bot/…`)."""
    dest = tmp_path / "ws"
    shutil.copytree(fresh_run[0], dest)
    return dest


@pytest.fixture
def in_dir(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in-process inside the workspace, with a fresh clone's environment."""
    for key in list(os.environ):
        if _OURS.match(key):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MLOPS_BOT_CONFIG", "")  # empty = unset; restored after the test
    # MLflow caches its stores by URI in-process: the relative default would reach the first
    # test's copy, so in-process tests name this copy's store by its absolute path
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workspace / '.mlops-bot' / 'mlflow.db'}")
    monkeypatch.chdir(workspace)
    yield workspace


def shell_session(script: str, user: str | None = None) -> str:
    """An in-process shell session fed by `script`; returns what it printed."""
    from bot.bootstrap import build_runtime
    from bot.config import Settings
    from handlers.shell import startup as shell

    shell.adopt_demo_policy()
    rt = build_runtime(Settings(_env_file=None))  # type: ignore[call-arg]
    out = io.StringIO()
    code = shell.open_shell(rt, user=user, stdin=io.StringIO(script), stdout=out)
    assert code == 0
    return out.getvalue()


def aliases(root: Path) -> dict[str, str]:
    model = mlflow_client(root).get_registered_model("churn")
    return {k: str(v) for k, v in model.aliases.items()}


def mlflow_client(root: Path):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / '.mlops-bot' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def after(output: str, command: str) -> str:
    """The output printed after the last echo of `command` (up to the next prompt)."""
    part = output.rsplit(f"> {command}\n", 1)[1]
    return re.split(r"\n[UW]\w+ #\w+> ", part, maxsplit=1)[0]


# -- make run from a fresh clone ---------------------------------------------------------------


def test_make_run_without_slack_seeds_the_demo_and_shows_models(
    fresh_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    root, proc = fresh_run
    out = proc.stdout
    assert "seeding the demo workspace" in out
    assert "No Slack app: set SLACK_BOT_TOKEN" in out
    assert "/mlops promote churn 3 champion better recall" in out  # the welcome screen's tour
    models = after(out, "/mlops models")
    assert "churn" in models and "`@champion` → v1" in models and "`@challenger` → v3" in models
    assert (root / ".mlops-bot" / "mlops-bot.toml").exists()
    assert (root / ".mlops-bot" / "demo" / "current.parquet").exists()
    assert "Traceback" not in proc.stderr


def test_demo_store_holds_a_real_model(fresh_run: tuple[Path, subprocess.CompletedProcess]) -> None:
    import pandas as pd

    root, _ = fresh_run
    client = mlflow_client(root)
    assert aliases(root) == {"champion": "1", "challenger": "3"}
    versions = sorted(client.search_model_versions("name='churn'"), key=lambda v: int(v.version))
    assert [str(v.version) for v in versions] == ["1", "2", "3"]
    for v in versions:
        run = client.get_run(v.run_id)
        assert {"roc_auc", "accuracy", "f1", "latency_ms"} <= set(run.data.metrics)
        assert run.data.params["dataset"] == "sklearn.datasets.load_breast_cancer"
        names = {a.path for a in client.list_artifacts(v.run_id)}
        assert {"reference.parquet", "model"} <= names
    ref = pd.read_parquet(client.download_artifacts(versions[0].run_id, "reference.parquet"))
    assert {"label", "prediction", "mean_radius"} <= set(ref.columns) and len(ref) > 300
    current = pd.read_parquet(root / ".mlops-bot" / "demo" / "current.parquet")
    assert current["mean_radius"].mean() > ref["mean_radius"].mean() * 1.1  # drifted on purpose


# -- the tour, in a real subprocess --------------------------------------------------------------

TOUR = """\
/mlops models
/mlops show churn @challenger
/mlops promote churn 3 champion Better AUC and 20x faster
press 1
as U0BOB
press 1
/mlops models
/mlops audit
"""


@pytest.mark.slow
def test_run_tour_request_refuse_approve(workspace: Path) -> None:
    proc = run_cli(workspace, "run", stdin=TOUR)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "seeding" not in out  # the store is not empty: no second seeding

    first_models = out.split("> /mlops models\n")[1]
    assert "`@champion` → v1" in first_models.split("> /mlops show")[0]
    show = after(out, "/mlops show churn @challenger")
    assert "churn v3" in show and "`@challenger`" in show and "roc_auc" in show

    card = after(out, "/mlops promote churn 3 champion Better AUC and 20x faster")
    assert "Promotion request: churn v3 → @champion" in card
    assert "[1 Approve] [2 Reject…] [3 Details]" in card
    assert "Requested by: @U0ALICE" in card and "only @U0ALICE sees this" in card

    refused, approved = out.split("> press 1\n")[1:3]
    assert "You can't approve or reject your own request." in refused
    assert "Promoted" in approved and "Approvals: 1/1 (@U0BOB)" in approved
    assert "reply in the thread of message 1" in approved
    assert "`@champion` of `churn` moved to v3 (was v1)" in approved

    assert "`@champion` → v3" in after(out, "/mlops models")
    audit = after(out, "/mlops audit")
    for action in ("promotion_requested", "approval_denied", "approval_granted"):
        assert action in audit
    assert "promotion_applied" in audit

    assert aliases(workspace)["champion"] == "3"
    tags = mlflow_client(workspace).get_model_version("churn", "3").tags
    assert tags["mlops_bot.approved_by"] == "U0BOB"


# -- in-process sessions ---------------------------------------------------------------------


def test_reject_flow_modal_answered_on_the_next_line(in_dir: Path) -> None:
    out = shell_session(
        "/mlops promote churn 2 champion simpler model\n"
        "as U0CAROL\n"
        "press 2\n"
        "no\n"  # too short: the modal stays open and asks again
        "v2 fails the AUC gate\n"
        "/mlops audit churn\n"
    )
    card = after(out, "/mlops promote churn 2 champion simpler model")
    assert "❌ `roc_auc >= champion - 0.005`" in card  # v2 fails a gate …
    assert "[1 Override…] [2 Reject…] [3 Details]" in card  # … so approving needs an Override
    assert "modal · Reject promotion" in out
    assert "Why reject? > no\n⚠️ Please give a reason.\nWhy reject? > v2 fails the AUC gate" in out
    rejected = after(out, "v2 fails the AUC gate")
    assert "Rejected by @U0CAROL" in rejected and "v2 fails the AUC gate" in rejected
    assert "reply in the thread of message 1" in rejected
    assert "promotion_rejected" in after(out, "/mlops audit churn")
    assert aliases(in_dir)["champion"] == "1"


def test_v3_passes_the_gates_and_a_blank_line_cancels_a_modal(in_dir: Path) -> None:
    out = shell_session(
        "/mlops promote churn 3 champion better recall\nas U0BOB\npress 2\n\n/mlops pending\n"
    )
    card = after(out, "/mlops promote churn 3 champion better recall")
    # the demo's three metric gates, the signature gate (v3 only drops a column) and the
    # source gate (the demo logs each model in its run)
    assert card.count("✅ `") == 5 and "❌" not in card
    assert "✅ `signature_compatible` — needs no input column that v1 did not" in card
    assert "✅ `source inside the run's artifacts`" in card
    assert "(modal closed: Cancel)" in out
    assert "0/1" in after(out, "/mlops pending")  # still pending: nothing was submitted


def test_a_missing_justification_is_asked_in_a_modal_and_the_card_is_a_model_card(
    in_dir: Path,
) -> None:
    out = shell_session("/mlops promote churn 3 champion\nsame callers, better recall\npress 3\n")
    assert "modal · Justify the promotion" in out
    assert "Why this version? > same callers, better recall" in out
    card = out.split("Why this version? > same callers, better recall\n")[1]
    assert "│ Justification\n│ > same callers, better recall" in card
    # the demo's v3 is trained without one column: the diff shows it, the gate passes
    assert "− input `mean_fractal_dimension` (double)" in card
    assert "✅ `signature_compatible`" in card
    assert "Training data of v3" in card and "breast_cancer_train" in card
    assert "[1 Approve] [2 Reject…] [3 Details]" in card
    details = after(out, "press 3")
    assert "modal · Request details" in details and "Training data of v1" in details


def test_history_after_a_promotion_in_the_shell_and_in_app_home(in_dir: Path) -> None:
    out = shell_session(
        "/mlops promote churn 3 champion better recall\n"
        "as U0BOB\n"
        "press 1\n"
        "/mlops history churn @champion\n"
        "/mlops history churn @champion at 1999-01-01\n"
        "home\n"
    )
    timeline = after(out, "/mlops history churn @champion")
    assert "History of churn @champion" in timeline
    assert "v3" in timeline and "requested by @U0ALICE" in timeline
    assert "approved by @U0BOB" in timeline and "better recall" in timeline
    assert "v1 — before the log" in timeline and "held before the first recorded move" in timeline
    long_ago = after(out, "/mlops history churn @champion at 1999-01-01")
    assert "was held by v1" in long_ago and "the last holder the log knows of" in long_ago
    home = after(out, "home")
    assert "Alias history of your models" in home and "approved by @U0BOB" in home


def test_override_flow_and_app_home(in_dir: Path) -> None:
    out = shell_session(
        "/mlops promote churn 2 champion simpler model\nas U0BOB\nhome\npress 1\n"
        "Latency matters more today\n"
    )
    home = after(out, "home")
    assert "App Home of @U0BOB" in home and "Waiting for you" in home
    assert "[1 Override…] [2 Reject…]" in home
    assert "modal · Override gates" in out
    done = after(out, "Latency matters more today")
    assert "Overridden by @U0BOB" in done and "moved to v2" in done
    assert aliases(in_dir)["champion"] == "2"


def test_drift_report_prints_the_path_of_its_page(in_dir: Path) -> None:
    out = shell_session("/mlops drift churn\n")
    shown = after(out, "/mlops drift churn")
    found = re.search(r"🌐 every feature and chart → (\S+\.html)", shown)
    assert found, shown
    html = (in_dir / found.group(1)).read_text(encoding="utf-8")
    assert "mean_radius" in html and html.count('src="data:image/png;base64,') >= 2
    assert "Full report in the browser" not in out  # no public URL: no link


def test_shell_commands_help_errors_and_eof(in_dir: Path) -> None:
    out = shell_session(
        "help\n"
        "press 1\n"
        "as nobody\n"
        "in C0OTHER\n"
        "/deploy now\n"
        "frobnicate\n"
        "# a comment line is ignored\n"
        "/mlops help\n"
        "/mlops show churn payload\n"
        "/mlops show chrun\n"
    )
    assert "press N" in after(out, "help") and "as U0BOB" in after(out, "help")
    assert "There are no buttons to press yet." in after(out, "press 1")
    assert "not a Slack user ID" in after(out, "as nobody")
    assert "U0ALICE #C0OTHER> /deploy now" in out
    assert "Only /mlops is installed" in after(out, "/deploy now")
    assert "Unknown shell command `frobnicate`" in out
    assert "/mlops promote" in after(out, "/mlops help")
    assert "neither a version number nor an @alias" in after(out, "/mlops show churn payload")
    assert "Did you mean `churn`?" in after(out, "/mlops show chrun")


def test_as_option_and_quit(in_dir: Path) -> None:
    out = shell_session("/mlops pending\nquit\n/mlops models\n", user="U0BOB")
    assert "You are @U0BOB in #C0DEMO" in out
    assert "U0BOB #C0DEMO> quit" in out and "/mlops models" not in out.split("> quit")[1]


def test_shell_option_validation() -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, ["shell", "--user", "bob"])
    assert result.exit_code == 2 and "not a Slack user ID" in result.output
    result = CliRunner().invoke(cli, ["shell", "--channel", "random"])
    assert result.exit_code == 2 and "not a Slack channel ID" in result.output


def test_shell_options_take_the_sigils(in_dir: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli

    args = ["shell", "--user", "@U0BOB", "--channel", "#C0DEMO"]
    result = CliRunner().invoke(cli, args, input="in #c0other\nquit\n")
    assert result.exit_code == 0, result.output
    assert "You are @U0BOB in #C0DEMO" in result.output
    assert "You are now in #C0OTHER." in result.output


# -- the report CLI after the demo -----------------------------------------------------------


@pytest.mark.slow
def test_report_after_the_demo_uses_its_policy(workspace: Path) -> None:
    """`mlops-bot demo`, then `mlops-bot report drift churn`, with no MLOPS_BOT_CONFIG."""
    proc = run_cli(workspace, "report", "drift", "churn", "--out", "out", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "policy: .mlops-bot/mlops-bot.toml (the demo workspace's" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "out/report.json"
    verdict = next(line for line in lines if line.startswith("verdict:"))
    assert verdict.startswith("verdict: DRIFT")
    top = [line.split()[0] for line in lines[lines.index(verdict) + 1 :] if line.strip()]
    assert {"mean_radius", "mean_texture"} <= set(top[2:5])  # header, rule, then the features
    gated = run_cli(workspace, "report", "drift", "churn", "--out", "out", "--fail-on-drift")
    assert gated.returncode == 1 and "already holds a report" in gated.stderr
    first = json.loads((workspace / "out" / "report.json").read_text())
    gated = run_cli(
        workspace, "report", "drift", "churn", "--out", "out", "--force", "--fail-on-drift"
    )
    assert gated.returncode == 3, gated.stderr
    # the monitor's reference was profiled by the first report, stored in the data dir
    again = json.loads((workspace / "out" / "report.json").read_text())
    assert (first["reference"]["profile"], again["reference"]["profile"]) == ("computed", "cached")
    assert first["features"] == again["features"]
    assert list((workspace / ".mlops-bot" / "profiles" / "reference").rglob("*.parquet"))


# -- demo idempotency and reset --------------------------------------------------------------


def test_demo_twice_changes_nothing(in_dir: Path) -> None:
    from bot import demo
    from bot.config import Settings

    files = [in_dir / ".mlops-bot" / n for n in ("mlflow.db", "mlops-bot.toml")]
    files.append(in_dir / ".mlops-bot" / "demo" / "current.parquet")
    before = [f.stat().st_mtime_ns for f in files]
    said: list[str] = []
    changed = demo.seed(Settings(_env_file=None), echo=said.append)  # type: ignore[call-arg]
    assert changed is False
    assert "already seeded" in said[0] and "Nothing changed" in said[0]
    assert [f.stat().st_mtime_ns for f in files] == before


def test_demo_perf_report_names_the_version_and_estimates_with_cbpe(in_dir: Path) -> None:
    from bot.config import Settings
    from bot.monitoring.document import PerfDocument
    from bot.monitoring.report import make_report
    from bot.policy.file import load_policy
    from bot.registry.gateway import Registry

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, mlops_bot_config=in_dir / ".mlops-bot" / "mlops-bot.toml"
    )
    mlflow_client(in_dir).set_registered_model_alias("churn", "champion", "3")
    rep = make_report(
        "perf", Registry(settings.mlflow_tracking_uri), load_policy(settings), model="churn"
    )
    doc = rep.document
    assert isinstance(doc, PerfDocument)
    assert rep.title.startswith("churn v1 — performance")  # v1 predicted; @champion is v3 now
    perf = doc.performance
    assert perf.baseline_source is not None and perf.baseline_source.endswith("(v1)")
    assert perf.score == "score" and perf.metrics["roc_auc"] is not None
    assert perf.cbpe is not None and perf.cbpe.reason is None and perf.cbpe.windows
    assert all(w.rows >= 30 for w in perf.windows)
    assert "cbpe_accuracy.png" in [name for name, _ in rep.charts]


def test_demo_refuses_someone_elses_churn(in_dir: Path) -> None:
    from bot import demo
    from bot.config import Settings

    mlflow_client(in_dir).delete_registered_model_tag("churn", demo.DEMO_TAG)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(demo.DemoError, match="not made by `mlops-bot demo`"):
        demo.seed(settings, echo=lambda _: None)
    assert not demo.store_is_empty(settings)


@pytest.mark.slow
def test_demo_reset_starts_over(in_dir: Path) -> None:
    shell_session("/mlops promote churn 3 champion better recall\nas U0BOB\npress 1\n")
    assert aliases(in_dir)["champion"] == "3"
    proc = run_cli(in_dir, "demo", "--reset")
    assert proc.returncode == 0, proc.stderr
    assert "reset: deleted the embedded MLflow store" in proc.stdout
    assert "churn v3" in proc.stdout and "gates pass" in proc.stdout
    assert "fails roc_auc >= champion - 0.005" in proc.stdout  # v2
    # read with sqlite3: this process's MLflow store cache still holds the deleted file
    with closing(sqlite3.connect(in_dir / ".mlops-bot" / "mlflow.db")) as conn:
        rows = conn.execute("SELECT alias, version FROM registered_model_aliases").fetchall()
    assert sorted(rows) == [("challenger", 3), ("champion", 1)]
    # requests and audit: gone (the database is made again, migrated and empty)
    with closing(sqlite3.connect(in_dir / ".mlops-bot" / "mlops_bot.db")) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM promotion_request").fetchone() == (0,)
    assert "reset: deleted the embedded bot database" in proc.stdout


# -- rendering -------------------------------------------------------------------------------


def test_mrkdwn_to_text() -> None:
    assert mrkdwn("*Requested by*\n<@U0ALICE>") == "Requested by\n@U0ALICE"
    assert mrkdwn("<#C0DEMO|mlops> <!subteam^S0ML|@ml-leads> <https://x.io|the run>") == (
        "#mlops @ml-leads the run (https://x.io)"
    )
    assert mrkdwn(":white_check_mark: `a_b_c` &lt;tag&gt; _it_ :unknown_emoji:") == (
        "✅ `a_b_c` <tag> it :unknown_emoji:"
    )
    assert mrkdwn("`*not bold*` *bold*") == "`*not bold*` bold"
    assert mrkdwn("&gt;quoted reason") == "> quoted reason"


def test_blocks_render_numbered_buttons_and_fields() -> None:
    def button(text: str, action_id: str) -> dict:
        return {
            "type": "button",
            "text": {"type": "plain_text", "text": text},
            "action_id": action_id,
        }

    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Card"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Approvals*\n0/2"}]},
        {
            "type": "actions",
            "block_id": "b1",
            "elements": [button("Approve", "a"), button("Reject…", "r")],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in ("one", "two")]},
    ]
    rendered = render_blocks(blocks)
    assert rendered.lines == [
        "Card",
        "════",
        "Approvals: 0/2",
        "[1 Approve] [2 Reject…]",
        "  one · two",
    ]
    assert [(b.number, b.action_id, b.block_id) for b in rendered.buttons] == [
        (1, "a", "b1"),
        (2, "r", "b1"),
    ]
