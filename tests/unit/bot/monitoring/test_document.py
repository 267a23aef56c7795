"""The typed report document: JSON round trips, old stored bodies, malformed bodies, kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.monitoring.document import (
    DocumentError,
    DriftDocument,
    PerfDocument,
    ReportDocument,
    ReportKind,
    build_document,
    parse_document,
)
from bot.monitoring.report import Report, make_report
from bot.monitoring.report_files import write_report
from bot.policy.file import load_policy
from bot.registry.events import NoticeKind
from bot.registry.gateway import Registry
from tests.unit.bot.monitoring.stored_bodies import OLD_DRIFT_BODY, OLD_PERF_BODY


def fresh_report(kind: ReportKind, tmp_path: Path) -> ReportDocument:
    """A document made by today's `make_report` (no model: files only, no charts)."""
    rng = np.random.default_rng(7)
    n = 300
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "plan": rng.choice(["basic", "pro"], n),
            "empty": [np.nan] * n,
            "label": rng.integers(0, 2, n),
        }
    )
    cur = ref.assign(age=ref["age"] + 12, plan=["team"] * 30 + list(ref["plan"][30:]))
    cur["prediction"] = cur["label"].where(rng.random(n) > 0.2, 1 - cur["label"])
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    report = make_report(
        kind,
        Registry(f"sqlite:///{tmp_path / 'unused.db'}"),
        load_policy(Settings(_env_file=None)),  # type: ignore[call-arg]
        reference=str(tmp_path / "ref.parquet"),
        current=str(tmp_path / "cur.parquet"),
        charts=False,
    )
    return report.document


@pytest.mark.parametrize("kind", list(ReportKind))
def test_a_fresh_document_round_trips_through_json_unchanged(
    kind: ReportKind, tmp_path: Path
) -> None:
    doc = fresh_report(kind, tmp_path)
    assert doc.kind == kind
    for indent in (None, 2):  # the stored body, report.json
        text = doc.to_json(indent=indent)
        again = parse_document(text)
        assert again == doc and type(again) is type(doc)
        assert again.to_json(indent=indent) == text


def test_report_json_holds_the_document(tmp_path: Path) -> None:
    doc = fresh_report(ReportKind.DRIFT, tmp_path)
    assert isinstance(doc, DriftDocument)
    [path, page] = write_report(Report(doc, "title", alert=True), tmp_path / "out")
    assert page.name == "report.html" and '<td class="name"' in page.read_text(encoding="utf-8")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert parse_document(path.read_text(encoding="utf-8")) == doc
    assert written["kind"] == "drift" and written["reference"]["rows"] == 300
    by_name = {f["name"]: f for f in written["features"]}
    assert by_name["empty"]["reason"] and "reason" not in by_name["age"]  # absent, not null


@pytest.mark.parametrize("body", [OLD_DRIFT_BODY, OLD_PERF_BODY], ids=["drift", "perf"])
def test_an_old_stored_body_loads_and_reads_back_the_same(body: str) -> None:
    doc = parse_document(body)
    assert json.loads(doc.to_json()) == json.loads(body)  # same keys, same values
    assert json.loads(doc.to_json(indent=2)) == json.loads(body)


def test_an_old_drift_body_reads_as_attributes() -> None:
    doc = parse_document(OLD_DRIFT_BODY)
    assert isinstance(doc, DriftDocument) and doc.kind is ReportKind.DRIFT
    assert (doc.model, doc.version, doc.run_id) == (None, None, None)
    assert doc.reference.rows == 40 and doc.dataset_drift and doc.drifted_share == 2 / 3
    age, plan, score, empty, label = doc.features
    assert age.drifted is True and age.method == "ks" and age.reason is None
    assert score.drifted is None and score.reason == "type changed from int64 to str"
    assert empty.missing_reference == 40 and label.drifted is False
    q = doc.quality
    assert q.missing_columns == ["gone"] and q.extra_columns == ["new", "prediction", "ts"]
    assert q.changed_types[0].current == "str" and q.unsupported_columns[0].name == "when"
    columns = {c.name: c for c in q.columns}
    assert columns["age"].out_of_range_share == 0.2
    assert columns["plan"].new_categories is not None
    assert columns["plan"].new_categories.top[0].name == "team"
    assert columns["empty"].out_of_range_share is None
    # null and absent stay apart: `empty` had a null share, `score` had none
    stored = {c["name"]: c for c in json.loads(doc.to_json())["quality"]["columns"]}
    assert stored["empty"]["out_of_range_share"] is None
    assert "out_of_range_share" not in stored["score"]


def test_an_old_perf_body_reads_as_attributes() -> None:
    doc = parse_document(OLD_PERF_BODY)
    assert isinstance(doc, PerfDocument) and doc.kind is ReportKind.PERF
    assert (doc.model, doc.alias, doc.version, doc.run_id) == ("churn", "champion", "3", "abc123")
    perf = doc.performance
    assert perf.task == "classification" and perf.degraded == ["accuracy"] and perf.degradation
    assert perf.metrics["roc_auc"] is None and perf.baseline["roc_auc"] == 0.8
    assert len(perf.windows) == 5 and perf.windows[1].metrics["accuracy"] == 0.625


def test_non_finite_statistics_become_null_as_before() -> None:
    data = json.loads(OLD_DRIFT_BODY)
    data["features"][0]["statistic"] = float("nan")
    data["features"][0]["psi"] = float("inf")
    data["quality"]["columns"][0]["out_of_range_share"] = float("-inf")
    doc = build_document(data)
    assert isinstance(doc, DriftDocument)
    assert doc.features[0].statistic is None and doc.features[0].psi is None
    text = doc.to_json()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["features"][0]["statistic"] is None
    data["drifted_share"] = float("nan")  # never produced: a required number must be finite
    with pytest.raises(ValidationError):
        build_document(data)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("", "the document"),
        ("{not json", "the document"),
        ("[]", "the document"),
        ("{}", "the document"),
        ('{"kind": "sideways"}', "the document"),
        ('{"kind": "drift"}', "drift.model"),
        (OLD_DRIFT_BODY.replace('"rows": 40', '"rows": "many"', 1), "drift.reference.rows"),
        (OLD_PERF_BODY.replace('"task": ', '"surprise": 1, "task": '), "perf.performance"),
    ],
)
def test_a_malformed_body_is_a_clear_error(body: str, where: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document(body)
    message = str(caught.value)
    assert message.startswith("not a report document") and where in message
    assert "\n" not in message


def test_stored_kind_values_are_unchanged() -> None:
    assert [k.value for k in ReportKind] == ["drift", "perf"]
    assert [k.value for k in NoticeKind] == ["out_of_band", "tampering", "registered"]
    assert json.dumps({"kind": ReportKind.PERF}) == '{"kind": "perf"}'
    assert f"file-churn-{ReportKind.DRIFT}" == "file-churn-drift"
