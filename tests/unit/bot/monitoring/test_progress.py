"""A report's progress events: the phases in order and the columns counted by both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.monitoring.document import ReportKind
from bot.monitoring.progress import Phase, ProgressEvent
from bot.monitoring.report import make_report
from bot.policy.file import Policy
from bot.registry.gateway import Registry


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_phases_and_columns_done(engine: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, 300) for i in range(4)})
    ref["plan"] = rng.choice(["a", "b"], 300)
    ref.to_parquet(tmp_path / "ref.parquet")
    ref.assign(x0=ref["x0"] + 1).to_parquet(tmp_path / "cur.parquet")
    events: list[ProgressEvent] = []
    make_report(
        ReportKind.DRIFT,
        Registry(f"sqlite:///{tmp_path / 'unused.db'}"),
        Policy(),
        reference=str(tmp_path / "ref.parquet"),
        current=str(tmp_path / "cur.parquet"),
        engine=engine,
        progress=events.append,
    )
    phases = [e.phase for e in events]
    assert phases == sorted(phases, key=list(Phase).index)  # loading, comparing, charts
    # DuckDB reads the files lazily while it compares: no loading phase of its own
    assert set(phases) == (set(Phase) if engine == "numpy" else {Phase.COMPARING, Phase.CHARTS})
    counted = [(e.done, e.total) for e in events if e.total is not None]
    assert counted == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert events[-1].line() == "charts: rendering charts"
