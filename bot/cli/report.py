"""`mlops-bot report drift|perf`: a report as files, a summary in the terminal (and, with
--channel, posted to Slack). A pipeline step: exit 1 when the report cannot be made, 3 with
`--fail-on-drift` when it alerts.

The policy is found as the shell finds it (MLOPS_BOT_CONFIG, `./mlops-bot.toml`, then the demo
workspace's). Without --channel no database is opened, and a report on `--reference/--current`
files alone never imports MLflow: the heavy modules are imported where they are needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

SOURCE_HELP = "path, glob, http(s) URL or mlflow-artifact:<path>"
EXIT_ALERT = 3  # --fail-on-drift and the report alerts
KINDS = {"drift": "drift", "perf": "perf", "performance": "perf"}


def report(
    kind: str = typer.Argument(..., help="drift or perf (or performance)"),
    model: str | None = typer.Argument(None, help="registered model (optional with both URIs)"),
    alias: str | None = typer.Option(None, "--alias", help="alias whose holder is reported on"),
    reference: str | None = typer.Option(
        None, "--reference", help="path, glob, URL, mlflow-artifact:"
    ),
    current: str | None = typer.Option(None, "--current", help="path, glob, URL, mlflow-artifact:"),
    out: Path = typer.Option(
        Path("report"), "--out", help="directory for report.json and PNGs (created if missing)"
    ),
    force: bool = typer.Option(
        False, "--force", help="replace the report already in --out (its report.json and PNGs)"
    ),
    fail_on_drift: bool = typer.Option(
        False,
        "--fail-on-drift",
        help="exit 3 when the report alerts (drift, schema change, degraded metric)",
    ),
    charts: bool = typer.Option(
        True, "--charts/--no-charts", help="draw the PNG charts (--no-charts: none, faster)"
    ),
    channel: str | None = typer.Option(None, "--channel", help="also post to this Slack channel"),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="drift: auto, numpy, duckdb or spark (default: the monitor's or auto)",
    ),
    correction: str | None = typer.Option(
        None, "--correction", help="bh or none (raw p, Evidently's verdicts); default: the policy's"
    ),
    target: str | None = typer.Option(None, "--target", help="perf: the label column"),
    prediction: str | None = typer.Option(None, "--prediction", help="perf: the prediction column"),
    score: str | None = typer.Option(None, "--score", help="perf: the score column"),
    timestamp: str | None = typer.Option(None, "--timestamp", help="perf: the time column"),
) -> None:
    """Write DIR/report.json and PNG charts, then print a summary; exit 1 with a one-line reason
    on bad input, 3 with --fail-on-drift when the report alerts."""
    from bot import demo
    from bot.cli import outdir
    from bot.cli.common import fail, load_runtime, load_settings_and_policy

    if kind.lower() not in KINDS:
        fail(f"report kind must be drift or perf, not {kind!r}", 1)
    if engine is not None and engine not in ("auto", "numpy", "duckdb", "spark"):
        fail(f"--engine must be auto, numpy, duckdb or spark, not {engine!r}", 1)
    if correction not in (None, "bh", "none"):
        fail(f"--correction must be bh or none, not {correction!r}", 1)
    try:
        out_dir = outdir.check(out, force=force)
    except outdir.OutDirError as exc:
        fail(str(exc), 1)

    adopted = demo.adopt_policy()
    if adopted is not None:
        note = f"policy: {adopted} (the demo workspace's; set MLOPS_BOT_CONFIG to change)"
        print(f"… {note}", file=sys.stderr, flush=True)
    rt = None
    if channel is not None:  # posting audits: the database is needed
        rt = load_runtime()
        settings, policy = rt.settings, rt.policy
    else:
        settings, policy = load_settings_and_policy()
    if model is not None:
        _check_mlflow_store(settings.mlflow_tracking_uri)

    from bot.monitoring.datasets import DatasetError, Limits

    limits = Limits(
        max_bytes=settings.mlops_bot_report_max_mb * 2**20,
        max_rows=settings.mlops_bot_report_max_rows,
        max_columns=settings.mlops_bot_report_max_columns,
    )
    prefetched = None
    if KINDS[kind.lower()] == "drift" and model is None and engine in (None, "auto", "numpy"):
        from bot.monitoring import prefetch

        # two local Parquet files: read them while pandas and the report modules import
        prefetched = prefetch.start([current, reference], limits)

    from bot.monitoring.chart_workers import cpus
    from bot.monitoring.document import ReportKind
    from bot.monitoring.report import PerfColumns, ReportError, make_report
    from bot.monitoring.report_files import write_report
    from bot.monitoring.runner import engine_config, profile_store
    from bot.registry.gateway import Registry, RegistryError

    registry = rt.registry if rt else Registry(settings.mlflow_tracking_uri, settings.mlflow_ui_url)
    from bot.cli.progress_view import view

    try:
        with view() as progress:  # a rich bar on a terminal, plain lines when piped
            rep = make_report(
                ReportKind(KINDS[kind.lower()]),
                registry,
                policy,
                model=model,
                alias=alias,
                reference=reference,
                current=current,
                charts=charts,
                progress=progress,
                limits=limits,
                engine=engine,
                engine_config=engine_config(settings),
                # a monitor's reference is profiled once, under the data dir; files alone
                # (no model) leave nothing behind
                profiles=profile_store(settings) if model is not None else None,
                correction=correction,
                columns=PerfColumns(target, prediction, score, timestamp),
                chart_workers=min(2, cpus()),  # the charts on two cores when it has them
                prefetched=prefetched,
            )
    except (ReportError, DatasetError, RegistryError) as exc:
        fail(str(exc).replace("`", "'"), 1)
    except MemoryError:
        fail("out of memory while making the report (see MLOPS_BOT_REPORT_MAX_*)", 1)
    except Exception as exc:  # a bug or data no check foresaw: still one line, no traceback
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        fail(f"the report failed: {type(exc).__name__}{': ' + detail if detail else ''}", 1)
    try:
        out_dir.clear()
        paths = write_report(rep, out_dir.path)
    except OSError as exc:
        fail(f"--out {out}: cannot write the report: {exc.strerror or type(exc).__name__}", 1)
    for p in paths:
        print(p)
    _print_summary(rep.document.model_dump(mode="json", exclude_unset=True), rep.alert)
    code = EXIT_ALERT if fail_on_drift and rep.alert else 0
    if channel is not None:
        from handlers.reports.posting import post_report_cli

        assert rt is not None
        post_report_cli(rt, rep, channel)
    else:  # only our own files were written: no teardown needed (bot.cli.fast_exit)
        from bot.cli.fast_exit import leave

        leave(code)
    if code:
        raise typer.Exit(code)


def _check_mlflow_store(uri: str) -> None:
    """A local MLflow store that does not exist is an error, not a new empty store."""
    from bot.cli.common import fail
    from bot.config import sqlite_path

    path = sqlite_path(uri)
    if path is not None and not path.exists():
        fail(f"no MLflow store at {path} (run `mlops-bot demo`, or set MLFLOW_TRACKING_URI)", 1)


def _print_summary(document: dict[str, object], alert: bool) -> None:
    from rich.console import Console

    from bot.cli.summary import print_summary

    sys.stdout.flush()
    # a pipe (a CI log) has no width: rich's 80 columns would fold the feature table
    width = None if sys.stdout.isatty() else 160
    print_summary(document, alert=alert, console=Console(highlight=False, width=width))
