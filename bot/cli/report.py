"""`mlops-bot report drift|perf`: a report as files (and, with --channel, posted to Slack)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

SOURCE_HELP = "path, glob, http(s) URL or mlflow-artifact:<path>"


def report(
    kind: str = typer.Argument(..., help="drift or perf"),
    model: str | None = typer.Argument(None, help="registered model (optional with both URIs)"),
    alias: str | None = typer.Option(None, "--alias", help="alias whose holder is reported on"),
    reference: str | None = typer.Option(
        None, "--reference", help="path, glob, URL, mlflow-artifact:"
    ),
    current: str | None = typer.Option(None, "--current", help="path, glob, URL, mlflow-artifact:"),
    out: Path = typer.Option(Path("report"), "--out", help="directory for report.json and PNGs"),
    channel: str | None = typer.Option(None, "--channel", help="also post to this Slack channel"),
    engine: str | None = typer.Option(
        None, "--engine", help="drift: auto, numpy or duckdb (default: the monitor's, else auto)"
    ),
    correction: str | None = typer.Option(
        None, "--correction", help="bh or none (raw p, Evidently's verdicts); default: the policy's"
    ),
    target: str | None = typer.Option(None, "--target", help="perf: the label column"),
    prediction: str | None = typer.Option(None, "--prediction", help="perf: the prediction column"),
    score: str | None = typer.Option(None, "--score", help="perf: the score column"),
    timestamp: str | None = typer.Option(None, "--timestamp", help="perf: the time column"),
) -> None:
    """Write DIR/report.json and PNG charts; exit 1 with a one-line reason on bad input."""
    from bot.cli.common import fail, load_runtime
    from bot.monitoring.datasets import DatasetError
    from bot.monitoring.document import ReportKind
    from bot.monitoring.report import PerfColumns, ReportError, make_report, write_report
    from bot.monitoring.runner import engine_config
    from bot.registry.gateway import RegistryError

    if kind not in set(ReportKind):
        fail(f"report kind must be drift or perf, not {kind!r}", 1)
    if engine is not None and engine not in ("auto", "numpy", "duckdb"):
        fail(f"--engine must be auto, numpy or duckdb, not {engine!r}", 1)
    if correction not in (None, "bh", "none"):
        fail(f"--correction must be bh or none, not {correction!r}", 1)
    rt = load_runtime()

    def progress(msg: str) -> None:
        print(f"… {msg}", file=sys.stderr, flush=True)

    try:
        rep = make_report(
            ReportKind(kind),
            rt.registry,
            rt.policy,
            model=model,
            alias=alias,
            reference=reference,
            current=current,
            progress=progress,
            engine=engine,
            engine_config=engine_config(rt.settings),
            correction=correction,
            columns=PerfColumns(target, prediction, score, timestamp),
        )
    except (ReportError, DatasetError, RegistryError) as exc:
        fail(str(exc).replace("`", "'"), 1)
    paths = write_report(rep, out)
    for p in paths:
        print(p)
    if channel is not None:
        from handlers.reports.posting import post_report_cli

        post_report_cli(rt, rep, channel)
