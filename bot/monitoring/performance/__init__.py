"""Model performance: realised metrics with their intervals, per window and per model version,
and CBPE estimates before the labels arrive.

Modules, each importing only those listed before it:

* ``stats``: Wilson intervals, the ROC-AUC bootstrap, score metrics, reliability bins;
* ``windows``: time windows, small ones merged into a neighbour;
* ``cbpe``: confidence-based performance estimation;
* ``measure``: the metrics of one slice of rows, and the names the others share;
* ``sections``: version attribution, prediction and target drift, the CBPE section;
* ``compute``: ``compute_performance`` and its result;
* ``charts``: the report's performance charts (matplotlib).
"""

from __future__ import annotations

from typing import Any

# the names below are loaded on first use (PEP 562): importing `measure.Task` for the report
# document must not import numpy and scikit-learn
_EXPORTS = {
    "PerformanceResult": "compute",
    "compute_performance": "compute",
    "Baseline": "measure",
    "PerformanceError": "measure",
    "Task": "measure",
    "detect_task": "measure",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
