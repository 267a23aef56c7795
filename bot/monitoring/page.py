"""A report's page: one self-contained HTML file (no CDN, no fetch) of a stored report body.

It reads the body as plain JSON with `.get()`, not as a `ReportDocument`, so bodies written
before or after a change of the document's keys still render, and keys it does not know yet are
shown as extra columns rather than dropped. Charts are inlined as `data:` URIs. Everything from
the body (feature names, URIs, reasons) is hostile input: Jinja2 autoescapes it, and the page's
Content-Security-Policy runs only its own script and style (pinned by hash) and loads nothing.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

_HERE = Path(__file__).parent / "templates"
# (key, heading) of the feature table, in this order; keys a body has beyond these follow.
FEATURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Feature"),
    ("status", "Status"),
    ("type", "Type"),
    ("method", "Method"),
    ("statistic", "Statistic"),
    ("threshold", "Threshold"),
    ("p_value", "p-value"),
    ("p_value_adjusted", "p-value (BH)"),
    ("drift_score", "Drift score"),
    ("psi", "PSI"),
    ("psi_band", "PSI band"),
    ("n_reference", "Rows (reference)"),
    ("n_current", "Rows (current)"),
    ("missing_reference", "Missing (reference)"),
    ("missing_current", "Missing (current)"),
    ("reason", "Reason"),
)
_HIDDEN = {"drifted"}  # shown as `status`
STATUSES = ("drifted", "not_drifted", "untested")
_STATUS_RANK = {"drifted": 0, "not_drifted": 1, "untested": 2}


@dataclass
class Cell:
    text: str
    sort: str = ""  # a number for numeric columns (sorted as numbers), else the text
    css: str = ""  # one of a fixed set of class names, never taken from the body


@dataclass
class Table:
    """A table of the page; `sortable` ones get clickable headers, `filterable` a search box."""

    key: str
    headings: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)
    sortable: bool = False
    filterable: bool = False
    statuses: list[str] = field(default_factory=list)  # per row, for the status filter


def show(value: Any) -> str:
    """A value as the page shows it: 4 significant digits, thousands separators, — for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def cell(value: Any, css: str = "") -> Cell:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and math.isfinite(value):
        return Cell(show(value), repr(value), css)
    return Cell(show(value), "" if value is None else show(value), css)


def status_of(feature: Mapping[str, Any]) -> str:
    """`status` (issue 14), else from `drifted` (True, False, None = untested)."""
    status = feature.get("status")
    if status in _STATUS_RANK:
        return str(status)
    drifted = feature.get("drifted")
    return "drifted" if drifted is True else "not_drifted" if drifted is False else "untested"


def by_severity(features: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drifted first, then by drift score (highest first, when the body has one), untested
    last; otherwise in the body's order."""

    def key(f: Mapping[str, Any]) -> tuple[int, float]:
        score = f.get("drift_score")
        worst = -score if isinstance(score, int | float) and math.isfinite(score) else 0.0
        return _STATUS_RANK[status_of(f)], worst

    return sorted(features, key=key)


def _numeric(rows: Sequence[Mapping[str, Any]], key: str) -> bool:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def feature_table(features: Sequence[Mapping[str, Any]]) -> Table:
    """Every feature, every key: the known columns first, then whatever else the body holds."""
    ordered = by_severity([f for f in features if isinstance(f, Mapping)])
    present = {k for f in ordered for k in f} | {"status"}
    known = [(k, h) for k, h in FEATURE_COLUMNS if k in present]
    seen = {k for k, _ in FEATURE_COLUMNS} | _HIDDEN
    extra = sorted({str(k) for f in ordered for k in f if k not in seen})
    columns = known + [(k, k) for k in extra]
    table = Table(
        "features",
        [h for _, h in columns],
        numeric=[_numeric(ordered, k) for k, _ in columns],
        sortable=True,
        filterable=True,
    )
    for f in ordered:
        status = status_of(f)
        row = []
        for k, _ in columns:
            if k == "status":
                row.append(Cell(status.replace("_", " "), str(_STATUS_RANK[status]), status))
            else:
                row.append(cell(f.get(k), "name" if k == "name" else ""))
        table.rows.append(row)
        table.statuses.append(status)
    return table


def quality_table(quality: Mapping[str, Any]) -> Table:
    """Per-column data quality: missing rates, out-of-range share, categories never seen."""
    table = Table(
        "quality",
        ["Column", "Missing (reference)", "Missing (current)", "Out of range", "New categories"],
        numeric=[False, True, True, True, False],
        sortable=True,
    )
    for col in quality.get("columns") or []:
        if not isinstance(col, Mapping):
            continue
        new = col.get("new_categories")
        if isinstance(new, Mapping):
            top = ", ".join(
                f"{t.get('name')} ×{t.get('count')}"
                for t in new.get("top") or []
                if isinstance(t, Mapping)
            )
            other = f", other ×{new.get('other')}" if new.get("other") else ""
            shown = f"{show(new.get('values'))} values, {show(new.get('distinct'))} distinct"
            new_cell = Cell(f"{shown}: {top}{other}" if top else shown, repr(new.get("values")))
        else:
            new_cell = Cell("—")
        table.rows.append(
            [
                cell(col.get("name"), "name"),
                _share(col.get("missing_rate_reference")),
                _share(col.get("missing_rate_current")),
                _share(col.get("out_of_range_share")),
                new_cell,
            ]
        )
    return table


def _share(value: Any) -> Cell:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return Cell(f"{value:.2%}", repr(value))
    return Cell("—")


def schema_changes(body: Mapping[str, Any]) -> dict[str, list[str]]:
    """Missing, new, retyped, unsupported and unknown columns, from `schema` (issue 14) and
    the `quality` section (before it), each column once."""
    schema = body.get("schema") if isinstance(body.get("schema"), Mapping) else {}
    quality = body.get("quality") if isinstance(body.get("quality"), Mapping) else {}
    assert isinstance(schema, Mapping) and isinstance(quality, Mapping)

    def names(*lists: Any) -> list[str]:
        out: list[str] = []
        for items in lists:
            for item in items or []:
                text = _describe(item)
                if text not in out:
                    out.append(text)
        return out

    return {
        "Missing in current": names(schema.get("missing"), quality.get("missing_columns")),
        "New in current": names(schema.get("new"), quality.get("extra_columns")),
        "Changed type": names(schema.get("changed_types"), quality.get("changed_types")),
        "Unsupported type": names(quality.get("unsupported_columns")),
        "Unknown": names(quality.get("unknown_columns")),
    }


def _describe(item: Any) -> str:
    if isinstance(item, Mapping):
        if "reference" in item and "current" in item:
            return f"{item.get('name')}: {item.get('reference')} → {item.get('current')}"
        if "dtype" in item:
            return f"{item.get('name')} ({item.get('dtype')})"
        return show(item)
    return str(item)


def metrics_table(perf: Mapping[str, Any]) -> Table:
    """Each metric now vs. the version's logged baseline, and whether it degraded."""
    metrics = perf.get("metrics") if isinstance(perf.get("metrics"), Mapping) else {}
    baseline = perf.get("baseline") if isinstance(perf.get("baseline"), Mapping) else {}
    assert isinstance(metrics, Mapping) and isinstance(baseline, Mapping)
    degraded = set(perf.get("degraded") or [])
    table = Table(
        "metrics",
        ["Metric", "Current", "Baseline", "Change", "Degraded"],
        numeric=[False, True, True, True, False],
        sortable=True,
    )
    for name in list(metrics) + [m for m in baseline if m not in metrics]:
        now, then = metrics.get(name), baseline.get(name)
        change = None
        if isinstance(now, int | float) and isinstance(then, int | float):
            change = now - then
        bad = name in degraded
        table.rows.append(
            [
                cell(name, "name"),
                cell(now),
                cell(then),
                cell(change),
                Cell("degraded" if bad else "ok", "1" if bad else "0", "drifted" if bad else ""),
            ]
        )
    return table


def windows_table(windows: Sequence[Any]) -> Table:
    """One row per time window: its start, rows, each metric, and any other key it has."""
    rows = [w for w in windows if isinstance(w, Mapping)]
    metric_names: list[str] = []
    for w in rows:
        for m in w.get("metrics") or {}:
            if m not in metric_names:
                metric_names.append(m)
    extra = sorted({str(k) for w in rows for k in w if k not in ("start", "rows", "metrics")})
    table = Table(
        "windows",
        ["Window start", "Rows", *metric_names, *extra],
        numeric=[False, True] + [True] * len(metric_names) + [_numeric(rows, k) for k in extra],
        sortable=True,
    )
    for w in rows:
        metrics = w.get("metrics") if isinstance(w.get("metrics"), Mapping) else {}
        assert isinstance(metrics, Mapping)
        table.rows.append(
            [cell(w.get("start")), cell(w.get("rows"))]
            + [cell(metrics.get(m)) for m in metric_names]
            + [cell(w.get(k)) for k in extra]
        )
    return table


def chart_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


REPORT_TEMPLATE = "report.html.j2"


@cache
def _assets() -> tuple[str, str, str]:
    """The page's script and style, and a Content-Security-Policy allowing only those two."""
    script = (_HERE / "page.js").read_text(encoding="utf-8")
    style = (_HERE / "page.css").read_text(encoding="utf-8")

    def pin(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    policy = (
        f"default-src 'none'; img-src data:; script-src {pin(script)}; style-src {pin(style)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return script, style, policy


def content_security_policy() -> str:
    """The policy the page's own <meta> states; the bot sends it as a header too."""
    return _assets()[2]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    body: Mapping[str, Any], charts: Sequence[tuple[str, bytes]] = (), *, title: str | None = None
) -> str:
    """The whole page of a report body (`report.json`) with its charts."""
    script, style, policy = _assets()
    kind = body.get("kind")
    model = body.get("model")
    what = "Drift report" if kind == "drift" else "Performance report"
    if model:
        alias, version = body.get("alias"), body.get("version")
        what += f": {model}" + (f" @{alias}" if alias else "") + (f" v{version}" if version else "")
    generated = body.get("generated_at")
    if isinstance(generated, str) and len(generated) >= 16:
        what += f", {generated[:16].replace('T', ' ')} UTC"
    context: dict[str, Any] = {
        "title": title or what,
        "kind": kind,
        "body": body,
        "show": show,
        "script": script,
        "style": style,
        "policy": policy,
        "charts": [(name, chart_uri(png)) for name, png in charts],
        "statuses": STATUSES,
    }
    if kind == "drift":
        features = body.get("features") if isinstance(body.get("features"), list) else []
        quality = body.get("quality") if isinstance(body.get("quality"), Mapping) else {}
        assert isinstance(features, list) and isinstance(quality, Mapping)
        context["features"] = feature_table(features)
        context["quality"] = quality_table(quality)
        context["schema"] = schema_changes(body)
    else:
        perf = body.get("performance") if isinstance(body.get("performance"), Mapping) else {}
        assert isinstance(perf, Mapping)
        windows = perf.get("windows") if isinstance(perf.get("windows"), list) else []
        assert isinstance(windows, list)
        context["perf"] = perf
        context["metrics"] = metrics_table(perf)
        context["windows"] = windows_table(windows)
        known = {"task", "rows", "metrics", "baseline", "threshold", "degraded", "degradation"}
        context["perf_extra"] = {k: v for k, v in perf.items() if k not in known | {"windows"}}
    return _environment().get_template(REPORT_TEMPLATE).render(context)


def warm() -> None:
    """Read the assets and compile the report template now (a CLI does it in a thread while
    the report computes)."""
    _assets()
    _environment().get_template(REPORT_TEMPLATE)


def error_page(status: int, message: str) -> str:
    """A plain page for a refused or failed request (no detail beyond `message`)."""
    return _environment().get_template("error.html.j2").render(status=status, message=message)
