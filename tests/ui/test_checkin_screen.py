"""Check-in screen: find a patient as you type, and record "is Dr. X your PCP?" in a keystroke
(Enter confirms, Alt+C changes, Alt+D declined), asserting the registry and the schedule after."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from panelmanager.core import models as m

DAY = dt.date(2024, 3, 4)


@pytest.fixture
def clinic(clinic_ids):
    return clinic_ids


@pytest.fixture
def screen(qtbot, clinic, window):
    settings = dataclasses.replace(window.ctx.settings, as_of_override=DAY, user_name="Front Desk")
    window.ctx.save_settings(settings)  # every screen reloads, as after the Settings screen
    screen = window.show_screen("checkin")
    screen.ids = clinic
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)
    return screen


def _focused(widget) -> bool:
    """The widget has the keyboard focus (or will have it once the offscreen window is active)."""
    return widget.hasFocus() or widget.window().focusWidget() is widget


def _column(model, key):
    return next(i for i, c in enumerate(model.columns) if c.key == key)


def _cell(screen, mrn, key):
    model = screen.schedule_model
    row = next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn)
    return model.data(model.index(row, _column(model, key)))


def _select(screen, mrn):
    model = screen.schedule_model
    row = next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn)
    screen.schedule_view.setFocus()
    screen.schedule_view.selectRow(row)
    assert screen.panel.subject is not None and screen.panel.subject.mrn == mrn


def _confirmations(window, patient_id):
    with window.registry.session() as session:
        c = m.Confirmation
        return session.execute(
            select(c.party, c.outcome, c.method, c.user, c.provider_id, c.recorded_on).where(c.patient_id == patient_id).order_by(c.id)
        ).all()


def _assignment(window, patient_id):
    with window.registry.session() as session:
        return session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))


def test_the_schedule_shows_each_patients_pcp_status_and_gaps(screen):
    assert screen.day == DAY
    assert [r["mrn"] for r in screen.schedule_model.rows()] == ["P1", "P2", "P3", "P4"]
    assert [_cell(screen, x, "status_text") for x in ("P1", "P2", "P3", "P4")] == ["Not confirmed", "Confirmed", "No PCP", "Other PCP"]
    # The care-gap job ran (synchronously in tests): Alice (74, no pneumococcal vaccine) has open gaps.
    assert int(_cell(screen, "P1", "gaps").split()[0]) >= 1
    assert "4 visits" in screen.summary.text() and "1 no PCP" in screen.summary.text()


def test_typing_a_name_dob_or_mrn_finds_the_patient(qtbot, screen):
    qtbot.keyClicks(screen.search, "smith")
    qtbot.waitUntil(lambda: screen.results_model.rowCount() == 3, timeout=2000)  # after the pause in typing
    names = [screen.results_model.data(screen.results_model.index(r, 0)) for r in range(3)]
    assert names == ["Smith, Alice", "Smith, Fay", "Smithers, Eve"]  # an inactive patient is found too
    assert screen.stack.currentIndex() == 1 and "3 patients" in screen.results_label.text()

    def found() -> list[str]:
        model = screen.results_model
        return [model.data(model.index(r, 0)) for r in range(model.rowCount())]

    screen.search.clear()
    qtbot.keyClicks(screen.search, "02/01/1950")
    qtbot.waitUntil(lambda: found() == ["Smith, Alice"], timeout=2000)

    screen.search.clear()
    qtbot.keyClicks(screen.search, "p5")
    qtbot.waitUntil(lambda: found() == ["Smithers, Eve"], timeout=2000)

    qtbot.keyClick(screen.search, Qt.Key.Key_Escape)  # back to the schedule
    assert screen.search.text() == "" and screen.stack.currentIndex() == 0


def test_enter_on_a_schedule_row_confirms_the_pcp(qtbot, window, screen):
    alice = screen.ids["alice"]
    _select(screen, "P1")
    assert screen.panel.question_label.text() == "Is Dr. Ann Lee your primary care provider?"
    gaps = [screen.panel.gaps_list.item(i).text() for i in range(screen.panel.gaps_list.count())]
    assert any("Pneumococcal: none on record, due now" in g for g in gaps)

    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Return)

    assert _confirmations(window, alice) == [("patient", "confirmed", "check-in", "Front Desk", screen.ids["lee"], DAY)]
    assert _assignment(window, alice).patient_confirmed_on == DAY
    assert _cell(screen, "P1", "status_text") == "Confirmed"
    assert screen.panel.subject.mrn == "P1"  # the selection stays
    assert "confirmed Dr. Ann Lee" in screen.panel.message_label.text()
    assert "Confirmed by the patient on 2024-03-04" in screen.panel.state_label.text()


def test_change_to_another_provider_records_the_preference_and_moves_the_patient(qtbot, window, screen):
    alice, lee, park = screen.ids["alice"], screen.ids["lee"], screen.ids["park"]
    _select(screen, "P1")
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert screen.panel.change_row.isVisible() and _focused(screen.panel.provider_combo)
    combo = screen.panel.provider_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [None, park]  # the current PCP is not offered
    assert combo.currentData() is None  # no proposal, and today's provider is her PCP: the desk picks (issue 10)
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == park
    qtbot.keyClick(combo, Qt.Key.Key_Return)

    assignment = _assignment(window, alice)
    assert (assignment.provider_id, assignment.cut, assignment.patient_confirmed_on) == (park, "preference", DAY)
    assert _confirmations(window, alice)[-1][:5] == ("patient", "changed", "check-in", "Front Desk", park)
    with window.registry.session() as session:
        preference = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == alice))
        history = session.scalars(
            select(m.AssignmentHistory).where(m.AssignmentHistory.patient_id == alice).order_by(m.AssignmentHistory.id)
        ).all()
    assert (preference.provider_id, preference.method, preference.user) == (park, "check-in", "Front Desk")
    assert (history[-1].from_provider_id, history[-1].to_provider_id) == (lee, park)
    assert history[-1].reason.startswith("Patient's preference, recorded 2024-03-04 (check-in)")
    # Alice's visit today is with Dr. Lee, who is no longer her PCP.
    assert _cell(screen, "P1", "pcp") == "Dr. Bo Park"
    assert _cell(screen, "P1", "status_text") == "Other PCP · chose a new PCP today"
    assert not screen.panel.change_row.isVisible()


def test_alt_d_records_that_the_patient_declined(qtbot, window, screen):
    dan = screen.ids["dan"]
    _select(screen, "P4")
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)
    assert _focused(screen.schedule_view)  # still on the list, ready for the next patient
    assert _confirmations(window, dan) == [("patient", "declined", "check-in", "Front Desk", screen.ids["lee"], DAY)]
    assert _assignment(window, dan).patient_confirmed_on is None
    assert _cell(screen, "P4", "status_text") == "Other PCP · declined today"
    assert "declined" in screen.panel.state_label.text()


def test_a_patient_on_no_panel_is_assigned_to_the_visits_provider_with_enter(qtbot, window, screen):
    carol, park = screen.ids["carol"], screen.ids["park"]
    _select(screen, "P3")
    panel = screen.panel
    assert panel.mode == "unassigned" and "has no primary care provider" in panel.question_label.text()
    assert panel.change_row.isVisible() and not panel.confirm_button.isVisible()
    assert panel.provider_combo.currentData() == park  # today's visit is with Dr. Park
    assert "this visit" in panel.provider_combo.currentText()

    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Enter)

    assignment = _assignment(window, carol)
    assert (assignment.provider_id, assignment.cut) == (park, "preference")
    assert _confirmations(window, carol)[-1][:2] == ("patient", "changed")
    assert _cell(screen, "P3", "status_text") == "Confirmed"
    assert panel.mode == "assigned" and "Dr. Bo Park" in panel.question_label.text()


def test_a_search_result_is_confirmed_with_two_enters(qtbot, window, screen):
    eve = screen.ids["eve"]
    qtbot.keyClicks(screen.search, "smithers")
    qtbot.keyClick(screen.search, Qt.Key.Key_Return)  # runs the search now and picks the first match
    assert _focused(screen.results_view) or screen.results_view.currentIndex().row() == 0
    assert screen.panel.subject.mrn == "P5"
    assert "Not on the schedule for 2024-03-04" in screen.panel.info_label.text()  # her visit was cancelled
    qtbot.keyClick(screen.results_view, Qt.Key.Key_Return)
    assert _confirmations(window, eve) == [("patient", "confirmed", "check-in", "Front Desk", screen.ids["park"], DAY)]


def test_changing_day_and_provider(qtbot, screen):
    qtbot.mouseClick(screen.next_button, Qt.MouseButton.LeftButton)
    assert screen.day == DAY + dt.timedelta(days=1)
    assert [r["mrn"] for r in screen.schedule_model.rows()] == ["P2"]
    assert _cell(screen, "P2", "status_text") == "Other PCP"  # Bob (Dr. Lee's) sees Dr. Park that day
    qtbot.mouseClick(screen.next_button, Qt.MouseButton.LeftButton)
    assert screen.schedule_model.rowCount() == 0 and screen.stack.currentIndex() == 2
    assert "No visits are scheduled" in screen.empty_label.text()
    qtbot.mouseClick(screen.today_button, Qt.MouseButton.LeftButton)
    assert screen.day == DAY and screen.schedule_model.rowCount() == 4

    park = screen.ids["park"]
    screen.provider_combo.setCurrentIndex(screen.provider_combo.findData(park))
    assert [r["mrn"] for r in screen.schedule_model.rows()] == ["P3", "P4"]
    assert screen.provider_combo.currentText() == "Dr. Bo Park (2)"


def test_ctrl_f_puts_the_cursor_in_the_search_box(qtbot, window, screen):
    window.activateWindow()
    screen.focus_search()
    assert _focused(screen.search)


def test_esc_leaves_the_provider_choice_without_recording(qtbot, window, screen):
    _select(screen, "P1")
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert _focused(screen.panel.provider_combo)
    qtbot.keyClick(screen.panel.provider_combo, Qt.Key.Key_Escape)
    assert not screen.panel.change_row.isVisible()
    assert _focused(screen.schedule_view)
    assert _confirmations(window, screen.ids["alice"]) == []
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Return)  # Enter now confirms again
    assert _confirmations(window, screen.ids["alice"])[0][1] == "confirmed"


def test_an_empty_registry_shows_an_empty_day(qtbot, window):
    screen = window.show_screen("checkin")
    assert screen.schedule_model.rowCount() == 0 and screen.stack.currentIndex() == 2
    assert screen.panel.subject is None and screen.panel.name_label.text() == "No patient selected"
    qtbot.keyClicks(screen.search, "anyone")
    screen.run_search()
    assert screen.results_model.rowCount() == 0 and "No patient matches" in screen.results_label.text()


def test_prepare_screenshot_on_a_demo_practice(qtbot, fresh_registry):
    from panelmanager.core.demo import load_demo
    from panelmanager.ui.main_window import MainWindow

    load_demo(fresh_registry, patients=300, seed=1, as_of=dt.date(2024, 3, 2))  # a Saturday
    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.ctx.save_settings(dataclasses.replace(win.ctx.settings, as_of_override=dt.date(2024, 3, 2)))
    win.show()
    screen = win.show_screen("checkin")
    from screenshots import stage_checkin  # screenshot staging lives in tests/ui/screenshots.py

    stage_checkin(screen)
    assert screen.day == dt.date(2024, 3, 4)  # the next day with visits
    statuses = {r["status"] for r in screen.schedule_model.rows()}
    assert "confirmed" in statuses and statuses - {"unassigned"}  # panels were assigned, one patient confirmed
    assert screen.panel.subject is not None


def _set_provider(window, provider_id, **values):
    with window.registry.session() as session:
        provider = session.get(m.Provider, provider_id)
        for key, value in values.items():
            setattr(provider, key, value)
    window.ctx.notify_changed()


@pytest.mark.parametrize("change", [{"specialty": "PEDIATRICS"}, {"panel_open": False}])
def test_an_unfitting_or_closed_panel_is_never_the_default(qtbot, window, screen, monkeypatch, change):
    carol, park = screen.ids["carol"], screen.ids["park"]
    _set_provider(window, park, **change)  # Carol (33) is seen by Dr. Park: a pediatric, or a closed, panel
    _select(screen, "P3")
    panel = screen.panel
    assert panel.subject.suggested_provider_id is None
    assert panel.provider_combo.currentData() is None and panel.provider_combo.currentText() == "Choose a provider..."
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Enter)  # one Enter puts her nowhere
    assert _assignment(window, carol) is None and "Choose the provider" in panel.message_label.text()

    asked = []
    monkeypatch.setattr(type(panel), "ask_reason", staticmethod(lambda *a: (asked.append(a[2]), ("", False))[1]))
    panel.provider_combo.setCurrentIndex(panel.provider_combo.findData(park))
    panel.record_change()
    assert _assignment(window, carol) is None and len(asked) == 1  # no reason: not recorded
    assert ("up to age 21); the patient is 33" in asked[0]) or ("the panel is closed" in asked[0])

    monkeypatch.setattr(type(panel), "ask_reason", staticmethod(lambda *a: ("Her mother's doctor, agreed", True)))
    panel.record_change()
    assert _assignment(window, carol).provider_id == park
    with window.registry.session() as session:
        reason = session.scalars(select(m.Confirmation.reason).where(m.Confirmation.patient_id == carol)).all()
    assert reason == ["Her mother's doctor, agreed"]


def test_the_4_cut_proposal_is_the_default_when_it_fits(qtbot, window, screen):
    carol, lee = screen.ids["carol"], screen.ids["lee"]
    with window.registry.session() as session:
        review = m.PanelReview(as_of=DAY, lookback_months=18, window_start=dt.date(2022, 9, 4), status="open",
                               created_by="mgr",
                               created_at=dt.datetime(2024, 3, 1, 9))
        session.add(review)
        session.flush()
        session.add(m.PanelReviewItem(review_id=review.id, patient_id=carol, kind="new", new_provider_id=lee, cut="1",
                                      reason="most visits"))
    window.ctx.notify_changed()
    _select(screen, "P3")
    assert screen.panel.provider_combo.currentData() == lee  # the proposal beats the visit's provider
