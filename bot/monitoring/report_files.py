"""A report as files: report.json, report.html (the report page), its charts and tables
(``mlops-bot report --out``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.monitoring.report import Report


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write report.json, report.html (the report page) and the charts; returns the paths."""
    import json

    from bot.monitoring.page import render_page

    out_dir.mkdir(parents=True, exist_ok=True)
    body = report.document.to_json(indent=2)
    written = [out_dir / "report.json", out_dir / "report.html"]
    written[0].write_text(body + "\n", encoding="utf-8")
    page = render_page(json.loads(body), report.charts, title=report.title)
    written[1].write_text(page, encoding="utf-8")
    for name, content in [*report.charts, *report.files]:
        path = out_dir / name
        path.write_bytes(content)
        written.append(path)
    return written
