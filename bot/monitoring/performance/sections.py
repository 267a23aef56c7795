"""The parts of a performance report beyond the metrics: which model version made the
predictions, prediction and target drift against the reference, and the CBPE estimates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitoring.performance import cbpe
from bot.monitoring.performance.measure import (
    VERSION_COLUMN,
    Baseline,
    BaselineOf,
    Measure,
    PerformanceError,
    clean,
    label_text,
    worse,
)
from bot.monitoring.performance.windows import Window, WindowError, split

if TYPE_CHECKING:
    import pandas as pd

UNKNOWN = "unknown"


def version_name(value: Any) -> str:
    """`1`, `1.0`, `"v1"` → `"1"`: how model versions are written in the registry."""
    text = str(value).strip()
    text = text[1:] if text[:1] in "vV" and text[1:].isdigit() else text
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def attribute(
    frame: pd.DataFrame,
    labelled: pd.DataFrame,
    measure: Measure,
    baseline: dict[str, float],
    baseline_source: str | None,
    baseline_of: BaselineOf | None,
    threshold: float,
) -> tuple[list[dict[str, Any]], dict[str, float], str | None, str | None]:
    """Metrics per model version, each against its own run's metrics.

    Returns (versions, the baseline of the overall metrics, its source, a note)."""
    if VERSION_COLUMN not in frame.columns:
        note = (
            f"the data has no `{VERSION_COLUMN}` column: which version made these predictions "
            "is unknown"
        )
        return [], baseline, baseline_source, note
    # every version that predicted, labelled yet or not (rows counts the labelled ones)
    every = frame[VERSION_COLUMN].map(version_name, na_action="ignore").fillna(UNKNOWN)
    names = every.loc[labelled.index]
    versions = []
    for name in sorted(every.unique(), key=lambda v: (v == UNKNOWN, len(v), v)):
        part = labelled[names == name]
        metrics, intervals = measure(part) if len(part) else ({}, {})
        base: Baseline | None = None
        if name != UNKNOWN and baseline_of is not None:
            base = baseline_of(name)
        base_metrics = {
            k: v for k, v in (base.metrics if base else {}).items() if k in metrics or not len(part)
        }
        versions.append(
            {
                "version": name,
                "rows": len(part),
                "metrics": clean(metrics),
                "intervals": intervals,
                "baseline": base_metrics,
                "baseline_source": base.source if base else None,
                "degraded": worse(metrics, base_metrics, threshold),
            }
        )
    if len(versions) == 1 and versions[0]["version"] != UNKNOWN:
        only = versions[0]
        return versions, only["baseline"], only["baseline_source"], None
    if not versions:
        return [], {}, None, None
    shown = ", ".join(f"v{v['version']}" if v["version"] != UNKNOWN else UNKNOWN for v in versions)
    note = f"predictions of {shown}: each version is compared with its own run's metrics"
    return versions, {}, None, note


def column_drift(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> dict[str, Any]:
    """Drift of the prediction (or target) columns between the reference and current data."""
    from bot.monitoring import drift

    present = [c for c in columns if c in reference.columns and c in current.columns]
    missing = [c for c in columns if c not in present]
    features = []
    if present:
        result = drift.compute_drift(reference, current, columns=present, workers=1)
        features = [f.to_dict() for f in result.features]
    return {"features": features, "missing": missing}


@dataclass(frozen=True)
class CbpeInputs:
    target: str
    score: str
    positive: str
    decision_threshold: float


def cbpe_section(
    frame: pd.DataFrame,
    reference: pd.DataFrame | None,
    inputs: CbpeInputs,
    timestamp: str | None,
    window: str,
    min_rows: int,
) -> dict[str, Any]:
    """Estimated performance per window from the scores alone, beside the realised one."""
    target, score = inputs.target, inputs.score
    why = None
    if reference is None:
        why = "no reference data to calibrate the scores on"
    elif score not in reference.columns or target not in reference.columns:
        lacks = " and ".join(f"`{c}`" for c in (target, score) if c not in reference.columns)
        why = f"the reference has no {lacks} column: CBPE learns from its labelled scores"
    if why is not None or reference is None:
        return {"reason": why}
    ref = reference.dropna(subset=[target, score])
    try:
        model = cbpe.fit(
            _positive(ref[target], inputs.positive),
            ref[score].astype(float).to_numpy(),
            inputs.decision_threshold,
        )
    except ValueError as exc:
        return {"reason": str(exc)}
    scored = frame.dropna(subset=[score])
    if scored.empty:
        return {"reason": f"no current row has a `{score}`"}
    if timestamp is None:
        ts = scored.index
        windows = [Window(_nat(), _nat(), ts, 1)]
    else:
        try:
            windows = split(scored, timestamp, window, min_rows)
        except WindowError as exc:
            raise PerformanceError(str(exc)) from None
    labels = scored[target] if target in scored.columns else None
    out_windows = []
    for w in windows:
        part = scored.loc[w.index]
        positive = None
        if labels is not None:
            y = labels.loc[w.index]
            positive = np.where(y.isna(), np.nan, _positive(y, inputs.positive))
        est = cbpe.estimate_window(model, part[score].astype(float).to_numpy(), positive)
        span = {} if timestamp is None else {"start": w.start.isoformat(), "end": w.end.isoformat()}
        est["alerts"] = [
            m
            for m in cbpe.METRICS
            if (up := est["upper"][m]) is not None
            and (ref_value := model.reference.get(m)) is not None
            and up < ref_value
        ]
        out_windows.append({**span, **est})
    return {
        "calibration": model.calibration.value,
        "calibration_note": model.describe(),
        "reference_rows": model.reference_rows,
        "reference": clean(model.reference),
        "decision_threshold": inputs.decision_threshold,
        "windows": out_windows,
        "alerts": out_windows[-1]["alerts"] if out_windows else [],
    }


def _positive(labels: pd.Series, positive: str) -> np.ndarray:
    return (label_text(labels) == positive).to_numpy(dtype=float)


def _nat() -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(0, tz="UTC")
