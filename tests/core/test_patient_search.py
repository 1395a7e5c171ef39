"""The front desk finds a patient by name fragment, date of birth in any format, or MRN."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from panelmanager.core.db import bulk_insert
from panelmanager.core.models import Patient
from panelmanager.core.patients import parse_date_text, patient_rows, search_patient_ids
from panelmanager.core.search_keys import refresh_search_keys

PEOPLE = [
    ("M001", "Ann", "Lee", dt.date(1956, 3, 4), "active"),
    ("M002", "Leeann", "Baker", dt.date(1980, 12, 25), "active"),
    ("M003", "José", "Peña", dt.date(2001, 7, 9), "active"),
    ("M104", "Robert", "Lee", dt.date(1956, 3, 4), "deceased"),
    ("X777", "Mary", "O'Neil", dt.date(1990, 1, 2), "active"),
]


@pytest.fixture
def people(fresh_registry):
    frame = pd.DataFrame(PEOPLE, columns=["mrn", "first_name", "last_name", "dob", "status"]).assign(source="test")
    with fresh_registry.engine.begin() as conn:
        bulk_insert(conn, Patient.__table__, frame)
        refresh_search_keys(conn)  # what the import writer does after writing patients
    return fresh_registry


def _found(registry, text, **options):
    with registry.session() as session:
        ids = search_patient_ids(session, text, **options)
        rows = patient_rows(session, ids, dt.date(2024, 2, 3))
    return [rows[i]["mrn"] for i in ids]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lee", ["M002", "M001"]),  # first name Leeann, last name Lee; sorted by last name
        ("ann lee", ["M001"]),
        ("lee, ann", ["M001"]),
        ("Pe", ["M003"]),
        ("pena", ["M003"]),  # accents are folded for the search (the registry keeps the name as sent)
        ("3/4/1956", ["M001"]),
        ("03/04/56", ["M001"]),
        ("1956-03-04", ["M001"]),
        ("03041956", ["M001"]),
        ("M00", ["M002", "M001", "M003"]),
        ("x777", ["X777"]),
        ("o'n", ["X777"]),
        ("", ["M002", "M001", "X777", "M003"]),
    ],
)
def test_search_box_finds_active_patients(people, text, expected):
    assert _found(people, text) == expected


def test_inactive_patients_are_found_when_asked_for(people):
    assert _found(people, "1956-03-04", statuses=None) == ["M001", "M104"]


def test_like_wildcards_in_the_search_text_are_literal(people):
    assert _found(people, "%") == []
    assert _found(people, "_") == []


def test_dates_typed_in_words_are_understood():
    assert parse_date_text("Mar 4 1956") == dt.date(1956, 3, 4)
    assert parse_date_text("not a date") is None


def test_patient_rows_show_age_on_the_as_of_date(people):
    with people.session() as session:
        ids = search_patient_ids(session, "ann lee")
        row = patient_rows(session, ids, dt.date(2024, 3, 3))[ids[0]]
        assert row["age"] == 67  # the day before the 68th birthday
        row = patient_rows(session, ids, dt.date(2024, 3, 4))[ids[0]]
        assert row["age"] == 68
        assert row["name"] == "Lee, Ann"
