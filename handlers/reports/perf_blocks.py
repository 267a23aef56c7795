"""Block Kit of a performance report: verdict, whose predictions, metrics with their intervals
and baseline, windows, CBPE estimates, prediction and target drift."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot.monitoring.document import ColumnDrift, Performance
from handlers.blocks import clip, context, esc, fields_section, section

NAMES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "f1": "F1",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}
MAX_FIELDS = 10


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def _interval(bounds: list[float] | None) -> str:
    return f" [{bounds[0]:.3g}–{bounds[1]:.3g}]" if bounds else ""


def perf_blocks(perf: Performance, mention: str) -> tuple[list[Block], str]:
    """The summary blocks of a performance report and its one-line summary."""
    estimated_drop = bool(perf.cbpe and perf.cbpe.alerts)
    if perf.degraded:
        verdict = ":red_circle: *Degraded*"
    elif estimated_drop:
        verdict = ":large_orange_circle: *Estimated drop (CBPE)*"
    else:
        verdict = ":large_green_circle: *OK*"
    lines = [f"{verdict} — {perf.rows:,} labelled rows ({perf.task})"]
    if perf.versions:
        shown = ", ".join(
            f"v{esc(clip(v.version, 20))} ({v.rows:,} rows)"
            if v.version != "unknown"
            else f"version unknown ({v.rows:,} rows)"
            for v in perf.versions[:10]
        )
        lines.append(f"Predictions of {shown}")
    if perf.version_note and not perf.versions:
        lines.append(f":grey_question: {esc(perf.version_note)}")
    if mention:
        lines.append(mention)
    blocks: list[Block] = [section("\n".join(lines))]
    fields = [
        f"*{NAMES.get(m, esc(m))}*\n{_num(v)}{_interval(perf.intervals.get(m))}"
        f" (baseline {_num(perf.baseline.get(m))})" + (" :warning:" if m in perf.degraded else "")
        for m, v in perf.metrics.items()
        if v is not None
    ]
    if fields:
        blocks.append(fields_section(fields[:MAX_FIELDS]))
    notes = _notes(perf)
    if notes:
        blocks.append(section("\n".join(notes)[:3000]))
    ctx = []
    if perf.baseline_source:
        ctx.append(f"Baseline: {esc(perf.baseline_source)}")
    if perf.intervals:
        ctx.append("[low–high]: 95 % interval (Wilson; bootstrap for ROC-AUC)")
    if ctx:
        blocks.append(context(" · ".join(ctx)))
    summary = f"degraded: {esc(', '.join(perf.degraded)) or 'none'}"
    if estimated_drop and perf.cbpe:
        summary += f"; estimated drop: {esc(', '.join(perf.cbpe.alerts))}"
    return blocks, summary


def _notes(perf: Performance) -> list[str]:
    notes = []
    for v in perf.versions:
        if v.degraded:
            worse = ", ".join(esc(m) for m in v.degraded)
            notes.append(f":warning: v{esc(clip(v.version, 20))}: {worse} below its own run's")
    if perf.windows:
        sizes = [w.rows for w in perf.windows]
        merged = sum(1 for w in perf.windows if w.periods > 1)
        text = f"*Windows*: {len(sizes)} (n {min(sizes):,}–{max(sizes):,})"
        if merged:
            text += (
                f"; {merged} merged with a neighbour "
                f"(fewer than {perf.min_window_rows} labelled rows)"
            )
        notes.append(text)
    if perf.confusion is not None:
        c = perf.confusion
        notes.append(
            f"*Confusion at score ≥ {perf.decision_threshold:g}*: TP {c.tp:,} · FP {c.fp:,} · "
            f"FN {c.fn:,} · TN {c.tn:,}"
        )
    cbpe = perf.cbpe
    if cbpe is not None and cbpe.reason:
        notes.append(f"*Estimated performance (CBPE)*: not estimated: {esc(cbpe.reason)}")
    elif cbpe is not None and cbpe.windows:
        last = cbpe.windows[-1]
        parts = []
        for m in ("roc_auc", "accuracy"):
            est = last.estimated.get(m)
            if est is None:
                continue
            text = (
                f"{NAMES.get(m, m)} {est:.3g} (band {_num(last.lower.get(m))}–"
                f"{_num(last.upper.get(m))}; reference {_num(cbpe.reference.get(m))}"
            )
            real = last.realised.get(m)
            text += f"; realised {real:.3g})" if real is not None else ")"
            parts.append(text + (" :warning:" if m in last.alerts else ""))
        notes.append(
            f"*Estimated performance (CBPE)*, latest window ({last.rows:,} rows, "
            f"{last.labelled_rows:,} labelled): " + " · ".join(parts)
        )
        if cbpe.calibration_note:
            notes.append(f"_{esc(cbpe.calibration_note)}_")
    for title, part in (
        ("Prediction drift", perf.prediction_drift),
        ("Target drift", perf.target_drift),
    ):
        if part is not None:
            notes.append(_drift_line(title, part))
    if perf.reference_note:
        notes.append(f":warning: {esc(clip(perf.reference_note, 300))}")
    return notes


def _drift_line(title: str, part: ColumnDrift) -> str:
    items = []
    for f in part.features:
        mark = {True: ":red_circle:", False: ":large_green_circle:", None: ":grey_question:"}[
            f.drifted
        ]
        stat = f"p {_num(f.p_value)}" if f.p_value is not None else _num(f.statistic)
        items.append(
            f"{mark} `{esc(clip(f.name, 40))}` {f.method or '—'} {stat} vs {_num(f.threshold)}"
        )
    items += [f":grey_question: `{esc(clip(c, 40))}` not in both data sets" for c in part.missing]
    return f"*{title}*: " + (" · ".join(items) or "no column")
