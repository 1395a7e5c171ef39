"""Issue 9 item 17: an MRN fragment matches any part of the MRN regardless of case, and LIKE's
own wildcards typed in it match only themselves, on every backend (SQLite compares without
``lower()``, PostgreSQL with it)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from panelmanager.core.db import bulk_insert
from panelmanager.core.models import Patient
from panelmanager.core.patients import patient_rows, search_patient_ids

MRNS = ["AB_12", "ABX12", "ab%34", "Zq0358", "ZQ1358"]


@pytest.fixture
def registry(fresh_registry):
    frame = pd.DataFrame({"mrn": MRNS, "last_name": ["Lee"] * 5, "first_name": ["Ann"] * 5, "status": "active", "source": "test"})
    with fresh_registry.engine.begin() as conn:
        bulk_insert(conn, Patient.__table__, frame)
    return fresh_registry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("b_1", ["AB_12"]),  # "_" is a letter here, not LIKE's any-one-character
        ("B%3", ["ab%34"]),
        ("ab_1", ["AB_12"]),
        ("AB%3", ["ab%34"]),
        ("q0358", ["Zq0358"]),
        ("Q0358", ["Zq0358"]),
        ("358", ["ZQ1358", "Zq0358"]),
        ("x1", ["ABX12"]),
    ],
)
def test_mrn_fragment_any_case(registry, text, expected):
    with registry.session() as session:
        ids = search_patient_ids(session, text)
        rows = patient_rows(session, ids, dt.date(2024, 1, 1))
    assert sorted(rows[i]["mrn"] for i in ids) == expected
