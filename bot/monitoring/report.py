"""Drift and performance reports: resolve sources, load, compute, chart (SPEC §7).

`make_report` is pure domain code (no Slack): the CLI, the scheduler and `/mlops drift|perf`
all call it, and `write_report` puts `report.json` and the PNGs in a directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.clock import as_utc
from bot.monitoring import datasets, drift_table
from bot.monitoring.document import ReportDocument, ReportKind, build_document
from bot.monitoring.performance.measure import VERSION_COLUMN
from bot.monitoring.progress import Phase, ProgressFn, Steps
from bot.monitoring.report_charts import drift_charts, perf_charts
from bot.policy.file import MonitorConfig, Policy
from bot.registry.gateway import Registry

if TYPE_CHECKING:  # the drift package imports numpy, pandas and scipy: only when a report runs
    from bot.monitoring.drift.engines.base import DriftOptions, EngineConfig, EngineKind
    from bot.monitoring.drift.profile_store import ProfileStore
    from bot.monitoring.prefetch import Prefetched
    from bot.monitoring.profiled import ProfileContext

FEATURE_TABLE = drift_table.FILENAME
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PerfColumns:
    """Columns of a performance report given on the command line (over the monitor's)."""

    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    timestamp: str | None = None


class ReportError(Exception):
    """The report cannot be made; the message says why in one line."""


@dataclass
class Report:
    document: ReportDocument  # report.json
    title: str
    alert: bool  # drift, a schema change or degradation crossed its threshold
    charts: list[tuple[str, bytes]] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)  # tables (CSV)

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
    progress: ProgressFn | None = None,
    limits: datasets.Limits | None = None,
    engine: str | None = None,
    engine_config: EngineConfig | None = None,
    correction: str | None = None,
    now: datetime | None = None,
    columns: PerfColumns | None = None,
    chart_workers: int = 1,
    profiles: ProfileStore | None = None,
    prefetched: Prefetched | None = None,
) -> Report:
    """Load both data sets, compute the report, render its charts.

    ``correction`` ("bh" or "none") overrides the monitor's; ``now`` is the report time (the
    caller's clock; default the system clock), used for `generated_at` and date freshness.
    A performance report reads the reference too, when there is one, for its prediction and
    target drift and for CBPE; one that cannot be read is named in the report, not fatal.

    `mlflow-artifact:` sources are read from the run of the monitor's configured alias holder
    (`monitor.alias`), whichever `alias` the report is about: anyone may point an unprotected
    alias at their own version, and must not choose that way whose files are downloaded.
    ``engine`` (default: the monitor's, else ``auto``) chooses where drift statistics are
    computed; DuckDB reads local sources where they are, without the size caps.
    ``chart_workers`` >= 2 draws drift charts in a forked process too (the CLI's choice);
    ``prefetched``: local Parquet files the CLI started reading (bot.monitoring.prefetch).
    ``profiles``: where a monitor's reference and current-partition profiles are kept (the data
    dir's store); a monitor's drift on the numpy engine then reads its reference once.
    """
    kind = ReportKind(kind)  # callers may pass "drift" or "perf"
    say = Steps(progress)  # phases and columns done, as ProgressEvents
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
        fix = correction or (monitor.correction if monitor else "bh")
        options = replace(_options(monitor, fix, now or _clock_now()), on_column=say.columns)
        ctx = None
        if profiles is not None and monitor is not None and holder is not None:
            from bot.monitoring.profiled import ProfileContext, cacheable

            if model is not None and cacheable(reference):
                ctx = ProfileContext(profiles, model, version, holder)
        sources = (reference, current)
        from bot.monitoring.preload import preload

        if chosen != "numpy" and _local(reference, current):
            preload(charts)  # while DuckDB or Spark computes
            return _drift_out_of_core(
                head, sources, options, stamp, charts, say, config, chosen, chart_workers, ctx
            )
        if ctx is not None and chosen == "numpy":
            return _drift_profiled(
                head, ctx, sources, options, stamp, charts, say, limits, chart_workers
            )
        cur, ref = (
            datasets.load(side, holder=holder, progress=say, limits=limits, prefetched=prefetched)
            for side in (current, reference)
        )
        preload(charts)  # matplotlib, scipy.special, the page: imported while the engine sorts
        return _drift(head, ref, cur, options, stamp, charts, say, chosen, config, chart_workers)
    cur = datasets.load(current, holder=holder, progress=say, limits=limits)
    labelled_ref: datasets.Dataset | None = None
    ref_note = None
    if reference is not None:
        try:
            labelled_ref = datasets.load(reference, holder=holder, progress=say, limits=limits)
        except datasets.DatasetError as exc:
            ref_note = f"the reference could not be read: {exc}"
    context = _PerfContext(
        registry, model, alias, version, run_id, baseline, labelled_ref, ref_note
    )
    return _perf(head, cur, monitor, columns or PerfColumns(), context, charts, say, now)


def _drift(
    head: dict[str, Any],
    ref: datasets.Dataset,
    cur: datasets.Dataset,
    options: DriftOptions,
    stamp: str,
    charts: bool,
    say: Steps,
    engine: EngineKind | str = "numpy",
    config: EngineConfig | None = None,
    chart_workers: int = 1,
) -> Report:
    from bot.monitoring.drift.engines import EngineError, make_engine

    say.enter(
        Phase.COMPARING,
        f"comparing {ref.rows:,} reference rows with {cur.rows:,} current rows ({engine})",
    )
    try:
        result = make_engine(engine, config).compute(ref.frame, cur.frame, options)
    except EngineError as exc:
        raise ReportError(str(exc)) from None
    sides = (
        (ref.uri, ref.rows, len(ref.frame.columns)),
        (cur.uri, cur.rows, len(cur.frame.columns)),
    )
    report = _drift_report(head, result, sides, stamp, engine, options)
    if charts:
        say.enter(Phase.CHARTS, "rendering charts")
        report.charts = drift_charts(result, ref, cur, report.title, chart_workers)
    return report


def _drift_profiled(
    head: dict[str, Any],
    ctx: ProfileContext,
    sources: tuple[str, str],
    options: DriftOptions,
    stamp: str,
    charts: bool,
    say: Steps,
    limits: datasets.Limits | None,
    chart_workers: int = 1,
) -> Report:
    """A monitor's drift on the numpy engine from stored profiles (``bot.monitoring.profiled``)."""
    from bot.monitoring import profiled

    result, ref, cur = profiled.compare(ctx, *sources, options, limits=limits, say=say)
    sides = ((ref.uri, ref.rows, ref.columns), (cur.uri, cur.rows, cur.columns))
    report = _drift_report(head, result, sides, stamp, "numpy", options, (ref.summary, cur.summary))
    if charts:
        say.enter(Phase.CHARTS, "rendering charts")
        report.charts = profiled.charts(result, ref, cur, report.title, chart_workers)
    return report


def _drift_out_of_core(
    head: dict[str, Any],
    sources: tuple[str, str],
    options: DriftOptions,
    stamp: str,
    charts: bool,
    say: Steps,
    config: EngineConfig,
    chosen: str = "duckdb",
    chart_workers: int = 1,
    ctx: ProfileContext | None = None,
) -> Report:
    """Drift by DuckDB (or Spark) on local files read where they are (no size caps); with
    ``ctx``, from the monitor's stored reference (``bot.monitoring.out_of_core``)."""
    from bot.monitoring import out_of_core
    from bot.monitoring.drift.engines import EngineError

    try:
        run = out_of_core.compare(chosen, config, *sources, options, say, ctx=ctx, charts=charts)
        report = _drift_report(head, run.result, run.sides, stamp, str(chosen), options, run.notes)
        if charts:  # histograms of a random sample of each side: a picture, not a statistic
            say.enter(Phase.CHARTS, "rendering charts")
            ref, cur = run.samples([f.name for f in run.result.features])
            ref_ds, cur_ds = datasets.Dataset(sources[0], ref), datasets.Dataset(sources[1], cur)
            report.charts = drift_charts(run.result, ref_ds, cur_ds, report.title, chart_workers)
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
        raise ReportError(f"unknown engine {kind!r}; use auto, numpy, duckdb or spark") from None
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


def _options(monitor: MonitorConfig | None, correction: str, now: datetime) -> DriftOptions:
    from bot.monitoring import drift
    from bot.monitoring.drift.engines import DriftOptions

    # the monitor's label, model outputs, time and the version that predicted are not features
    exclude: set[str] = set()
    if monitor is not None:
        outputs = (monitor.target, monitor.prediction, monitor.score, monitor.timestamp)
        exclude = {c for c in (*outputs, VERSION_COLUMN) if c}
    overrides = {
        name: drift.FeatureOverride(method=o.method, threshold=o.threshold)
        for name, o in (monitor.features.items() if monitor else [])
    }
    try:
        fix = drift.Correction(correction)
    except ValueError:
        raise ReportError(f"unknown correction {correction!r}; use bh or none") from None
    return DriftOptions(
        features=overrides,
        exclude=exclude,
        correction=fix,
        now=now,
        freshness=[monitor.timestamp] if monitor and monitor.timestamp else [],
    )


def _drift_report(
    head: dict[str, Any],
    result: Any,
    sides: tuple[tuple[str, int, int], tuple[str, int, int]],
    stamp: str,
    engine: EngineKind | str,
    options: DriftOptions,
    notes: tuple[dict[str, Any], dict[str, Any]] = ({}, {}),
) -> Report:
    """The report of a drift result; ``sides`` holds (uri, rows, columns) of each side,
    ``notes`` extra keys of the document's reference and current (the profiles' provenance)."""
    (ref_uri, ref_rows, ref_cols), (cur_uri, cur_rows, cur_cols) = sides
    if result.compared == 0:
        raise ReportError(
            f"no column to compare: the reference has {ref_cols} column(s), the "
            f"current data {cur_cols}, and none is in both"
            + (" (after leaving out target, prediction and timestamp)" if options.exclude else "")
        )
    generated = as_utc(options.now or _clock_now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = build_document(
        {
            **head,
            "reference": {"uri": ref_uri, "rows": ref_rows, **notes[0]},
            "current": {"uri": cur_uri, "rows": cur_rows, **notes[1]},
            **result.to_dict(),
            "engine": str(engine),
            "generated_at": generated,
        }
    )
    title = f"{stamp} — drift, {generated[:16].replace('T', ' ')} UTC"
    report = Report(document, title, alert=result.alert)
    report.files.append((FEATURE_TABLE, drift_table.to_csv(result.features)))
    return report


@dataclass
class _PerfContext:
    registry: Registry
    model: str | None
    alias: str | None
    version: str | None  # the alias holder's
    run_id: str | None
    baseline: dict[str, float]  # logged on the holder's run
    reference: datasets.Dataset | None
    reference_note: str | None

    def baseline_of(self, version: str) -> Any:
        """The metrics logged on the run of `version` (None when the registry lacks it)."""
        from bot.monitoring.performance.measure import Baseline
        from bot.registry.gateway import RegistryError

        if self.model is None:
            return None
        try:
            info = self.registry.get_version(self.model, version)
        except RegistryError:
            return None
        return Baseline(info.metrics, f"metrics logged on run {_short(info.run_id)} (v{version})")

    def holder_source(self) -> str | None:
        if self.model is None or self.run_id is None:
            return None
        return (
            f"metrics logged on run {_short(self.run_id)} (v{self.version}, "
            f"@{self.alias}'s version now)"
        )


def _perf(
    head: dict[str, Any],
    cur: datasets.Dataset,
    monitor: MonitorConfig | None,
    columns: PerfColumns,
    ctx: _PerfContext,
    charts: bool,
    say: Steps,
    now: datetime | None = None,
) -> Report:
    from bot.monitoring.performance import compute as performance

    def pick(given: str | None, configured: str | None, default: str | None) -> str | None:
        return given or configured or default

    target = pick(columns.target, monitor.target if monitor else None, "label")
    prediction = pick(columns.prediction, monitor.prediction if monitor else None, "prediction")
    score = pick(columns.score, monitor.score if monitor else None, None)
    timestamp = pick(columns.timestamp, monitor.timestamp if monitor else None, None)
    assert target is not None and prediction is not None
    say.enter(Phase.COMPARING, f"scoring {cur.rows:,} rows ({target} vs {prediction})")
    try:
        result = performance.compute_performance(
            cur.frame,
            target,
            prediction,
            baseline=ctx.baseline,
            threshold=monitor.degradation_threshold if monitor else 0.05,
            timestamp=timestamp,
            window=monitor.window if monitor else "1D",
            score=score,
            min_window_rows=monitor.min_window_rows if monitor else 30,
            decision_threshold=monitor.decision_threshold if monitor else 0.5,
            baseline_source=ctx.holder_source(),
            baseline_of=ctx.baseline_of,
            reference=ctx.reference.frame if ctx.reference is not None else None,
        )
    except performance.PerformanceError as exc:
        raise ReportError(str(exc)) from None
    body = result.to_dict()
    if ctx.reference_note:
        body["reference_note"] = ctx.reference_note
    generated = as_utc(now or _clock_now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = build_document(
        {
            **head,
            **(
                {"reference": {"uri": ctx.reference.uri, "rows": ctx.reference.rows}}
                if ctx.reference is not None
                else {}
            ),
            "current": {"uri": cur.uri, "rows": cur.rows},
            "performance": body,
            "generated_at": generated,
        }
    )
    title = f"{_perf_stamp(head, body)} — performance, {generated[:16].replace('T', ' ')} UTC"
    cbpe_alerts = (body.get("cbpe") or {}).get("alerts") or []
    report = Report(document, title, alert=bool(result.degraded or cbpe_alerts))
    if charts:
        say.enter(Phase.CHARTS, "rendering charts")
        report.charts = perf_charts(result, body, title)
    return report


def _perf_stamp(head: dict[str, Any], body: dict[str, Any]) -> str:
    """Whose predictions: the versions in the data, never the alias's holder by default."""
    model = head["model"]
    if model is None:
        return "ad-hoc data"
    known = [v["version"] for v in body.get("versions", []) if v["version"] != "unknown"]
    if not body.get("versions"):
        return f"{model}, version unknown"
    return f"{model} " + ", ".join(f"v{v}" for v in known) if known else f"{model}, version unknown"


def _short(run_id: str | None) -> str:
    return (run_id or "?")[:12]


def _clock_now() -> datetime:
    from bot.clock import SYSTEM

    return SYSTEM.now()
