"""The performance report's charts as PNG bytes (the look of `bot.monitoring.charts`).

Every time chart shows each window's rows (n) and its 95 % interval; the baseline line names
where its value comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.monitoring.charts import BLUE, GREY, ORANGE, VERMILION, _figure, _png

LABELS = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "accuracy": "accuracy",
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def _times(windows: Sequence[dict[str, Any]]) -> list[Any]:
    import pandas as pd

    if any(not w.get("start") for w in windows):
        return list(range(len(windows)))  # no timestamp column: one window of every row
    # the middle of each window: merged windows are wider
    out = []
    for w in windows:
        start = pd.Timestamp(w["start"])
        end = pd.Timestamp(w["end"]) if w.get("end") else start
        out.append(start + (end - start) / 2)
    return out


def metric_over_time(
    windows: Sequence[dict[str, Any]],
    metric: str,
    baseline: float | None,
    baseline_source: str | None,
    title: str,
) -> bytes:
    """One metric per window with its 95 % interval and n, and the baseline line."""
    fig = _figure()
    ax = fig.add_subplot()
    label = LABELS.get(metric, metric)
    points = [
        (t, w["metrics"].get(metric), (w.get("intervals") or {}).get(metric), w["rows"])
        for t, w in zip(_times(windows), windows, strict=True)
    ]
    points = [p for p in points if p[1] is not None]
    if points:
        xs = [p[0] for p in points]
        ys = np.array([p[1] for p in points], dtype=float)
        lo = np.array([p[2][0] if p[2] else p[1] for p in points], dtype=float)
        hi = np.array([p[2][1] if p[2] else p[1] for p in points], dtype=float)
        has_ci = any(p[2] for p in points)
        ax.errorbar(
            xs,
            ys,
            # a percentile bootstrap interval need not hold its point estimate: never below 0
            yerr=[np.clip(ys - lo, 0, None), np.clip(hi - ys, 0, None)],
            marker="o",
            color=BLUE,
            capsize=3,
            label=f"{label} (95 % interval)" if has_ci else label,
        )
        for x, y, _, n in points:
            ax.annotate(
                f"n={n:,}",
                (x, y),
                textcoords="offset points",
                xytext=(0, 8),
                fontsize=7,
                ha="center",
                color=GREY,
            )
    if baseline is not None:
        ax.axhline(
            baseline,
            color=VERMILION,
            linestyle="--",
            label=f"baseline {baseline:.3g}: {baseline_source or 'logged on the run'}"[:90],
        )
    ax.set_ylabel(label)
    ax.set_xlabel("window (n = labelled rows)")
    ax.legend(fontsize=8, loc="lower left")
    fig.autofmt_xdate()
    ax.set_title(f"{title}\n{label} per window", fontsize=10)
    return _png(fig)


def cbpe_over_time(cbpe: dict[str, Any], metric: str, title: str) -> bytes:
    """CBPE: the estimate with its sampling band, beside the realised value where labelled."""
    fig = _figure()
    ax = fig.add_subplot()
    label = LABELS.get(metric, metric)
    windows = cbpe["windows"]
    xs = _times(windows)
    est = [w["estimated"].get(metric) for w in windows]
    keep = [i for i, v in enumerate(est) if v is not None]
    if keep:
        x = [xs[i] for i in keep]
        ax.fill_between(
            x,
            [windows[i]["lower"][metric] for i in keep],
            [windows[i]["upper"][metric] for i in keep],
            color=BLUE,
            alpha=0.15,
            label="sampling band (95 %, from the reference)",
        )
        ax.plot(x, [est[i] for i in keep], marker="o", color=BLUE, label=f"estimated {label}")
    real = [
        (xs[i], w["realised"].get(metric), w["labelled_rows"])
        for i, w in enumerate(windows)
        if w["realised"].get(metric) is not None
    ]
    if real:
        ax.plot(
            [r[0] for r in real],
            [r[1] for r in real],
            marker="s",
            linestyle=":",
            color=ORANGE,
            label=f"realised {label} (labelled rows)",
        )
    ref = cbpe.get("reference", {}).get(metric)
    if ref is not None:
        ax.axhline(ref, color=VERMILION, linestyle="--", label=f"reference {ref:.3g}")
    ax.set_ylabel(label)
    ax.set_xlabel("window")
    ax.legend(fontsize=8, loc="lower left")
    fig.autofmt_xdate()
    ax.set_title(f"{title}\nestimated {label} (CBPE) beside the realised", fontsize=10)
    return _png(fig)


def reliability_diagram(bins: Sequence[dict[str, Any]], score: str, title: str) -> bytes:
    """Observed positive rate against the mean score per score bin; the diagonal is calibrated."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="perfectly calibrated")
    if bins:
        rate = np.array([b["observed_rate"] for b in bins])
        band = np.array([b.get("interval") or [r, r] for b, r in zip(bins, rate, strict=True)])
        ax.errorbar(
            [b["mean_score"] for b in bins],
            rate,
            yerr=[np.clip(rate - band[:, 0], 0, None), np.clip(band[:, 1] - rate, 0, None)],
            marker="o",
            color=BLUE,
            capsize=3,
            label="observed (95 % interval)",
        )
        for b in bins:
            ax.annotate(
                f"n={b['rows']:,}",
                (b["mean_score"], b["observed_rate"]),
                textcoords="offset points",
                xytext=(0, 6),
                fontsize=7,
                ha="center",
                color=GREY,
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel(f"mean `{score}` in the bin")
    ax.set_ylabel("share of positive labels")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{title}\nreliability diagram", fontsize=10)
    return _png(fig)


def confusion_matrix(counts: dict[str, int], threshold: float, positive: str, title: str) -> bytes:
    """The 2×2 confusion matrix at the decision threshold, counts and shares of all rows."""
    fig = _figure(left=0.2)
    ax = fig.add_subplot()
    cells = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
    total = max(int(cells.sum()), 1)
    ax.imshow(cells, cmap="Blues")
    for (r, c), v in np.ndenumerate(cells):
        dark = v > cells.max() / 2
        ax.text(
            c,
            r,
            f"{v:,}\n{v / total:.1%}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
    ax.set_xticks([0, 1], ["predicted negative", f"predicted positive ({positive})"])
    ax.set_yticks([0, 1], ["actual negative", f"actual positive ({positive})"])
    ax.set_title(f"{title}\nconfusion matrix at score ≥ {threshold:g} (n={total:,})", fontsize=10)
    return _png(fig)


def residuals(bins: Sequence[dict[str, Any]], title: str) -> bytes:
    """Residual (actual − predicted) per prediction decile: median, 10–90 % band, n."""
    fig = _figure()
    ax = fig.add_subplot()
    if bins:
        mids = [(b["low"] + b["high"]) / 2 for b in bins]
        ax.fill_between(
            mids,
            [b["p10"] for b in bins],
            [b["p90"] for b in bins],
            color=BLUE,
            alpha=0.15,
            label="10–90 % of residuals",
        )
        ax.plot(mids, [b["median"] for b in bins], marker="o", color=BLUE, label="median")
        for x, b in zip(mids, bins, strict=True):
            ax.annotate(
                f"n={b['rows']:,}",
                (x, b["p90"]),
                textcoords="offset points",
                xytext=(0, 4),
                fontsize=7,
                ha="center",
                color=GREY,
            )
    ax.axhline(0, color=VERMILION, linestyle="--", label="no error")
    ax.set_xlabel("prediction (decile bins)")
    ax.set_ylabel("actual − prediction")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"{title}\nresiduals by prediction", fontsize=10)
    return _png(fig)
