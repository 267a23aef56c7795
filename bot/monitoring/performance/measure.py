"""The metrics of one slice of labelled rows, and what the performance modules share.

Classification: accuracy, precision, recall, F1 with Wilson intervals, and with a score
ROC-AUC (bootstrap interval), PR-AUC, log loss and Brier; regression: RMSE, MAE, R².
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and scikit-learn are imported where they are used: the report document
# (`Task`) is read by every Slack listener, which should not pay for them.

Task = Literal["classification", "regression"]
LOWER_IS_BETTER = {"rmse", "mae", "log_loss", "brier"}
CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION = ("rmse", "mae", "r2")
VERSION_COLUMN = "model_version"
RESIDUAL_SAMPLE = 5000


class PerformanceError(ValueError):
    """Columns missing or unusable; the message names the column."""


@dataclass(frozen=True)
class Baseline:
    """Metrics a version's run logged, and where they come from (said in the report)."""

    metrics: dict[str, float]
    source: str  # "metrics logged on run 1a2b… (v1)"


BaselineOf = Callable[[str], Baseline | None]  # a model version → its run's metrics


def clean(d: dict[str, Any]) -> dict[str, float | None]:
    return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in d.items()}


def detect_task(target: pd.Series) -> Task:
    """Classification for bool/string/category targets or few integer classes, else regression."""
    import pandas as pd

    t = target.dropna()
    if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
        return "classification"
    integral = bool((t == t.round()).all()) if len(t) else True
    return "classification" if integral and t.nunique() <= 20 else "regression"


def label_text(values: pd.Series) -> pd.Series:
    """Class labels as text, whole numbers without a decimal part: a label column read as
    float (it has missing values) then matches an integer prediction (1.0 → "1")."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        codes, uniques = pd.factorize(values.astype(float))  # each distinct value once
        if bool((uniques == np.round(uniques)).all()):
            names = np.array([str(int(u)) for u in uniques] + [None], dtype=object)
            return pd.Series(names[codes], index=values.index, dtype=object)
    return values.astype(str)


def class_labels(*targets: pd.Series) -> tuple[str, str]:
    """The negative and positive classes of a binary target, as text: the positive one is the
    larger (1, True, yes)."""
    labels: set[str] = set()
    for t in targets:
        labels |= set(label_text(t.dropna()).unique())
    ordered = sorted(labels)
    if not ordered:
        return "0", "1"
    return (ordered[0] if len(ordered) > 1 else "", ordered[-1])


def _worse(metric: str, value: float | None, base: float | None, threshold: float) -> bool:
    if value is None or base is None or not math.isfinite(value) or base == 0:
        return False
    change = (value - base) / abs(base)
    return change > threshold if metric in LOWER_IS_BETTER else -change > threshold


def worse(metrics: dict[str, float | None], base: dict[str, float], threshold: float) -> list[str]:
    """The metrics worse than their baseline by more than `threshold` (relative)."""
    return [m for m, v in metrics.items() if _worse(m, v, base.get(m), threshold)]


@dataclass(frozen=True)
class Measure:
    """The metrics of one slice of labelled rows (overall, a window, a version)."""

    task: Task
    target: str
    prediction: str | None  # None: the score at the decision threshold decides
    score: str | None
    decision_threshold: float
    positive: str
    negative: str

    def __call__(
        self, data: pd.DataFrame
    ) -> tuple[dict[str, float | None], dict[str, list[float]]]:
        import numpy as np
        import pandas as pd
        from sklearn import metrics as skm

        from bot.monitoring.performance import stats

        y = data[self.target]
        if self.prediction is not None:
            p = data[self.prediction]
        else:
            said = data[str(self.score)].astype(float) >= self.decision_threshold
            p = pd.Series(np.where(said, self.positive, self.negative), index=data.index)
        if self.task == "regression":
            yv, pv = y.astype(float).to_numpy(), p.astype(float).to_numpy()
            return {
                "rmse": float(math.sqrt(skm.mean_squared_error(yv, pv))),
                "mae": float(skm.mean_absolute_error(yv, pv)),
                "r2": float(skm.r2_score(yv, pv)) if len(yv) > 1 else None,
            }, {}
        scores = data[self.score] if self.score is not None else None
        labels = set(label_text(y).unique())
        binary = len(labels) <= 2
        if scores is None and self.prediction is not None and _is_probability(p) and binary:
            scores = p
            p = (p >= self.decision_threshold).astype(y.dtype if y.dtype != object else int)
        yv, pv = label_text(y).to_numpy(), label_text(p).to_numpy()
        if binary:
            # from the confusion counts: scikit-learn's per-call validation of string labels
            # costs more than the counting itself on every window and version
            truth, said = yv == self.positive, pv == self.positive
            tp = int((truth & said).sum())
            fp, fn = int((~truth & said).sum()), int((truth & ~said).sum())
            out: dict[str, float | None] = {
                "accuracy": float((yv == pv).mean()),
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
                "roc_auc": None,
            }
        else:
            kw: dict[str, Any] = {"average": "macro", "zero_division": 0}
            out = {
                "accuracy": float(skm.accuracy_score(yv, pv)),
                "precision": float(skm.precision_score(yv, pv, **kw)),
                "recall": float(skm.recall_score(yv, pv, **kw)),
                "f1": float(skm.f1_score(yv, pv, **kw)),
                "roc_auc": None,
            }
        n = len(yv)
        intervals = {"accuracy": stats.wilson(int((yv == pv).sum()), n)}
        if binary:
            intervals["precision"] = stats.wilson(tp, int(said.sum()))
            intervals["recall"] = stats.wilson(tp, int(truth.sum()))
        if scores is not None and binary:
            truth = yv == self.positive
            sv = scores.astype(float).to_numpy()
            if self.score is not None:
                out.update(stats.score_metrics(truth, sv))
            else:
                out["roc_auc"] = stats.RankedScores(truth, sv).auc()
            if out["roc_auc"] is not None:
                intervals["roc_auc"] = stats.bootstrap_auc(truth, sv)
        return out, {k: [float(v[0]), float(v[1])] for k, v in intervals.items() if v}

    def score_details(self, data: pd.DataFrame) -> dict[str, Any]:
        """Confusion matrix at the decision threshold and the reliability diagram's bins."""
        from bot.monitoring.performance import stats

        assert self.score is not None
        truth = label_text(data[self.target]).to_numpy() == self.positive
        sv = data[self.score].astype(float).to_numpy()
        said = sv >= self.decision_threshold
        return {
            "score": self.score,
            "decision_threshold": self.decision_threshold,
            "positive_label": self.positive,
            "confusion": {
                "tp": int((truth & said).sum()),
                "fp": int((~truth & said).sum()),
                "fn": int((truth & ~said).sum()),
                "tn": int((~truth & ~said).sum()),
            },
            "reliability": stats.reliability(truth, sv),
        }


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
