"""Report charts as PNG bytes: matplotlib's Agg canvas, no pyplot global state.

Sized for Slack's preview (800×450 px), Okabe–Ito colours (colour-blind safe), titles that
say model, alias, version and window. Every chart shows aggregates only: histograms and
category shares, with categories seen fewer than 5 times folded into "other".
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from bot.monitoring.drift.results import DriftResult, FeatureDrift

BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"
SIZE = (8.0, 4.5)
DPI = 100
MIN_CATEGORY_COUNT = 5
MAX_BARS = 20
HIST_BINS = 30
P_VALUE_METHODS = {"ks", "chisquare"}


def _figure(left: float = 0.09) -> Figure:
    from matplotlib.figure import Figure

    # fixed margins: constrained layout draws every figure twice, doubling the render time
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=left, right=0.98, top=0.86, bottom=0.16)
    return fig


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def drift_score(f: FeatureDrift) -> float | None:
    """The statistic relative to its threshold: 1.0 is the drift line for every method."""
    if f.statistic is None or f.threshold is None or f.drifted is None:
        return None
    if f.method in P_VALUE_METHODS:
        if f.p_value is None:
            return None
        p = max(f.p_value, 1e-300)
        return math.log10(p) / math.log10(f.threshold) if 0 < f.threshold < 1 else None
    return f.statistic / f.threshold if f.threshold > 0 else None


def drift_summary(result: DriftResult, title: str) -> bytes:
    """Bar chart of every tested feature's drift score with the threshold line at 1."""
    scored = [(f, s) for f in result.features if (s := drift_score(f)) is not None]
    scored.sort(key=lambda fs: fs[1], reverse=True)
    scored = scored[:MAX_BARS]
    fig = _figure(left=0.2)
    ax = fig.add_subplot()
    if not scored:
        ax.text(0.5, 0.5, "No feature could be tested", ha="center", va="center")
        ax.set_axis_off()
    else:
        names = [_label(f.name) for f, _ in scored][::-1]
        values = [min(s, 10.0) for _, s in scored][::-1]
        colours = [VERMILION if f.drifted else BLUE for f, _ in scored][::-1]
        ax.barh(names, values, color=colours)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="drift threshold")
        ax.set_xlabel("drift score (statistic ÷ threshold; ≥ 1 is drift, capped at 10)")
        ax.legend(loc="lower right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    share = f"{result.drifted_share:.0%} of features drifted"
    ax.set_title(f"{title}\n{share}", fontsize=10)
    return _png(fig)


def feature_distribution(
    name: str, kind: str, reference: pd.Series, current: pd.Series, title: str
) -> bytes:
    """Reference vs current: histogram overlay (numeric) or category shares (categorical)."""
    fig = _figure()
    ax = fig.add_subplot()
    if kind == "numeric":
        _hist_overlay(ax, reference, current)
    else:
        _category_bars(ax, reference, current)
    ax.set_title(f"{title}\n{_label(name)}", fontsize=10)
    return _png(fig)


def _finite(s: pd.Series) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _hist_overlay(ax: Any, reference: pd.Series, current: pd.Series) -> None:
    ref, cur = _finite(reference), _finite(current)
    both = np.concatenate([ref, cur])
    if both.size == 0:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center")
        return
    lo, hi = np.quantile(both, [0.005, 0.995])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    for values, colour, label in ((ref, BLUE, "reference"), (cur, ORANGE, "current")):
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
        share = counts / max(values.size, 1)
        ax.stairs(share, edges, color=colour, linewidth=2, label=f"{label} (n={values.size:,})")
    ax.set_ylabel("share of rows")
    ax.legend(fontsize=8, loc="upper right")


def category_shares(reference: pd.Series, current: pd.Series) -> tuple[list[str], Any, Any]:
    """Category shares per side, rare categories (< 5 rows on both sides) folded into other."""
    import pandas as pd

    ref = reference.dropna().astype(str).value_counts()
    cur = current.dropna().astype(str).value_counts()
    counts = pd.concat([ref.rename("ref"), cur.rename("cur")], axis=1).fillna(0)
    frequent = counts[(counts["ref"] >= MIN_CATEGORY_COUNT) | (counts["cur"] >= MIN_CATEGORY_COUNT)]
    frequent = frequent.sort_values("ref", ascending=False).head(MAX_BARS - 1)
    other = counts.drop(frequent.index).sum()
    if other.sum() > 0:
        frequent = pd.concat([frequent, other.to_frame("other").T])
    ref_share = frequent["ref"] / max(counts["ref"].sum(), 1)
    cur_share = frequent["cur"] / max(counts["cur"].sum(), 1)
    return [_label(str(i)) for i in frequent.index], ref_share.to_numpy(), cur_share.to_numpy()


def _category_bars(ax: Any, reference: pd.Series, current: pd.Series) -> None:
    names, ref_share, cur_share = category_shares(reference, current)
    x = np.arange(len(names))
    ax.bar(x - 0.2, ref_share, width=0.4, color=BLUE, label="reference")
    ax.bar(x + 0.2, cur_share, width=0.4, color=ORANGE, label="current")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of rows")
    ax.legend(fontsize=8, loc="upper right")


def _label(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
