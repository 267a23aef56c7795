"""Model performance on labelled current data, overall and per time window (SPEC §7).

Compared with the metrics logged on the version's MLflow run; a metric that is worse than
the baseline by more than the threshold (relative) is flagged as degraded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["classification", "regression"]
LOWER_IS_BETTER = {"rmse", "mae"}
CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION = ("rmse", "mae", "r2")
MAX_WINDOWS = 366


class PerformanceError(ValueError):
    """Columns missing or unusable; the message names the column."""


@dataclass
class PerformanceResult:
    task: Task
    rows: int
    metrics: dict[str, float | None]
    baseline: dict[str, float]
    threshold: float
    degraded: list[str] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "rows": self.rows,
            "metrics": _clean(self.metrics),
            "baseline": _clean(dict(self.baseline)),
            "threshold": self.threshold,
            "degraded": self.degraded,
            "degradation": bool(self.degraded),
            "windows": [{**w, "metrics": _clean(w["metrics"])} for w in self.windows],
        }


def _clean(d: dict[str, Any]) -> dict[str, float | None]:
    return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in d.items()}


def detect_task(target: pd.Series) -> Task:
    """Classification for bool/string/category targets or few integer classes, else regression."""
    import pandas as pd

    t = target.dropna()
    if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
        return "classification"
    integral = bool((t == t.round()).all()) if len(t) else True
    return "classification" if integral and t.nunique() <= 20 else "regression"


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
) -> PerformanceResult:
    """Metrics of `prediction` against `target`, overall and per `window` of `timestamp`."""
    import pandas as pd

    for col in (target, prediction, timestamp, score):
        if col is not None and col not in frame.columns:
            raise PerformanceError(f"column `{col}` is not in the current data")
    data = frame.dropna(subset=[target, prediction])
    if data.empty:
        raise PerformanceError(f"no rows with both `{target}` and `{prediction}` set")
    task = detect_task(data[target])
    metrics = _metrics(task, data, target, prediction, score)
    base = {k: float(v) for k, v in (baseline or {}).items() if k in metrics}
    degraded = [m for m, v in metrics.items() if _worse(m, v, base.get(m), threshold)]
    windows: list[dict[str, Any]] = []
    if timestamp is not None:
        ts = pd.to_datetime(data[timestamp], errors="coerce", utc=True)
        if ts.isna().all():
            raise PerformanceError(f"column `{timestamp}` holds no readable timestamps")
        try:
            grouped = (
                data.assign(_ts=ts)
                .dropna(subset=["_ts"])
                .groupby(pd.Grouper(key="_ts", freq=window))
            )
        except ValueError:
            raise PerformanceError(f"`{window}` is not a pandas frequency like 1D or 6h") from None
        for start, part in list(grouped)[-MAX_WINDOWS:]:
            if part.empty:
                continue
            windows.append(
                {
                    "start": pd.Timestamp(start).isoformat(),
                    "rows": len(part),
                    "metrics": _metrics(task, part, target, prediction, score),
                }
            )
    return PerformanceResult(task, len(data), metrics, base, threshold, degraded, windows)


def _worse(metric: str, value: float | None, base: float | None, threshold: float) -> bool:
    if value is None or base is None or not math.isfinite(value) or base == 0:
        return False
    change = (value - base) / abs(base)
    return change > threshold if metric in LOWER_IS_BETTER else -change > threshold


def _metrics(
    task: Task, data: pd.DataFrame, target: str, prediction: str, score: str | None
) -> dict[str, float | None]:
    from sklearn import metrics as skm

    y = data[target]
    p = data[prediction]
    if task == "regression":
        yv, pv = y.astype(float).to_numpy(), p.astype(float).to_numpy()
        return {
            "rmse": float(math.sqrt(skm.mean_squared_error(yv, pv))),
            "mae": float(skm.mean_absolute_error(yv, pv)),
            "r2": float(skm.r2_score(yv, pv)) if len(yv) > 1 else None,
        }
    scores = data[score] if score is not None else None
    labels = sorted(set(y.unique()), key=str)
    if scores is None and _is_probability(p) and len(labels) <= 2:
        scores, p = p, (p >= 0.5).astype(y.dtype if y.dtype != object else int)
    yv, pv = y.astype(str).to_numpy(), p.astype(str).to_numpy()
    binary = len(labels) <= 2
    pos = str(labels[-1]) if labels else "1"
    avg = "binary" if binary else "macro"
    kw: dict[str, Any] = {"average": avg, "zero_division": 0}
    if binary:
        kw["pos_label"] = pos
    out: dict[str, float | None] = {
        "accuracy": float(skm.accuracy_score(yv, pv)),
        "precision": float(skm.precision_score(yv, pv, **kw)),
        "recall": float(skm.recall_score(yv, pv, **kw)),
        "f1": float(skm.f1_score(yv, pv, **kw)),
        "roc_auc": None,
    }
    if scores is not None and binary and len(set(yv)) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(yv == pos, scores.astype(float)))
    return out


def _is_probability(p: pd.Series) -> bool:
    import pandas as pd

    if not pd.api.types.is_float_dtype(p):
        return False
    values = p.dropna()
    return (
        bool(len(values))
        and bool(((values >= 0) & (values <= 1)).all())
        and bool((values != values.round()).any())
    )
