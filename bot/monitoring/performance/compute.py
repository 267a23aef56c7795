"""Model performance on labelled current data, overall, per time window and per model version.

Compared with the metrics logged on the run of the version that made the predictions (a
`model_version` column says which; without one the report says the version is unknown). A
metric worse than its baseline by more than the threshold (relative) is flagged as degraded.
Rates carry Wilson 95 % intervals and ROC-AUC a bootstrap one; windows smaller than
`min_window_rows` are merged into a neighbour; with a score column, CBPE estimates performance
for rows whose labels have not arrived yet (`cbpe.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.performance import sections
from bot.monitoring.performance.measure import (
    BaselineOf,
    Measure,
    PerformanceError,
    Task,
    class_labels,
    clean,
    detect_task,
    label_text,
    worse,
)
from bot.monitoring.performance.windows import Window, WindowError, split

if TYPE_CHECKING:
    import pandas as pd

RESIDUAL_BINS = 10


@dataclass
class PerformanceResult:
    task: Task
    rows: int
    metrics: dict[str, float | None]
    baseline: dict[str, float]
    threshold: float
    degraded: list[str] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # the newer report.json sections

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "rows": self.rows,
            "metrics": clean(self.metrics),
            "baseline": clean(dict(self.baseline)),
            "threshold": self.threshold,
            "degraded": self.degraded,
            "degradation": bool(self.degraded),
            "windows": [{**w, "metrics": clean(w["metrics"])} for w in self.windows],
            **self.extra,
        }


def compute_performance(
    frame: pd.DataFrame,
    target: str,
    prediction: str,
    *,
    baseline: dict[str, float] | None = None,
    threshold: float = 0.05,
    timestamp: str | None = None,
    window: str = "1D",
    score: str | None = None,
    min_window_rows: int = 30,
    decision_threshold: float = 0.5,
    baseline_source: str | None = None,
    baseline_of: BaselineOf | None = None,
    reference: pd.DataFrame | None = None,
) -> PerformanceResult:
    """Metrics of `prediction` (and `score`) against `target`, overall, per `window` of
    `timestamp` and per model version; CBPE estimates when `score` and a labelled `reference`
    with that score are given."""
    for col in (timestamp, score):
        if col is not None and col not in frame.columns:
            raise PerformanceError(f"column `{col}` is not in the current data")
    decided: str | None = prediction
    if prediction not in frame.columns:
        if score is None:
            raise PerformanceError(f"column `{prediction}` is not in the current data")
        decided = None  # the model's decision is the score at the decision threshold
    if target not in frame.columns and score is None:
        raise PerformanceError(f"column `{target}` is not in the current data")
    needed = [c for c in (target, decided, score) if c is not None]
    labelled = frame.dropna(subset=needed) if target in frame.columns else frame.iloc[:0]
    if labelled.empty and score is None:
        raise PerformanceError(f"no rows with both `{target}` and `{prediction}` set")
    task: Task = detect_task(labelled[target]) if len(labelled) else "classification"
    known = [labelled[target]] if len(labelled) else []
    if reference is not None and target in reference.columns:
        known.append(reference[target])
    neg, pos = class_labels(*known)
    measure = Measure(task, target, decided, score, decision_threshold, pos, neg)
    metrics, intervals = measure(labelled) if len(labelled) else ({}, {})
    versions, base, source, note = sections.attribute(
        frame, labelled, measure, baseline or {}, baseline_source, baseline_of, threshold
    )
    base = {k: float(v) for k, v in base.items() if k in metrics}
    degraded = sorted(
        set(worse(metrics, base, threshold)) | {m for v in versions for m in v["degraded"]}
    )
    windows: list[dict[str, Any]] = []
    if timestamp is not None and len(labelled):
        for w in _split(labelled, timestamp, window, min_window_rows):
            part_metrics, part_intervals = measure(labelled.loc[w.index])
            windows.append(
                {**_span(w), "rows": w.rows, "metrics": part_metrics, "intervals": part_intervals}
            )
    extra: dict[str, Any] = {
        "intervals": intervals,
        "baseline_source": source,
        "min_window_rows": min_window_rows,
        "versions": versions,
        "version_note": note,
    }
    if len(labelled) and task == "classification" and score is not None:
        extra.update(measure.score_details(labelled))
    elif len(labelled) and task == "regression" and decided is not None:
        extra["residuals"] = residual_bins(labelled, target, decided)
    if reference is not None:
        extra["prediction_drift"] = sections.column_drift(
            reference, frame, [c for c in (decided, score) if c is not None]
        )
        extra["target_drift"] = sections.column_drift(reference, frame, [target])
    classes = len({label for t in known for label in label_text(t.dropna()).unique()})
    if score is not None and task == "classification" and classes > 2:
        extra["cbpe"] = {
            "reason": f"CBPE covers binary classifiers; the target has {classes} classes"
        }
    elif score is not None and task == "classification":
        extra["cbpe"] = sections.cbpe_section(
            frame,
            reference,
            sections.CbpeInputs(target, score, pos, decision_threshold),
            timestamp,
            window,
            min_window_rows,
        )
    return PerformanceResult(
        task, len(labelled), metrics, base, threshold, degraded, windows, extra
    )


def _split(frame: pd.DataFrame, timestamp: str, window: str, min_rows: int) -> list[Window]:
    try:
        return split(frame, timestamp, window, min_rows)
    except WindowError as exc:
        raise PerformanceError(str(exc)) from None


def _span(w: Window) -> dict[str, Any]:
    return {"start": w.start.isoformat(), "end": w.end.isoformat(), "periods": w.periods}


def residual_bins(data: pd.DataFrame, target: str, prediction: str) -> list[dict[str, Any]]:
    """Residuals (actual − predicted) per prediction decile: rows, mean and 10/50/90 % points.
    Aggregates only, like every chart: no row's values reach the report."""
    pred = data[prediction].astype(float).to_numpy()
    resid = data[target].astype(float).to_numpy() - pred
    edges = np.unique(np.quantile(pred, np.linspace(0, 1, RESIDUAL_BINS + 1)))
    which = np.clip(np.searchsorted(edges, pred, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in range(max(len(edges) - 1, 1)):
        part = resid[which == b]
        if len(part):
            p10, p50, p90 = np.quantile(part, [0.1, 0.5, 0.9])
            out.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[min(b + 1, len(edges) - 1)]),
                    "rows": int(len(part)),
                    "mean": float(part.mean()),
                    "p10": float(p10),
                    "median": float(p50),
                    "p90": float(p90),
                }
            )
    return out
