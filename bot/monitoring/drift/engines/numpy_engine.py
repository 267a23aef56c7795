"""The numpy engine: today's in-memory drift (``bot.monitoring.drift.engine``) behind the
engine interface."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.monitoring.drift.engine import compute_drift
from bot.monitoring.drift.engines.base import DriftOptions, EngineError, EngineKind, local_paths
from bot.monitoring.drift.results import DriftResult

if TYPE_CHECKING:
    import pandas as pd

    from bot.monitoring.drift.profiles import ReferenceProfile


class NumpyEngine:
    """Loads both sides into pandas and compares them in memory."""

    kind = EngineKind.NUMPY

    def compute(
        self,
        reference: pd.DataFrame | str | Path,
        current: pd.DataFrame | str | Path,
        options: DriftOptions,
    ) -> DriftResult:
        return drift_with_options(read_frame(reference), read_frame(current), options)


def drift_with_options(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame | ReferenceProfile,
    options: DriftOptions,
) -> DriftResult:
    """:func:`compute_drift` asked what ``options`` ask (frames or stored profiles)."""
    return compute_drift(
        reference,
        current,
        features=options.features,
        correction=options.correction,
        columns=options.columns,
        exclude=options.exclude,
        now=options.now,
        freshness=options.freshness,
        on_column=options.on_column,
    )


def read_frame(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    """A frame as is; local Parquet/CSV files (a path, glob or folder) read and concatenated."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    paths = local_paths(source)
    if not paths:
        raise EngineError(f"no file matches `{source}`")
    frames = [
        pd.read_parquet(p) if p.name.lower().endswith((".parquet", ".pq")) else pd.read_csv(p)
        for p in paths
    ]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
