"""Issue 9 item 17: a search on the Patients screen shows its first rows and the right count,
fetches only the rows shown (50 at a time), and still reaches every matching patient when
the list is scrolled or sorted, on a registry needing several pages."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from panelmanager.core.db import bulk_insert
from panelmanager.core.models import Patient
from panelmanager.core.search_keys import refresh_search_keys

DAY = dt.date(2024, 3, 4)
LAST = ["Martínez", "Moreno", "Morales", "Baker", "Nguyen", "Ortiz", "Medina", "Lee"]
FIRST = ["María", "Ann", "Miguel", "Zoe", "Mark", "Ed"]


def _people() -> pd.DataFrame:
    rows = []
    for n in range(330):
        last, first = LAST[n % len(LAST)], FIRST[(n // len(LAST)) % len(FIRST)]
        status = "inactive" if n % 11 == 0 else "active"
        rows.append((f"Q{n:05d}", first, last, dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28), status))
    return pd.DataFrame(rows, columns=["mrn", "first_name", "last_name", "dob", "status"]).assign(source="test")


def _expected(frame: pd.DataFrame, matches) -> pd.DataFrame:
    """The active patients ``matches`` picks, in the list's default order (last, first, id)."""
    frame = frame.assign(id=range(1, len(frame) + 1))
    picked = frame[(frame["status"] == "active") & frame.apply(matches, axis=1)]
    return picked.sort_values(["last_name", "first_name", "id"])


@pytest.fixture
def people(fresh_registry):
    frame = _people()
    with fresh_registry.engine.begin() as conn:
        bulk_insert(conn, Patient.__table__, frame)
        refresh_search_keys(conn)
    return frame


@pytest.fixture
def screen(qtbot, people, window):
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=DAY))
    screen = window.show_screen("patients")
    qtbot.waitUntil(lambda: screen.model.rowCount() > 0)
    fetched: list[int] = []
    original = screen.model._fetch

    def counting(ids):
        fetched.append(len(ids))
        return original(ids)

    screen.model._fetch = counting
    screen.fetched = fetched
    return screen


def _column(model, key):
    return next(i for i, c in enumerate(model.columns) if c.key == key)


def _cells(screen, key: str, rows: range) -> list[str]:
    model = screen.model
    column = _column(model, key)
    return [model.data(model.index(r, column)) for r in rows]


def _search(qtbot, screen, text: str) -> None:
    screen.search.clear()
    qtbot.keyClicks(screen.search, text)
    screen.apply_filters()  # what the typing pause would run


def test_first_rows_and_count_then_every_row_by_scrolling_and_sorting(qtbot, screen, people):
    def word_m(row) -> bool:  # a word of the name starting with "m" (accents ignored)
        return any(w.lower().replace("í", "i").startswith("m") for w in (row["last_name"], row["first_name"]))

    expected = _expected(people, word_m)
    assert len(expected) > 150  # more than one page of rows
    _search(qtbot, screen, "m")
    screen.grab()  # painted
    n = len(expected)
    assert screen.model.rowCount() == n
    assert screen.count_label.text() == f"{n} patients"
    assert _cells(screen, "mrn", range(5)) == list(expected["mrn"][:5])
    # Only what the list shows was fetched before it painted: pages of at most 50 rows.
    assert screen.fetched and all(size <= 50 for size in screen.fetched) and sum(screen.fetched) < n

    screen.table.scrollToBottom()
    screen.grab()
    assert _cells(screen, "mrn", range(n - 3, n)) == list(expected["mrn"][-3:])
    assert _cells(screen, "mrn", range(n)) == list(expected["mrn"])

    screen.table.sortByColumn(_column(screen.model, "mrn"), Qt.SortOrder.DescendingOrder)
    assert screen.model.rowCount() == n and screen.count_label.text() == f"{n} patients"
    assert _cells(screen, "mrn", range(n)) == sorted(expected["mrn"], reverse=True)


def test_an_mrn_fragment_from_the_end_and_a_selected_patient_kept(qtbot, screen, people):
    _search(qtbot, screen, "q001")  # lower case: MRNs match regardless of case
    want = _expected(people, lambda row: row["mrn"].startswith("Q001"))
    assert _cells(screen, "mrn", range(screen.model.rowCount())) == list(want["mrn"])
    assert screen.count_label.text() == f"{len(want)} patients"

    _search(qtbot, screen, "25")  # a fragment from the end of the MRN
    want = _expected(people, lambda row: "25" in row["mrn"])
    assert _cells(screen, "mrn", range(screen.model.rowCount())) == list(want["mrn"])
    # The patient selected stays selected as the search narrows.
    row = list(want["mrn"]).index("Q00250")
    screen.table.selectRow(row)
    chosen = screen.model.id_at(row)
    assert screen.detail.record is not None and screen.detail.record.mrn == "Q00250"
    _search(qtbot, screen, "0250")
    assert _cells(screen, "mrn", range(screen.model.rowCount())) == ["Q00250"]
    assert [screen.model.id_at(i.row()) for i in screen.table.selectionModel().selectedRows()] == [chosen]
