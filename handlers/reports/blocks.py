"""Block Kit for reports: the summary message, its buttons, and "Show all features"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.monitoring import drift_table
from bot.monitoring.document import DataQuality, DriftDocument, SchemaChanges
from bot.registry.gateway import RegistryError
from handlers import action_ids as ids
from handlers.blocks import Reply, clip, context, esc, header, section
from handlers.reports.features import feature_line
from handlers.reports.perf_blocks import perf_blocks

if TYPE_CHECKING:
    from bot.monitoring.report import Report
    from bot.runtime import Runtime

TOP_FEATURES = 10
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark"}  # named in the summary line
CHALLENGER = "challenger"


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
        blocks += _drift_blocks(doc, report.alert, mention)
        summary = f"drifted share {doc.drifted_share:.0%}" + (
            ", schema changed" if doc.schema_changes and doc.schema_changes.changed else ""
        )
    else:
        perf_part, summary = perf_blocks(doc.performance, mention)
        blocks += perf_part
    link = rt.registry.version_url(model, doc.version) if model and doc.version else None
    ctx = [f"run `{esc(doc.run_id)}`"] if doc.run_id else []
    if link:
        ctx.append(f"<{link}|MLflow version>")
    if ctx:
        blocks.append(context(" · ".join(ctx)))
    text = f"{esc(report.title)}: {summary}" + (f" {mention}" if mention else "")
    return Reply(text, blocks)


def _drift_blocks(doc: DriftDocument, alert: bool, mention: str) -> list[Block]:
    """Schema changes first, then the verdict, the drifted features, data quality."""
    blocks: list[Block] = []
    schema = doc.schema_changes
    if schema is not None and schema.changed:
        blocks.append(section(":warning: *Schema changed*\n" + "\n".join(_schema_notes(schema))))
    table = drift_table.rows(doc.features)
    tested = [r for r in table if r["status"] != "untested"]
    drifted = [r for r in table if r["status"] == "drifted"]
    if doc.dataset_drift:
        verdict = ":red_circle: *Dataset drift*"
    elif drifted:
        verdict = ":large_orange_circle: *Some features drifted*"
    elif alert:
        verdict = ":large_orange_circle: *No feature drifted, but the schema changed*"
    else:
        verdict = ":large_green_circle: *No drift*"
    p_kind = "BH-adjusted p" if doc.correction == "bh" else "raw p"
    untested = len(table) - len(tested)
    blocks.append(
        section(
            f"{verdict} — {len(drifted)} of {len(tested)} tested features drifted "
            f"({doc.drifted_share:.0%}, {p_kind})"
            + (f", {untested} not tested" if untested else "")
            + f" · reference {doc.reference.rows:,} rows · current {doc.current.rows:,} rows"
            + (f" · computed by {ENGINE_NAMES[doc.engine]}" if doc.engine in ENGINE_NAMES else "")
            + (f"\n{mention}" if mention else "")
        )
    )
    if drifted:
        lines = [feature_line(r) for r in drifted[:TOP_FEATURES]]
        more = len(drifted) - TOP_FEATURES
        blocks.append(
            section(
                "*Drifted features* (most severe first)\n"
                + "\n".join(lines)
                + (f"\n…and {more} more: *Show all features*" if more > 0 else "")
            )
        )
    notes = _quality_notes(doc.quality)
    if notes:
        blocks.append(section("*Data quality*\n" + "\n".join(notes)))
    return blocks


def _names(cols: list[str]) -> str:
    shown = ", ".join(f"`{esc(clip(c, 40))}`" for c in cols[:10])
    return shown + (f" and {len(cols) - 10} more" if len(cols) > 10 else "")


def _schema_notes(schema: SchemaChanges) -> list[str]:
    notes = []
    if schema.missing:
        notes.append(f"• missing in current: {_names(schema.missing)}")
    if schema.new:
        notes.append(f"• new in current: {_names(schema.new)}")
    for c in schema.changed_types[:10]:
        notes.append(
            f"• `{esc(clip(c.name, 40))}` changed type: {esc(c.reference)} → {esc(c.current)}"
        )
    return notes


def _quality_notes(quality: DataQuality) -> list[str]:
    """Date freshness and per-column warnings (schema changes have their own section)."""
    notes = []
    for col in quality.columns:
        name = f"`{esc(clip(col.name, 40))}`"
        if col.freshness is not None and col.freshness.newest_current is not None:
            age = col.freshness.age_seconds
            notes.append(
                f"• {name} newest value {col.freshness.newest_current[:19].replace('T', ' ')} "
                + (f"({_age(age)})" if age is not None else "")
                + (
                    f", reference newest {col.freshness.newest_reference[:10]}"
                    if col.freshness.newest_reference
                    else ""
                )
            )
        if col.warning:
            notes.append(f"• {name}: {esc(col.warning)}")
    return notes[:15]


def _age(seconds: float) -> str:
    """ "5 h before the report", "3 days before the report", "2 h after the report"."""
    hours = abs(seconds) / 3600
    span = f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"
    return f"{span} {'before' if seconds >= 0 else 'after'} the report"


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
