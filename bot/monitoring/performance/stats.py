"""Metrics with their uncertainty: Wilson intervals for rates, a seeded bootstrap for ROC-AUC.

scikit-learn computes the point metrics and scipy the normal quantile. The bootstrap of ROC-AUC
is written here because scikit-learn re-sorts the scores on every resample: sorting once and
weighting the rows by their resample counts gives the same AUC in O(n) per resample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 20261130
RELIABILITY_BINS = 10
BOOTSTRAP_MAX_ROWS = 20_000

Interval = tuple[float, float]


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval of a proportion; None without trials."""
    if n <= 0:
        return None
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends: no rounding
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


class RankedScores:
    """Scores sorted once with their labels, for the exact AUC and its weighted resamples."""

    def __init__(self, positive: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="mergesort")
        _, self.group = np.unique(scores[self.order], return_inverse=True)
        self.positive = positive[self.order].astype(float)
        self.n = len(scores)
        self.ties = bool(len(self.group)) and int(self.group[-1]) + 1 < self.n

    def auc(self, weights: np.ndarray | None = None) -> float | None:
        """Probability that a positive outscores a negative (ties count half); `weights` are
        per row in the original order (a bootstrap resample's counts)."""
        w = np.ones(self.n) if weights is None else weights[self.order]
        pos, neg = w * self.positive, w * (1 - self.positive)
        if self.ties:
            pos, neg = np.bincount(self.group, pos), np.bincount(self.group, neg)
        total = pos.sum() * neg.sum()
        if total <= 0:
            return None
        below = np.cumsum(neg) - neg
        return float(np.sum(pos * (below + 0.5 * neg)) / total)


def bootstrap_auc(
    positive: np.ndarray,
    scores: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval | None:
    """Percentile bootstrap interval of ROC-AUC (fixed seed: the same data, the same interval).

    Above BOOTSTRAP_MAX_ROWS rows the resamples are drawn from a seeded subsample of that size
    and the interval is narrowed around the full data's AUC by sqrt(subsample / rows): the
    AUC's standard error shrinks as 1/sqrt(n), and a million-row window then costs what a
    20,000-row one does."""
    point = RankedScores(positive, scores).auc()
    if point is None:
        return None
    rng = np.random.default_rng(seed)
    n = len(scores)
    scale = 1.0
    if n > BOOTSTRAP_MAX_ROWS:
        pick = rng.choice(n, BOOTSTRAP_MAX_ROWS, replace=False)
        positive, scores = positive[pick], scores[pick]
        scale = math.sqrt(BOOTSTRAP_MAX_ROWS / n)
        n = BOOTSTRAP_MAX_ROWS
    ranked = RankedScores(positive, scores)
    values = []
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        value = ranked.auc(counts)
        if value is not None:
            values.append(value)
    if len(values) < resamples // 2:
        return None
    lo, hi = np.quantile(values, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    centre = ranked.auc() or point
    return (
        max(0.0, point - (centre - float(lo)) * scale),
        min(1.0, point + (float(hi) - centre) * scale),
    )


def is_probability(scores: np.ndarray) -> bool:
    """Every score within [0, 1]: log loss, Brier and the reliability diagram apply."""
    return bool(len(scores)) and bool(((scores >= 0) & (scores <= 1)).all())


def score_metrics(positive: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC, PR-AUC and, for probabilities, log loss and Brier score."""
    from sklearn import metrics as skm

    both = bool(positive.any()) and not bool(positive.all())
    out: dict[str, float | None] = {
        "roc_auc": RankedScores(positive, scores).auc() if both else None,
        "pr_auc": float(skm.average_precision_score(positive, scores)) if both else None,
        "log_loss": None,
        "brier": None,
    }
    if is_probability(scores):
        out["log_loss"] = float(skm.log_loss(positive, scores, labels=[False, True]))
        out["brier"] = float(skm.brier_score_loss(positive, scores))
    return out


def reliability(positive: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    """Equal-width score bins: mean score, observed positive rate (with its Wilson interval)
    and rows of each bin."""
    if not is_probability(scores):
        return []
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, RELIABILITY_BINS - 1)
    bins = []
    for b in range(RELIABILITY_BINS):
        mask = which == b
        n = int(mask.sum())
        if n:
            hits = int(positive[mask].sum())
            bins.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "mean_score": float(scores[mask].mean()),
                    "observed_rate": hits / n,
                    "rows": n,
                    "interval": list(wilson(hits, n) or (0.0, 1.0)),
                }
            )
    return bins
