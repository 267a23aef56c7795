"""The terminal summary `mlops-bot report` prints after the file paths: the verdict, the top
features in severity order and the schema changes (drift), or the metrics against their
baseline (perf). Read from the report document, so it says what `report.json` says.

Tables are rich's; every cell is a `Text` (names come from data files and must not be read
as console markup).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

TOP_FEATURES = 5
NAME_WIDTH = 28

Part = str | list[list[str]]  # a line of text, or a table (its header row first)
Lines = list[Part]


def print_summary(document: dict[str, Any], *, alert: bool, console: Console) -> None:
    """Print the summary of a report document (`report.json` as a dict)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    for part in summary(document, alert=alert):
        if isinstance(part, str):
            console.print(Text(part))
            continue
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for title in part[0]:
            table.add_column(title, overflow="fold")
        for row in part[1:]:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)


def summary(document: dict[str, Any], *, alert: bool) -> Lines:
    """The summary as lines of text and tables."""
    if document.get("kind") == "perf":
        return _perf(document, alert)
    return _drift(document, alert)


# -- drift ------------------------------------------------------------------------------------


def _drift(doc: dict[str, Any], alert: bool) -> Lines:
    features: list[dict[str, Any]] = list(doc.get("features") or [])
    tested = [f for f in features if _status(f) != "untested"]
    drifted = [f for f in tested if _status(f) == "drifted"]
    schema = _schema(doc)
    share = doc.get("drifted_share")
    correction = doc.get("correction")
    head = "DRIFT" if alert else "no drift"
    parts = [f"{len(drifted)} of {len(tested)} tested features drifted"]
    if isinstance(share, int | float):
        parts[0] += f" ({share:.0%})"
    parts.append(f"dataset drift: {'yes' if doc.get('dataset_drift') else 'no'}")
    if any(schema.values()):
        parts.append("schema changed")
    if correction:
        parts.append(f"correction: {correction}")
    lines: Lines = [f"verdict: {head} — " + "; ".join(parts)]
    ranked = by_severity(features)
    if ranked:
        lines.append("top features (most severe first):")
        rows = [_feature_row(f) for f in ranked[:TOP_FEATURES]]
        adjusted = any(f.get("p_value_adjusted") is not None for f in ranked)
        p_title = "p (adjusted)" if adjusted else "p"
        header = ["feature", "method", "statistic", p_title, "threshold", "verdict"]
        lines.append([header, *rows])
        if len(ranked) > TOP_FEATURES:
            lines.append(f"  … {len(ranked) - TOP_FEATURES} more in report.json")
    lines.append("schema: " + _schema_text(schema))
    return lines


def by_severity(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drifted first, then by drift score (highest first), untested last; stable otherwise.

    The documents of issue 14 are already in this order; older ones are in column order."""
    rank = {"drifted": 0, "not_drifted": 1, "untested": 2}

    def key(f: dict[str, Any]) -> tuple[int, float]:
        score = _score(f)
        return rank[_status(f)], -(score if score is not None else -math.inf)

    return sorted(features, key=key)


def _status(f: dict[str, Any]) -> str:
    status = f.get("status")
    if status in ("drifted", "not_drifted", "untested"):
        return str(status)
    if f.get("drifted") is None:
        return "untested"
    return "drifted" if f["drifted"] else "not_drifted"


def _score(f: dict[str, Any]) -> float | None:
    """`drift_score` (1.0 = at the threshold), or the same rule where a document lacks it:
    log(p)/log(threshold) for p-value methods, statistic/threshold for distances."""
    if isinstance(f.get("drift_score"), int | float):
        return float(f["drift_score"])
    threshold, stat = f.get("threshold"), f.get("statistic")
    p = f.get("p_value_adjusted", f.get("p_value"))
    if not isinstance(threshold, int | float) or threshold <= 0:
        return None
    if isinstance(p, int | float) and f.get("method") in ("ks", "chisquare"):
        if 0 < threshold < 1:
            return math.log(max(p, 1e-300)) / math.log(threshold)
        return None
    if isinstance(stat, int | float):
        return stat / threshold
    return None


def _feature_row(f: dict[str, Any]) -> list[str]:
    p, adjusted = f.get("p_value"), f.get("p_value_adjusted")
    p_text = "-" if p is None else _num(p)
    if adjusted is not None:
        p_text += f" ({_num(adjusted)})"
    status = _status(f)
    verdict = status.replace("_", " ")
    if status == "untested" and f.get("reason"):
        verdict += f": {_clean(str(f['reason']), 40)}"
    return [
        _clean(str(f.get("name", "?")), NAME_WIDTH),
        str(f.get("method") or "-"),
        _num(f.get("statistic")),
        p_text,
        _num(f.get("threshold")),
        verdict,
    ]


def _schema(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Missing, new and retyped columns: the `schema` section, else the data-quality one."""
    schema = doc.get("schema")
    quality = doc.get("quality") or {}
    if not isinstance(schema, dict):
        schema = {
            "missing": quality.get("missing_columns") or [],
            "new": quality.get("extra_columns") or [],
            "changed_types": quality.get("changed_types") or [],
        }
    changed = [
        f"{c['name']} ({c.get('reference')} → {c.get('current')})" if isinstance(c, dict) else c
        for c in schema.get("changed_types") or []
    ]
    return {
        "missing": [str(c) for c in schema.get("missing") or []],
        "new": [str(c) for c in schema.get("new") or []],
        "changed type": [str(c) for c in changed],
    }


def _schema_text(schema: dict[str, list[str]]) -> str:
    if not any(schema.values()):
        return "no changes"
    shown = []
    for label, names in schema.items():
        if names:
            listed = ", ".join(_clean(n, NAME_WIDTH * 2) for n in names[:10])
            more = f" (+{len(names) - 10} more)" if len(names) > 10 else ""
            shown.append(f"{label}: {listed}{more}")
    return "; ".join(shown)


# -- performance ------------------------------------------------------------------------------


def _perf(doc: dict[str, Any], alert: bool) -> Lines:
    perf = doc.get("performance") or {}
    degraded = [str(m) for m in perf.get("degraded") or []]
    threshold = perf.get("threshold")
    limit = f" by more than {threshold:.0%}" if isinstance(threshold, int | float) else ""
    has_baseline = any(isinstance(v, int | float) for v in (perf.get("baseline") or {}).values())
    if alert:
        head = f"DEGRADED — {', '.join(degraded) or 'see report.json'} below the baseline{limit}"
    elif has_baseline:
        head = f"no degradation — no metric below the baseline{limit}"
    else:
        head = "no baseline to compare with (metrics only)"
    lines: Lines = [f"verdict: {head} ({perf.get('rows', '?')} rows, {perf.get('task', '?')})"]
    metrics: dict[str, Any] = perf.get("metrics") or {}
    baseline: dict[str, Any] = perf.get("baseline") or {}
    rows = []
    for name, value in metrics.items():
        base = baseline.get(name)
        change = "-"
        if isinstance(value, int | float) and isinstance(base, int | float) and base:
            change = f"{(value - base) / abs(base):+.1%}"
        flag = "degraded" if name in degraded else ""
        rows.append([_clean(name, NAME_WIDTH), _num(value), _num(base), change, flag])
    if rows:
        lines.append([["metric", "current", "baseline", "change", ""], *rows])
    return lines


# -- text -------------------------------------------------------------------------------------


def _num(x: Any) -> str:
    if not isinstance(x, int | float) or isinstance(x, bool):
        return "-"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.2e}"
    return f"{x:.4g}"


def _clean(text: str, width: int) -> str:
    """One printable line at most `width` wide: names come from data files."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"
