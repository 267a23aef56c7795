"""Drift and performance reports: resolve sources, load, compute, chart (SPEC §7).

`make_report` is pure domain code (no Slack): the CLI, the scheduler and `/mlops drift|perf`
all call it, and `write_report` puts `report.json` and the PNGs in a directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring import datasets
from bot.monitoring.document import ReportDocument, ReportKind, build_document
from bot.policy.file import MonitorConfig, Policy
from bot.registry.gateway import Registry

if TYPE_CHECKING:  # the drift package imports numpy, pandas and scipy: only when a report runs
    from bot.monitoring.drift.engines.base import EngineConfig, EngineKind

TOP_FEATURE_CHARTS = 10
CHART_SAMPLE_ROWS = 100_000  # rows per side drawn for the charts of an out-of-core report
Progress = Callable[[str], None]


class ReportError(Exception):
    """The report cannot be made; the message says why in one line."""


@dataclass
class Report:
    document: ReportDocument  # report.json
    title: str
    alert: bool  # drift or degradation crossed its threshold
    charts: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def kind(self) -> ReportKind:
        return self.document.kind

    @property
    def model(self) -> str | None:
        return self.document.model


def make_report(
    kind: ReportKind,
    registry: Registry,
    policy: Policy,
    *,
    model: str | None = None,
    alias: str | None = None,
    reference: str | None = None,
    current: str | None = None,
    charts: bool = True,
    progress: Progress | None = None,
    limits: datasets.Limits | None = None,
    engine: str | None = None,
    engine_config: EngineConfig | None = None,
) -> Report:
    """Load both data sets, compute the report, render its charts.

    `mlflow-artifact:` sources are read from the run of the monitor's configured alias holder
    (`monitor.alias`), whichever `alias` the report is about: anyone may point an unprotected
    alias at their own version, and must not choose that way whose files are downloaded.
    ``engine`` (default: the monitor's, else ``auto``) chooses where drift statistics are
    computed; DuckDB reads local sources where they are, without the size caps.
    """
    kind = ReportKind(kind)  # callers may pass "drift" or "perf"
    say = progress or (lambda _m: None)
    monitor: MonitorConfig | None = None
    version = run_id = None
    baseline: dict[str, float] = {}
    holder: datasets.Holder | None = None
    if model is not None:
        registry.get_model(model)  # unknown model → NotFoundError with suggestions
        monitor = policy.for_model(model).monitor
        alias = alias or (monitor.alias if monitor else "champion")
        info = registry.get_version(model, f"@{alias}")
        version, run_id, baseline = info.version, info.run_id, info.metrics
        holder = datasets.Holder(registry, model, monitor.alias if monitor else alias)
        reference = reference or (monitor.reference if monitor else None)
        current = current or (monitor.current if monitor else None)
    if current is None or (kind == ReportKind.DRIFT and reference is None):
        needs = "--reference and --current" if kind == ReportKind.DRIFT else "--current"
        where = f"a [models.{model}.monitor] section" if model else "a model with a monitor"
        raise ReportError(f"no data to compare: give {needs}, or {where}")
    head: dict[str, Any] = {
        "kind": kind,
        "model": model,
        "alias": alias if model else None,
        "version": version,
        "run_id": run_id,
    }
    stamp = f"{model} @{alias} v{version}" if model else "ad-hoc data"
    if kind == ReportKind.DRIFT:
        assert reference is not None
        from bot.monitoring.drift.engines.base import EngineConfig

        chosen = _engine(
            engine or (monitor.engine if monitor else "auto"), reference, current, limits
        )
        config = engine_config or EngineConfig()
        if chosen != "numpy" and _local(reference, current):
            return _drift_out_of_core(head, reference, current, monitor, stamp, charts, say, config)
        cur = datasets.load(current, holder=holder, progress=say, limits=limits)
        ref = datasets.load(reference, holder=holder, progress=say, limits=limits)
        return _drift(head, ref, cur, monitor, stamp, charts, say, chosen, config)
    cur = datasets.load(current, holder=holder, progress=say, limits=limits)
    return _perf(head, cur, monitor, baseline, stamp, charts, say)


def _drift(
    head: dict[str, Any],
    ref: datasets.Dataset,
    cur: datasets.Dataset,
    monitor: MonitorConfig | None,
    stamp: str,
    charts: bool,
    say: Progress,
    engine: EngineKind | str = "numpy",
    config: EngineConfig | None = None,
) -> Report:
    from bot.monitoring.drift.engines import EngineError, make_engine

    say(f"comparing {ref.rows:,} reference rows with {cur.rows:,} current rows ({engine})")
    try:
        result = make_engine(engine, config).compute(ref.frame, cur.frame, _options(monitor))
    except EngineError as exc:
        raise ReportError(str(exc)) from None
    report = _drift_report(head, result, ref.uri, ref.rows, cur.uri, cur.rows, stamp, engine)
    if charts:
        say("rendering charts")
        report.charts = _drift_charts(result, ref, cur, report.title)
    return report


def _drift_out_of_core(
    head: dict[str, Any],
    reference: str,
    current: str,
    monitor: MonitorConfig | None,
    stamp: str,
    charts: bool,
    say: Progress,
    config: EngineConfig,
) -> Report:
    """Drift by DuckDB on local files read where they are (no size caps: out of core)."""
    from bot.monitoring.drift.engines import EngineError
    from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine

    engine = DuckDBEngine(memory_limit=config.memory_limit, temp_directory=config.spill_dir)
    say(f"comparing {current} with {reference} (duckdb, memory limit {config.memory_limit})")
    try:
        result, ref_rows, cur_rows = engine.compute_with_rows(reference, current, _options(monitor))
        report = _drift_report(
            head, result, reference, ref_rows, current, cur_rows, stamp, "duckdb"
        )
        if charts:  # histograms of a random sample of each side: a picture, not a statistic
            say("rendering charts")
            names = [f.name for f in result.features]
            ref = datasets.Dataset(reference, engine.sample(reference, names, CHART_SAMPLE_ROWS))
            cur = datasets.Dataset(current, engine.sample(current, names, CHART_SAMPLE_ROWS))
            report.charts = _drift_charts(result, ref, cur, report.title)
    except EngineError as exc:
        raise ReportError(str(exc)) from None
    return report


def _engine(kind: str, reference: str, current: str, limits: datasets.Limits | None) -> EngineKind:
    """The engine to run: ``auto`` resolved from the sizes of local sources (DuckDB for what
    the in-memory loader would refuse)."""
    from bot.monitoring.drift.engines.base import EngineKind, choose_engine, local_paths

    try:
        chosen = EngineKind(kind)
    except ValueError:
        raise ReportError(f"unknown engine {kind!r}; use auto, numpy or duckdb") from None
    if chosen == EngineKind.SPARK:
        raise ReportError("the spark engine is not available yet; use auto, numpy or duckdb")
    missing = not (local_paths(reference) and local_paths(current))
    if chosen == EngineKind.AUTO and _local(reference, current) and missing:
        return EngineKind.NUMPY  # its loader names the missing file
    caps = limits or datasets.Limits()
    return choose_engine(
        chosen, reference, current, side_max_bytes=caps.max_bytes, side_max_rows=caps.max_rows
    )


def _local(*sources: str) -> bool:
    from bot.monitoring.drift.engines.base import is_local

    return all(is_local(s) for s in sources)


def _options(monitor: MonitorConfig | None) -> Any:
    from bot.monitoring import drift
    from bot.monitoring.drift.engines import DriftOptions

    exclude = (
        {c for c in (monitor.target, monitor.prediction, monitor.timestamp) if c}
        if monitor
        else set()
    )
    overrides = {
        name: drift.FeatureOverride(method=o.method, threshold=o.threshold)
        for name, o in (monitor.features.items() if monitor else [])
    }
    return DriftOptions(
        features=overrides,
        exclude=exclude,
        correction=monitor.correction if monitor else None,
    )


def _drift_report(
    head: dict[str, Any],
    result: Any,
    ref_uri: str,
    ref_rows: int,
    cur_uri: str,
    cur_rows: int,
    stamp: str,
    engine: EngineKind | str,
) -> Report:
    generated = _now()
    document = build_document(
        {
            **head,
            "reference": {"uri": ref_uri, "rows": ref_rows},
            "current": {"uri": cur_uri, "rows": cur_rows},
            **result.to_dict(),
            "engine": str(engine),
            "generated_at": generated,
        }
    )
    title = f"{stamp} — drift, {generated[:16].replace('T', ' ')} UTC"
    return Report(
        document,
        title,
        alert=bool(result.dataset_drift) or any(f.drifted for f in result.features),
    )


def _drift_charts(
    result: Any, ref: datasets.Dataset, cur: datasets.Dataset, title: str
) -> list[tuple[str, bytes]]:
    from bot.monitoring import charts

    out = [("drift_summary.png", charts.drift_summary(result, title))]
    ranked = sorted(
        (f for f in result.features if charts.drift_score(f) is not None),
        key=lambda f: charts.drift_score(f) or 0.0,
        reverse=True,
    )
    for i, f in enumerate(ranked[:TOP_FEATURE_CHARTS], start=1):
        if f.name in ref.frame.columns and f.name in cur.frame.columns:
            png = charts.feature_distribution(
                f.name, f.type, ref.frame[f.name], cur.frame[f.name], title
            )
            out.append((f"feature_{i:02d}_{_slug(f.name)}.png", png))
    return out


def _perf(
    head: dict[str, Any],
    cur: datasets.Dataset,
    monitor: MonitorConfig | None,
    baseline: dict[str, float],
    stamp: str,
    charts: bool,
    say: Progress,
) -> Report:
    from bot.monitoring import performance

    target = monitor.target if monitor and monitor.target else "label"
    prediction = monitor.prediction if monitor and monitor.prediction else "prediction"
    say(f"scoring {cur.rows:,} rows ({target} vs {prediction})")
    try:
        result = performance.compute_performance(
            cur.frame,
            target,
            prediction,
            baseline=baseline,
            threshold=monitor.degradation_threshold if monitor else 0.05,
            timestamp=monitor.timestamp if monitor else None,
            window=monitor.window if monitor else "1D",
        )
    except performance.PerformanceError as exc:
        raise ReportError(str(exc)) from None
    generated = _now()
    document = build_document(
        {
            **head,
            "current": {"uri": cur.uri, "rows": cur.rows},
            "performance": result.to_dict(),
            "generated_at": generated,
        }
    )
    title = f"{stamp} — performance, {generated[:16].replace('T', ' ')} UTC"
    report = Report(document, title, alert=bool(result.degraded))
    if charts and result.windows:
        from bot.monitoring import charts as ch

        keys = ["accuracy", "f1", "roc_auc"] if result.task == "classification" else ["rmse", "r2"]
        for m in keys:
            if any(w["metrics"].get(m) is not None for w in result.windows):
                png = ch.metric_over_time(result.windows, m, result.baseline.get(m), title)
                report.charts.append((f"metric_{m}.png", png))
    return report


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write report.json and the charts; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json"]
    written[0].write_text(report.document.to_json(indent=2) + "\n", encoding="utf-8")
    for name, png in report.charts:
        path = out_dir / name
        path.write_bytes(png)
        written.append(path)
    return written


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return cleaned[:40] or "feature"
