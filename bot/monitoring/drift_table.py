"""The drift feature table: one row per feature, in severity order, with everything a reader
needs to judge a verdict (method, statistic, threshold, raw and adjusted p, PSI and its band,
n and nulls of both sides). The CSV file next to a report and Slack's "Show all features"
both come from here, so they always agree.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from bot.monitoring.drift.results import P_VALUE_METHODS, by_severity, psi_band

FILENAME = "drift_features.csv"
COLUMNS = (
    "feature",
    "status",
    "type",
    "method",
    "statistic",
    "threshold",
    "p_value",
    "p_value_adjusted",
    "drift_score",
    "psi",
    "psi_band",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
    "reason",
)


def status(f: Any) -> str:
    """drifted | not_drifted | untested (also for bodies stored before the status key)."""
    return "untested" if f.drifted is None else "drifted" if f.drifted else "not_drifted"


def rows(features: Iterable[Any]) -> list[dict[str, Any]]:
    """Table rows of drift features (engine results or report documents), severity order."""
    out = []
    for f in by_severity(features):
        band = psi_band(f.psi)
        out.append(
            {
                "feature": f.name,
                "status": status(f),
                "type": f.type,
                "method": f.method,
                "statistic": f.statistic,
                "threshold": f.threshold,
                "p_value": f.p_value,
                "p_value_adjusted": getattr(f, "p_value_adjusted", None),
                "drift_score": f.drift_score,
                "psi": f.psi,
                "psi_band": str(band) if band is not None else None,
                "n_reference": getattr(f, "n_reference", None),
                "n_current": getattr(f, "n_current", None),
                "missing_reference": f.missing_reference,
                "missing_current": f.missing_current,
                "reason": f.reason,
            }
        )
    return out


def to_csv(features: Iterable[Any]) -> bytes:
    """The full table as UTF-8 CSV (numbers at full precision, empty cells for unknowns)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(features):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def num(value: float | None, digits: int = 3) -> str:
    """A statistic for people: 3 significant digits, small p-values in e-notation."""
    if value is None or not math.isfinite(value):
        return "—"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def evidence(row: dict[str, Any]) -> str:
    """What the verdict stands on: "p 0.001 (adj 0.004)" or "distance 0.12"."""
    if row["method"] in P_VALUE_METHODS and row["p_value"] is not None:
        adjusted = row["p_value_adjusted"]
        return f"p {num(row['p_value'])}" + (
            f" (adj {num(adjusted)})" if adjusted is not None else ""
        )
    if row["statistic"] is not None:
        return f"distance {num(row['statistic'])}"
    return "—"


def counts(row: dict[str, Any]) -> str:
    """ "n 426/143 · nulls 0/2" (reference/current)."""
    n_ref, n_cur = row["n_reference"], row["n_current"]
    n = f"n {n_ref:,}/{n_cur:,} · " if n_ref is not None and n_cur is not None else ""
    return f"{n}nulls {row['missing_reference']:,}/{row['missing_current']:,}"


def page(table: Sequence[dict[str, Any]], number: int, size: int) -> list[dict[str, Any]]:
    """Rows of 1-based page ``number`` (clamped to the pages there are)."""
    last = max(1, math.ceil(len(table) / size))
    number = min(max(number, 1), last)
    return list(table[(number - 1) * size : number * size])
