"""Block Kit for reports: the summary message, its buttons, and "Show all features"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.monitoring.document import DataQuality, DriftDocument, ReportDocument
from bot.registry.gateway import RegistryError
from handlers import action_ids as ids
from handlers.blocks import Reply, clip, context, esc, fields_section, header, section

if TYPE_CHECKING:
    from bot.monitoring.report import Report
    from bot.runtime import Runtime

TOP_FEATURES = 10
CHALLENGER = "challenger"
_MARKS: dict[bool | None, str] = {
    True: ":red_circle:",
    False: ":large_green_circle:",
    None: ":grey_question:",  # could not be tested
}


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def report_reply(report: Report, rt: Runtime) -> Reply:
    """Summary blocks: verdict, top drifted features or degraded metrics, quality, links."""
    doc = report.document
    model = doc.model
    owners = rt.policy.for_model(model).owners if model else ()
    mention = " ".join(f"<@{o}>" for o in owners) if report.alert and owners else ""
    blocks: list[Block] = [header(report.title)]
    if isinstance(doc, DriftDocument):
        verdict = (
            ":red_circle: *Dataset drift*"
            if doc.dataset_drift
            else (
                ":large_orange_circle: *Some features drifted*"
                if report.alert
                else ":large_green_circle: *No drift*"
            )
        )
        blocks.append(
            section(
                f"{verdict} — {doc.drifted_share:.0%} of features drifted · reference "
                f"{doc.reference.rows:,} rows · current {doc.current.rows:,} rows"
                + (" · computed by DuckDB" if doc.engine == "duckdb" else "")
                + (f"\n{mention}" if mention else "")
            )
        )
        drifted = [f for f in doc.features if f.drifted]
        if drifted:
            lines = [
                f"• `{esc(clip(f.name, 60))}` {f.method} {_fmt(f.statistic)}"
                f"{' (p ' + _fmt(f.p_value) + ')' if f.p_value is not None else ''}"
                f" vs {_fmt(f.threshold)} · PSI {_fmt(f.psi)}"
                for f in drifted[:TOP_FEATURES]
            ]
            more = len(drifted) - TOP_FEATURES
            blocks.append(
                section(
                    "*Drifted features*\n"
                    + "\n".join(lines)
                    + (f"\n…and {more} more" if more > 0 else "")
                )
            )
        notes = _quality_notes(doc.quality)
        if notes:
            blocks.append(section("*Data quality*\n" + "\n".join(notes)))
        summary = f"drifted share {doc.drifted_share:.0%}"
    else:
        perf = doc.performance
        verdict = ":red_circle: *Degraded*" if perf.degraded else ":large_green_circle: *OK*"
        blocks.append(
            section(
                f"{verdict} — {perf.rows:,} labelled rows ({perf.task})"
                + (f"\n{mention}" if mention else "")
            )
        )
        fields = [
            f"*{esc(m)}*\n{_fmt(v)} (training {_fmt(perf.baseline.get(m))})"
            + (" :warning:" if m in perf.degraded else "")
            for m, v in perf.metrics.items()
            if v is not None
        ]
        if fields:
            blocks.append(fields_section(fields))
        summary = f"degraded: {esc(', '.join(perf.degraded)) or 'none'}"
    link = rt.registry.version_url(model, doc.version) if model and doc.version else None
    ctx = [f"run `{esc(doc.run_id)}`"] if doc.run_id else []
    if link:
        ctx.append(f"<{link}|MLflow version>")
    if ctx:
        blocks.append(context(" · ".join(ctx)))
    text = f"{esc(report.title)}: {summary}" + (f" {mention}" if mention else "")
    return Reply(text, blocks)


def _quality_notes(quality: DataQuality) -> list[str]:
    notes = []
    for cols, label in (
        (quality.missing_columns, "missing in current"),
        (quality.extra_columns, "new in current"),
    ):
        if cols:
            shown = ", ".join(f"`{esc(clip(c, 40))}`" for c in cols[:10])
            notes.append(f"• {label}: {shown}")
    if quality.changed_types:
        notes.append(f"• changed types: {len(quality.changed_types)} column(s)")
    return notes


def report_buttons(report: Report, rt: Runtime, record_id: str) -> ActionsBlock | None:
    """Show all features; Request promotion (a challenger exists); Trigger retraining (alert)."""
    doc = report.document
    elements = []
    if isinstance(doc, DriftDocument):
        elements.append(
            ButtonElement(text="Show all features", action_id=ids.REPORT_DETAILS, value=record_id)
        )
    model = doc.model
    if model:
        try:
            aliases = rt.registry.get_model(model).aliases
        except RegistryError:
            aliases = {}
        challenger = aliases.get(CHALLENGER)
        if challenger and challenger != doc.version:
            elements.append(
                ButtonElement(
                    text=f"Request promotion of v{challenger}",
                    action_id=ids.REPORT_PROMOTE,
                    value=record_id,
                )
            )
        monitor = rt.policy.for_model(model).monitor
        if report.alert and monitor is not None and monitor.retrain_url:
            elements.append(
                ButtonElement(
                    text="Trigger retraining",
                    action_id=ids.REPORT_RETRAIN,
                    value=record_id,
                    style="danger",
                )
            )
    return ActionsBlock(block_id=f"report:{record_id}", elements=elements) if elements else None


def features_reply(doc: ReportDocument) -> Reply:
    """Every feature of a drift report, 20 per section (ephemeral "Show all features")."""
    lines = []
    for f in doc.features if isinstance(doc, DriftDocument) else []:
        mark = _MARKS[f.drifted]
        extra = f" — {esc(f.reason)}" if f.reason else ""
        lines.append(
            f"{mark} `{esc(clip(f.name, 60))}` {f.type} {f.method or '—'} "
            f"{_fmt(f.statistic)} vs {_fmt(f.threshold)} · PSI {_fmt(f.psi)}"
            f" · missing {f.missing_reference}/{f.missing_current}{extra}"
        )
    if not lines:
        return Reply("No features in this report.", [section("No features in this report.")])
    blocks: list[Block] = [header(f"All features ({len(lines)})")]
    blocks += [section("\n".join(lines[i : i + 20])) for i in range(0, len(lines), 20)]
    if len(blocks) > 50:
        blocks = blocks[:49] + [context("Truncated: see report.json from `mlops-bot report`.")]
    return Reply("\n".join(lines)[:3000], blocks)
