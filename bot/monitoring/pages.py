"""Stored report pages: a posted report's record and charts in the database, rendered on
request by any replica (`GET /reports/<id>`), or written to a file (the local shell)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.monitoring.page import render_page
from bot.storage import db
from bot.storage.tables import ReportChart, ReportRecord

PAGES_DIR = "report-pages"  # under MLOPS_BOT_DATA_DIR


class PageError(Exception):
    """A stored report that cannot be shown as a page; the message says why in one line."""


def add_charts(session: Session, record_id: str, charts: Sequence[tuple[str, bytes]]) -> None:
    """Keep a report's charts beside its record (same transaction), in their order."""
    for position, (name, png) in enumerate(charts):
        session.add(ReportChart(record_id=record_id, position=position, name=name[:128], png=png))


def page_of(record: ReportRecord, charts: Sequence[tuple[str, bytes]]) -> str:
    """The page of a record; PageError when its body is not a JSON object."""
    try:
        body: Any = json.loads(record.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PageError(f"report {record.id} has no readable body")
    return render_page(body, charts)


def stored_page(engine: Engine, record_id: str) -> str | None:
    """The page of a posted report from the database, or None when there is no such report."""
    with db.session(engine) as s:
        record = s.get(ReportRecord, record_id[:32])
        if record is None:
            return None
        rows = s.exec(
            select(ReportChart)
            .where(ReportChart.record_id == record.id)
            .order_by(col(ReportChart.position))
        ).all()
        charts = [(r.name, bytes(r.png)) for r in rows]
        return page_of(record, charts)


def write_page(directory: Path, record_id: str, html: str) -> Path:
    """Write a page as `<directory>/<record id>.html`; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record_id}.html"
    path.write_text(html, encoding="utf-8")
    return path
