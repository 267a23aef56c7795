"""Issue 14 item 3: the feature table (CSV file and Slack's "Show all features")."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from bot.monitoring import drift_table
from bot.monitoring.document import build_document
from bot.monitoring.drift import compute_drift


def mixed() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(
        {
            "calm": rng.normal(size=400),
            "moved": rng.normal(size=400),
            "plan": rng.choice(list("abc"), 400),
            "user_id": [f"u{i}" for i in range(400)],
        }
    )
    cur = pd.DataFrame(
        {
            "calm": rng.normal(size=300),
            "moved": rng.normal(1.0, size=300),
            "plan": rng.choice(list("abc"), 300, p=[0.6, 0.2, 0.2]),
            "user_id": [f"v{i}" for i in range(300)],
        }
    )
    cur.loc[:9, "calm"] = np.nan
    return ref, cur


def test_the_csv_has_every_number_a_reader_needs_in_severity_order() -> None:
    ref, cur = mixed()
    result = compute_drift(ref, cur)
    rows = list(csv.DictReader(io.StringIO(drift_table.to_csv(result.features).decode())))
    assert tuple(rows[0]) == drift_table.COLUMNS
    assert [r["feature"] for r in rows] == ["moved", "plan", "calm", "user_id"]
    assert [r["status"] for r in rows] == ["drifted", "drifted", "not_drifted", "untested"]
    moved, plan, calm, user_id = rows
    assert moved["method"] == "ks" and float(moved["p_value"]) <= float(moved["p_value_adjusted"])
    assert plan["method"] == "chisquare" and plan["psi_band"] in {"moderate", "major"}
    assert (calm["n_reference"], calm["n_current"], calm["missing_current"]) == ("400", "300", "10")
    assert user_id["reason"].startswith("identifier-like") and user_id["p_value"] == ""


def test_stored_documents_give_the_same_rows_as_the_engine() -> None:
    ref, cur = mixed()
    result = compute_drift(ref, cur)
    doc = build_document(
        {
            "kind": "drift",
            "model": None,
            "alias": None,
            "version": None,
            "run_id": None,
            "reference": {"uri": "r", "rows": 400},
            "current": {"uri": "c", "rows": 300},
            **result.to_dict(),
            "generated_at": "2026-11-30T12:00:00Z",
        }
    )
    assert drift_table.rows(doc.features) == drift_table.rows(result.features)  # type: ignore[union-attr]


def test_numbers_read_as_people_write_them() -> None:
    assert drift_table.num(1.2345e-12) == "1.2e-12" and drift_table.num(0.04999) == "0.05"
    assert drift_table.num(None) == "—" and drift_table.num(float("nan")) == "—"
    row = {"method": "ks", "p_value": 0.01, "p_value_adjusted": 0.04, "statistic": 0.2}
    assert drift_table.evidence(row) == "p 0.01 (adj 0.04)"
    assert drift_table.evidence({**row, "method": "wasserstein"}) == "distance 0.2"
