"""Patients screen: filter by PCP, status, risk tier and open gap (SQL behind a lazy list), open a
patient, override their risk tier and reassign them with a reason, and see it in the history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.patient_view import UNASSIGNED

DAY = dt.date(2024, 3, 4)


@pytest.fixture
def clinic(clinic_ids):
    return clinic_ids


@pytest.fixture
def screen(qtbot, clinic, window):
    settings = dataclasses.replace(window.ctx.settings, as_of_override=DAY, user_name="Manager Mo")
    window.ctx.save_settings(settings)
    screen = window.show_screen("patients")
    screen.ids = clinic
    qtbot.waitUntil(lambda: screen.model.rowCount() == 5)
    return screen


def _focused(widget) -> bool:
    """The widget has the keyboard focus (or will have it once the offscreen window is active)."""
    return widget.hasFocus() or widget.window().focusWidget() is widget


def _column(model, key):
    return next(i for i, c in enumerate(model.columns) if c.key == key)


def _listed(screen, key="mrn") -> list[str]:
    model = screen.model
    column = _column(model, key)
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def _open(screen, mrn):
    row = _listed(screen).index(mrn)
    screen.table.setFocus()
    screen.table.selectRow(row)
    assert screen.detail.record is not None and screen.detail.record.mrn == mrn


def _table_texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_search_and_filter_by_provider_and_status(qtbot, screen):
    assert _listed(screen) == ["P3", "P4", "P2", "P1", "P5"]
    assert screen.count_label.text() == "5 patients"
    lee = screen.ids["lee"]
    screen.provider_combo.setCurrentIndex(screen.provider_combo.findData(lee))
    assert _listed(screen) == ["P4", "P2", "P1"]
    screen.provider_combo.setCurrentIndex(screen.provider_combo.findData(UNASSIGNED))
    assert _listed(screen) == ["P3"]
    assert _listed(screen, "pcp") == ["Unassigned"]
    qtbot.mouseClick(screen.clear_button, Qt.MouseButton.LeftButton)
    assert len(_listed(screen)) == 5

    qtbot.keyClicks(screen.search, "smith")
    qtbot.waitUntil(lambda: _listed(screen) == ["P1", "P5"], timeout=2000)
    screen.status_combo.setCurrentIndex(screen.status_combo.findData(None))  # any status
    assert _listed(screen) == ["P1", "P6", "P5"]


def test_filter_by_open_gap_brings_the_care_gaps_up_to_date_first(qtbot, window, screen):
    assert screen.banner.isVisible()  # nothing computed for 2024-03-04 yet
    screen.gap_combo.setCurrentIndex(screen.gap_combo.findData("pneumococcal-65"))
    # The update ran as a job (synchronous in tests), then the filter applied.
    assert _listed(screen) == ["P1"]
    assert not screen.banner.isVisible()
    with window.registry.session() as session:
        runs = set(session.scalars(select(m.MeasureRun.kind).where(m.MeasureRun.as_of == DAY)))
    assert runs == {"gaps", "risk"}
    assert int(_listed(screen, "gaps_text")[0]) >= 1

    screen.gap_combo.setCurrentIndex(0)
    screen.table.sortByColumn(_column(screen.model, "gaps_text"), Qt.SortOrder.DescendingOrder)
    counts = [int(x) for x in _listed(screen, "gaps_text")]
    assert counts == sorted(counts, reverse=True)


def test_selecting_a_patient_shows_their_record_and_care_gaps(screen):
    _open(screen, "P5")
    detail = screen.detail
    assert detail.name_label.text() == "Smithers, Eve"
    assert "Dr. Bo Park" in detail.pcp_label.text()
    assert "Set up for the test" in detail.assignment_label.text()
    gaps = _table_texts(detail.gaps_table)
    pneumo = next(row for row in gaps if row[0] == "Pneumococcal vaccination (65+)")
    assert pneumo[1:5] == ["met", "", "2020-01-15", "33"]  # evidence: last date and code
    visits = _table_texts(detail.visits_table)
    assert visits[0][:4] == ["2024-03-04 10:20", "Dr. Bo Park", "Follow-up", "cancelled"]


def test_override_risk_tier_with_a_reason(qtbot, window, screen):
    carol = screen.ids["carol"]
    _open(screen, "P3")
    qtbot.mouseClick(screen.detail.override_button, Qt.MouseButton.LeftButton)
    dialog = screen.detail.override_dialog
    assert dialog.isVisible() and not dialog.ok_button.isEnabled()  # a reason is required
    dialog.tier_combo.setCurrentIndex(dialog.tier_combo.findData(4))
    qtbot.keyClicks(dialog.reason_edit, "Lives alone after a fall")
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    with window.registry.session() as session:
        o = m.RiskOverride
        overrides = session.execute(select(o.tier, o.reason, o.user, o.active).where(o.patient_id == carol)).all()
    assert overrides == [(4, "Lives alone after a fall", "Manager Mo", True)]
    assert "Tier 4" in screen.detail.tier_label.text() and "Lives alone after a fall" in screen.detail.tier_label.text()
    assert _table_texts(screen.detail.overrides_table)[0][1:5] == ["4 Complex", "Lives alone after a fall", "Manager Mo", "yes"]
    # The list shows the tier in force (computed tiers were brought up to date first), marked as set by hand.
    screen.tier_combo.setCurrentIndex(screen.tier_combo.findData(4))
    assert _listed(screen) == ["P3"]
    assert _listed(screen, "tier_text") == ["4 Complex*"]


def test_reassign_with_a_reason_and_see_it_in_the_history(qtbot, window, screen):
    alice, lee, park = screen.ids["alice"], screen.ids["lee"], screen.ids["park"]
    _open(screen, "P1")
    qtbot.mouseClick(screen.detail.reassign_button, Qt.MouseButton.LeftButton)
    dialog = screen.detail.reassign_dialog
    # No 4-cut proposal for Alice: nobody is preselected, the user picks (issue 10).
    assert [dialog.provider_combo.itemData(i) for i in range(dialog.provider_combo.count())] == [
        None, park, dialog.NOBODY]
    assert dialog.provider_combo.currentData() is None
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.reason_edit, "Moved closer to the Park clinic")
    assert not dialog.ok_button.isEnabled()  # a reason, but no provider picked yet
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(park))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    with window.registry.session() as session:
        assignment = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == alice))
        last = session.scalars(
            select(m.AssignmentHistory).where(m.AssignmentHistory.patient_id == alice).order_by(m.AssignmentHistory.id.desc())
        ).first()
    assert (assignment.provider_id, assignment.cut) == (park, "manual")
    assert (last.from_provider_id, last.to_provider_id, last.reason, last.user) == (lee, park, "Moved closer to the Park clinic", "Manager Mo")
    history = _table_texts(screen.detail.history_table)
    assert history[0][1:] == ["Dr. Ann Lee", "Dr. Bo Park", "Moved closer to the Park clinic", "Manager Mo"]
    assert history[1][1:3] == ["(none)", "Dr. Ann Lee"]
    assert "Dr. Bo Park" in screen.detail.pcp_label.text()
    assert _listed(screen, "pcp")[_listed(screen).index("P1")] == "Dr. Bo Park"
    assert screen.detail.record.mrn == "P1"  # still open after the list reloaded


def test_reassigning_to_nobody_takes_the_patient_off_the_panel(qtbot, window, screen):
    dan = screen.ids["dan"]
    _open(screen, "P4")
    dialog = screen.detail.open_reassign_dialog()
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(dialog.NOBODY))
    dialog.reason_edit.setText("Transferred care to another practice")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    with window.registry.session() as session:
        assert session.scalar(select(m.Assignment).where(m.Assignment.patient_id == dan)) is None
    assert "no provider" in screen.detail.pcp_label.text()
    assert _listed(screen, "pcp")[_listed(screen).index("P4")] == "Unassigned"


def test_enter_in_the_search_box_opens_the_first_match(qtbot, window, screen):
    with qtbot.waitActive(window):
        window.activateWindow()
    screen.focus_search()
    qtbot.keyClicks(screen.search, "garcia")
    qtbot.keyClick(screen.search, Qt.Key.Key_Return)
    assert _listed(screen) == ["P4"]
    assert screen.detail.record.mrn == "P4" and _focused(screen.table)


def test_an_empty_registry_shows_no_banner_and_no_patient(window):
    screen = window.show_screen("patients")
    assert screen.model.rowCount() == 0 and screen.count_label.text() == "0 patients"
    assert not screen.banner.isVisible()
    assert screen.detail.record is None and not screen.detail.reassign_button.isEnabled()


def test_prepare_screenshot_on_a_demo_practice(qtbot, fresh_registry):
    from panelmanager.core.demo import load_demo
    from panelmanager.ui.main_window import MainWindow

    load_demo(fresh_registry, patients=300, seed=1, as_of=DAY)
    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.ctx.save_settings(dataclasses.replace(win.ctx.settings, as_of_override=DAY))
    win.show()
    screen = win.show_screen("patients")
    screen.prepare_screenshot()
    assert not screen.banner.isVisible()  # care gaps and risk tiers were brought up to date
    assert screen.detail.record is not None
    assert screen.detail.gaps_table.rowCount() >= 1
    tiers = [t for t in _listed(screen, "tier_text")[:5]]
    assert tiers[0].startswith("4") or tiers[0].startswith("3")  # highest risk first


def test_other_screens_open_a_patient_here_even_one_the_filters_leave_out(screen):
    screen.open_patient(screen.ids["fay"])  # inactive: not in the Active list
    assert screen.detail.record.mrn == "P6" and "inactive" in screen.detail.facts_label.text()
    screen.select_patient(screen.ids["bob"])
    assert screen.detail.record.mrn == "P2"
    assert screen.table.currentIndex().row() == _listed(screen).index("P2")


def test_opening_a_patient_the_list_leaves_out_clears_the_old_highlight(qtbot, window, screen):
    _open(screen, "P1")
    assert screen.table.currentIndex().isValid()
    window.open_patient(screen.ids["fay"])  # inactive: not in the default list (a drill-down from elsewhere)
    assert screen.detail.record.mrn == "P6"
    assert not screen.table.currentIndex().isValid() and not screen.table.selectionModel().hasSelection()


def test_opening_a_record_logged_in_is_audited_once_with_the_patients_id(qtbot, fresh_registry, screen, monkeypatch):
    # Issue 14: "patient record viewed" is in the audit trail, by id, never by name.
    from auth_helpers import fast_hashing, make_users

    from panelmanager.core import audit
    from panelmanager.core.permissions import set_logged_in

    fast_hashing(monkeypatch)
    desk = make_users(fresh_registry)["front_desk"]
    set_logged_in(desk)
    try:
        _open(screen, "P5")
        screen.detail.refresh()  # a refresh of the same record is not a second view
    finally:
        set_logged_in(None)
    with fresh_registry.session() as session:
        views = [e for e in audit.list_entries(session) if e.action == "view_patient"]
    eve = [e for e in views if e.patient_ids == (screen.ids["eve"],)]
    assert [(e.user_name, e.outcome) for e in eve] == [(desk.username, "ok")]  # once, though refreshed
    assert all(len(e.patient_ids) == 1 for e in views)  # each record shown (focus may show the first row too)
    assert "Smithers" not in str(eve[0].details)
