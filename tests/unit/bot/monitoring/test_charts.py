"""Issue 14 item 4: charts that say what they show (read back from the figures' texts)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.monitoring import charts
from bot.monitoring.drift import compute_drift


def frames(columns: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({f"x{i:02d}": rng.normal(size=500) for i in range(columns)})
    cur = pd.DataFrame({f"x{i:02d}": rng.normal(size=500) for i in range(columns)})
    cur["x00"] += 3.0  # p ~ 1e-200: far beyond main's cap at 10
    cur["x01"] += 0.5
    ref["order_id"] = [f"o{i}" for i in range(500)]
    cur["order_id"] = [f"p{i}" for i in range(500)]
    ref["day"] = pd.date_range("2026-01-01", periods=500, freq="h")
    cur["day"] = pd.date_range("2026-03-01", periods=500, freq="h")
    return ref, cur


def texts(fig: object) -> str:
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text))  # type: ignore[attr-defined]


def test_summary_says_top_20_of_n_and_lists_untested_columns() -> None:
    ref, cur = frames(30)
    result = compute_drift(ref, cur)
    fig = charts.summary_figure(result, "churn @champion v1 — drift")
    ax = fig.axes[0]
    shown = texts(fig)
    assert "top 20 of 30 tested features (10 more in the table)" in shown
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel().startswith("drift score, log scale: 1 = threshold")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 20 and all(label.endswith(" · KS") for label in labels)
    assert labels[-1].startswith("x00") and labels[-2].startswith("x01")  # top bar: the worst
    widths = [bar.get_width() for bar in ax.patches]
    assert max(widths) > 20  # uncapped (main: 10)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["drifted", "not drifted", "threshold (score 1)"]
    assert "Not tested (2): order_id (identifier-like), day (date: freshness" in shown
    assert "order_id ·" not in "\n".join(labels)  # never charted


def test_summary_shows_every_feature_when_few() -> None:
    ref, cur = frames(8)
    fig = charts.summary_figure(compute_drift(ref, cur), "t")
    assert "all 8 tested features" in texts(fig) and len(fig.axes[0].patches) == 8


def test_feature_chart_title_names_the_test_and_the_x_axis() -> None:
    ref, cur = frames(8)
    result = compute_drift(ref, cur)
    f = result.features[0]
    fig = charts.feature_figure(f, ref[f.name], cur[f.name], "churn @champion v1 — drift")
    title = fig.axes[0].get_title()
    assert f"{f.name}: KS statistic {f.statistic:.3g}, p " in title
    assert ", adjusted p " in title and title.endswith(", threshold α 0.05 → drifted")
    assert fig.axes[0].get_xlabel().startswith(f"{f.name} (value")
    png = charts.feature_distribution(f, ref[f.name], cur[f.name], "t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_category_chart_names_its_axis_and_sizes() -> None:
    rng = np.random.default_rng(1)
    plans = ["basic", "pro", "team", "enterprise"]
    ref = pd.DataFrame({"plan": rng.choice(plans, 800, p=[0.5, 0.3, 0.15, 0.05])})
    cur = pd.DataFrame({"plan": rng.choice(plans, 600, p=[0.4, 0.3, 0.2, 0.1])})
    (f,) = compute_drift(ref, cur).features
    fig = charts.feature_figure(f, ref["plan"], cur["plan"], "t")
    ax = fig.axes[0]
    assert ax.get_title().startswith("t\nplan: χ² statistic ") and "adjusted p" in ax.get_title()
    assert ax.get_xlabel() == "plan (category)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["reference (n=800)", "current (n=600)"]
