"""The charts of a report: which PNGs a drift or performance report carries, in which order."""

from __future__ import annotations

from typing import Any

from bot.monitoring import datasets

TOP_FEATURE_CHARTS = 10


def drift_charts(
    result: Any, ref: datasets.Dataset, cur: datasets.Dataset, title: str, workers: int = 1
) -> list[tuple[str, bytes]]:
    """The drift summary and the feature charts of the most severe features (PNG bytes by
    name); with ``workers`` >= 2 a forked process draws every other one."""
    from functools import partial

    from bot.monitoring import chart_workers, charts

    jobs: list[chart_workers.Job] = [
        ("drift_summary.png", partial(charts.drift_summary, result, title))
    ]
    ranked = [f for f in result.features if f.drift_score is not None]  # severity order
    for i, f in enumerate(ranked[:TOP_FEATURE_CHARTS], start=1):
        if f.name in ref.frame.columns and f.name in cur.frame.columns:
            ref_col, cur_col = ref.frame[f.name], cur.frame[f.name]
            draw = partial(charts.feature_distribution, f, ref_col, cur_col, title)
            jobs.append((f"feature_{i:02d}_{slug(f.name)}.png", draw))
    if workers > 1:
        charts.load_matplotlib()  # once, before the fork: the child inherits it
    return chart_workers.render(jobs, workers)


def perf_charts(result: Any, body: dict[str, Any], title: str) -> list[tuple[str, bytes]]:
    """Each metric over the windows, CBPE, reliability, confusion matrix and residuals."""
    from bot.monitoring.performance import charts as ch

    out: list[tuple[str, bytes]] = []
    if result.windows:
        keys = ["accuracy", "f1", "roc_auc"] if result.task == "classification" else ["rmse", "r2"]
        for m in keys:
            if any(w["metrics"].get(m) is not None for w in result.windows):
                png = ch.metric_over_time(
                    body["windows"], m, result.baseline.get(m), body.get("baseline_source"), title
                )
                out.append((f"metric_{m}.png", png))
    cbpe = body.get("cbpe") or {}
    for m in ("roc_auc", "accuracy"):
        if any(w["estimated"].get(m) is not None for w in cbpe.get("windows", [])):
            out.append((f"cbpe_{m}.png", ch.cbpe_over_time(cbpe, m, title)))
    if body.get("reliability"):
        out.append(
            ("reliability.png", ch.reliability_diagram(body["reliability"], body["score"], title))
        )
    if body.get("confusion"):
        png = ch.confusion_matrix(
            body["confusion"], body["decision_threshold"], body["positive_label"], title
        )
        out.append(("confusion_matrix.png", png))
    if body.get("residuals"):
        out.append(("residuals.png", ch.residuals(body["residuals"], title)))
    return out


def slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return cleaned[:40] or "feature"
