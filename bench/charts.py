"""Chart rendering time: the drift summary plus 10 feature charts (target ≤ 1.5 s).

    .venv/bin/python bench/charts.py [--rows 200000]

Baseline in the same process: saving an empty 800×450 Agg figure to PNG, so the ratio
(charts cost in "empty figures") survives a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np
import pandas as pd

from bot.monitoring import charts
from bot.monitoring.drift.engine import compute_drift


def timed(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    rows = ap.parse_args().rows
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {f"n{i}": rng.normal(size=rows) for i in range(8)}
        | {f"c{i}": rng.choice(list("abcdefg"), rows) for i in range(4)}
    )
    cur = ref.copy()
    for i in range(8):
        cur[f"n{i}"] += 0.2 * (i + 1)
    result = compute_drift(ref, cur)
    top = [f for f in result.features if f.drift_score is not None][:10]  # severity order

    def empty() -> None:
        charts._png(charts._figure())

    def summary() -> None:
        charts.drift_summary(result, "churn @champion v3 — drift")

    def all_charts() -> None:
        summary()
        for f in top:
            charts.feature_distribution(f, ref[f.name], cur[f.name], "churn")

    empty()  # warm matplotlib's font cache
    base = timed(empty)
    rows_out = [
        ("empty 800×450 figure (baseline)", base),
        ("drift summary", timed(summary)),
        ("summary + 10 feature charts", timed(all_charts, 3)),
    ]
    print(f"\n{rows:,} rows per side, median of runs")
    print("| chart set | seconds | × baseline |")
    print("|---|---|---|")
    for name, secs in rows_out:
        print(f"| {name} | {secs:.3f} | {secs / base:.1f} |")


if __name__ == "__main__":
    main()
