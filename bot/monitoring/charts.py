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
P_VALUE_METHODS = {"ks", "chisquare"}  # as in bot.monitoring.drift.results (lazy import)


def load_matplotlib() -> None:
    """Import what the charts draw with, and look the default font up, now (in a preloading
    thread, or before a fork, so both processes have them)."""
    from matplotlib import font_manager, lines, patches, ticker  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    font_manager.findfont(font_manager.FontProperties())


def _figure(left: float = 0.09, size: tuple[float, float] = SIZE) -> Figure:
    from matplotlib.figure import Figure

    # fixed margins: constrained layout draws every figure twice, doubling the render time
    fig = Figure(figsize=size, dpi=DPI)
    fig.subplots_adjust(left=left, right=0.98, top=0.86, bottom=0.16)
    return fig


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


METHOD_LABELS = {
    "ks": "KS",
    "chisquare": "χ²",
    "wasserstein": "Wasserstein",
    "jensenshannon": "Jensen–Shannon",
    "psi": "PSI",
}
SCORE_FLOOR = 0.01  # a log axis has no 0: smaller scores are drawn at the floor
MAX_UNTESTED_LISTED = 6


def _method(f: FeatureDrift) -> str:
    return METHOD_LABELS.get(f.method or "", f.method or "—")


def _evidence(f: FeatureDrift) -> str:
    """The number the verdict stands on, as the bar's label says it."""
    if f.method in P_VALUE_METHODS and f.p_value is not None:
        adjusted = f.p_value_adjusted
        return f"p {_num(f.p_value)}" + (f", adj {_num(adjusted)}" if adjusted is not None else "")
    return f"{_num(f.statistic)} vs {_num(f.threshold)}"


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.1e}" if value != 0 and abs(value) < 1e-3 else f"{value:.3g}"


def drift_summary(result: DriftResult, title: str) -> bytes:
    """Every tested feature's drift score (or the top 20, saying so) on a log axis, 1 = the
    threshold; untested columns are listed under the chart with their reasons."""
    return _png(summary_figure(result, title))


def summary_figure(result: DriftResult, title: str) -> Figure:
    """The figure of :func:`drift_summary` (tests read its texts)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    from bot.monitoring.drift.results import by_severity

    tested = [f for f in by_severity(result.features) if f.drift_score is not None]
    untested = [
        (f.name, (f.reason or "untested").split(":")[0])
        for f in result.features
        if f.drift_score is None
    ]
    for col in result.quality.get("columns", []):
        if "freshness" in col:
            untested.append((col["name"], "date: freshness in data quality"))
    for col in result.quality.get("unsupported_columns", []):
        untested.append((col["name"], f"{col['dtype']} not supported"))
    shown = tested[:MAX_BARS]
    height = max(SIZE[1], 1.6 + 0.26 * len(shown) + (0.5 if untested else 0))
    fig = _figure(size=(SIZE[0], height))
    bottom_in = 0.75 + (0.35 if untested else 0)
    fig.subplots_adjust(left=0.3, right=0.84, top=1 - 0.85 / height, bottom=bottom_in / height)
    ax = fig.add_subplot()
    if not shown:
        ax.text(0.5, 0.5, "No feature could be tested", ha="center", va="center")
        ax.set_axis_off()
        what = "no tested feature"
    else:
        names = [f"{_label(f.name, 30)} · {_method(f)}" for f in shown][::-1]
        values = [max(f.drift_score or 0.0, SCORE_FLOOR) for f in shown][::-1]
        colours = [VERMILION if f.drifted else BLUE for f in shown][::-1]
        bars = ax.barh(names, values, color=colours)
        ax.set_xscale("log")
        top = max(max(values) * 3, 10.0)
        ax.set_xlim(SCORE_FLOOR, top)
        # plain decade labels ("0.01" … "100"): readable, and far fewer texts to lay out than
        # matplotlib's default mathtext major and minor labels (which tripled the render time)
        decades = [10.0**e for e in range(-2, int(math.log10(top)) + 1)]
        ax.xaxis.set_major_locator(FixedLocator(decades))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{d:g}" for d in decades]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        for bar, f in zip(bars, shown[::-1], strict=True):
            ax.annotate(
                _evidence(f),
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                annotation_clip=False,
            )
        ax.set_xlabel(
            "drift score, log scale: 1 = threshold, > 1 drifted "
            "(p-value tests: log p ÷ log α; distances: statistic ÷ threshold)",
            fontsize=8,
        )
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(
            handles=[
                Patch(color=VERMILION, label="drifted"),
                Patch(color=BLUE, label="not drifted"),
                Line2D([], [], color="black", linestyle="--", label="threshold (score 1)"),
            ],
            loc="lower right",
            fontsize=7,
            framealpha=0.9,
        )
        n = len(tested)
        more = n - len(shown)
        what = (
            f"top {len(shown)} of {n} tested features ({more} more in the table)"
            if more
            else (f"all {n} tested features")
        )
    if untested:
        listed = ", ".join(
            f"{_label(name, 24)} ({_label(why, 40)})"
            for name, why in untested[:MAX_UNTESTED_LISTED]
        )
        rest = len(untested) - MAX_UNTESTED_LISTED
        fig.text(
            0.02,
            0.15 / height,
            f"Not tested ({len(untested)}): {listed}" + (f", and {rest} more" if rest > 0 else ""),
            fontsize=7,
            wrap=True,
        )
    correction = "BH-adjusted p" if result.correction == "bh" else "raw p"
    share = f"{result.drifted_share:.0%} of tested features drifted ({correction}) · {what}"
    ax.set_title(f"{title}\n{share}", fontsize=9, y=1.0)  # y: no tick-label measuring
    return fig


def feature_distribution(
    f: FeatureDrift, reference: pd.Series, current: pd.Series, title: str
) -> bytes:
    """Reference vs current: histogram overlay (numeric) or category shares (categorical),
    titled with the test that decided: method, statistic, threshold, adjusted p, verdict."""
    return _png(feature_figure(f, reference, current, title))


def feature_figure(f: FeatureDrift, reference: pd.Series, current: pd.Series, title: str) -> Figure:
    """The figure of :func:`feature_distribution` (tests read its texts)."""
    fig = _figure()
    fig.subplots_adjust(top=0.84, bottom=0.15)
    ax = fig.add_subplot()
    if f.type == "numeric":
        _hist_overlay(ax, reference, current)
        ax.set_xlabel(
            f"{_label(f.name)} (value; the outer 0.5 % tails are counted in the end bins)",
            fontsize=8,
        )
    else:
        _category_bars(ax, reference, current)
        ax.set_xlabel(f"{_label(f.name)} (category)", fontsize=8)
    verdict = "drifted" if f.drifted else "not drifted" if f.drifted is False else "untested"
    test = f"{_method(f)} statistic {_num(f.statistic)}"
    if f.method in P_VALUE_METHODS:  # the threshold is on p, not on the statistic
        test += f", p {_num(f.p_value)}"
        if f.p_value_adjusted is not None:
            test += f", adjusted p {_num(f.p_value_adjusted)}"
        test += f", threshold α {_num(f.threshold)}"
    else:
        test += f", threshold {_num(f.threshold)}"
    test += f" → {verdict}"
    # y given: the title is placed without measuring every tick label first
    ax.set_title(f"{title}\n{_label(f.name)}: {test}", fontsize=9, y=1.0)
    return fig


def _finite(s: pd.Series) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _hist_overlay(ax: Any, reference: pd.Series, current: pd.Series) -> None:
    from bot.monitoring import chart_hist

    ref, cur = _finite(reference), _finite(current)
    drawn = chart_hist.overlay(ref, cur, HIST_BINS)  # the 0.5 %-99.5 % range of both sides
    if drawn is None:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center")
        return
    edges, counts = drawn
    sides = ((ref, BLUE, "reference"), (cur, ORANGE, "current"))
    for (values, colour, label), side_counts in zip(sides, counts, strict=True):
        share = side_counts / max(values.size, 1)
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
    n_ref, n_cur = int(reference.notna().sum()), int(current.notna().sum())
    ax.bar(x - 0.2, ref_share, width=0.4, color=BLUE, label=f"reference (n={n_ref:,})")
    ax.bar(x + 0.2, cur_share, width=0.4, color=ORANGE, label=f"current (n={n_cur:,})")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of rows")
    ax.legend(fontsize=8, loc="upper right")


def _label(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
