"""Date fields take a whole date typed over a selection (ISO or US), without dropping the year."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate, Qt

from panelmanager.ui.widgets.date_edit import DateEdit, parse_typed_date


@pytest.mark.parametrize(("text", "day"), [
    ("2023-05-06", dt.date(2023, 5, 6)), ("20230506", dt.date(2023, 5, 6)), ("05/06/2023", dt.date(2023, 5, 6)),
    ("5/6/2023", dt.date(2023, 5, 6)), ("2023-02-30", None), ("May 6", None),
])
def test_parse_typed_date(text, day):
    assert parse_typed_date(text) == day


@pytest.fixture
def edit(qtbot):
    widget = DateEdit()
    widget.setDisplayFormat("yyyy-MM-dd")
    widget.setDate(QDate(2024, 3, 4))
    qtbot.addWidget(widget)
    widget.show()
    widget.setFocus()
    return widget


@pytest.mark.parametrize("typed", ["2023-05-06", "05/06/2023"])
def test_ctrl_a_then_a_whole_date(qtbot, edit, typed):
    edit.lineEdit().selectAll()
    qtbot.keyClicks(edit, typed)
    if edit.typing():
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.date().toPython() == dt.date(2023, 5, 6)
    assert edit.lineEdit().text() == "2023-05-06"


def test_a_short_us_date_is_committed_by_enter_and_nonsense_restores(qtbot, edit):
    edit.lineEdit().selectAll()
    qtbot.keyClicks(edit, "5/6/2023")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.date().toPython() == dt.date(2023, 5, 6)
    edit.lineEdit().selectAll()
    qtbot.keyClicks(edit, "99/99")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.date().toPython() == dt.date(2023, 5, 6) and edit.lineEdit().text() == "2023-05-06"


def test_every_screen_date_field_is_a_date_edit(window):
    fields = [window.screens["checkin"].date_edit, window.screens["huddle"].date_edit,
              window.screens["panels"].review_as_of, window.screens["settings"].as_of]
    assert all(isinstance(f, DateEdit) for f in fields)
