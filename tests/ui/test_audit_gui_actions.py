"""What the desktop app shows, prints and exports is audited under the logged-in user, by patient id
(issue 14): a search on the Patients and Check-in screens (one entry per search run, not per
keystroke: the first page of results, never the text typed), the huddle sheet, letters, labels,
the call list and the portal export, and the audit CSV export. No entry holds a patient's name."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from auth_helpers import fast_hashing, make_users
from clinic import CLINIC_DAY
from PySide6.QtCore import Qt
from sqlalchemy import select

from panelmanager.core import audit
from panelmanager.core import models as m
from panelmanager.core.permissions import set_logged_in


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)
    yield
    set_logged_in(None)


def log_in(window, role: str):
    from panelmanager.ui.session import start_session

    actors = make_users(window.registry)
    lock = start_session(window, actors[role], timeout_ms=3_600_000)
    return actors[role], lock


def entries(registry, action=None) -> list[audit.AuditRow]:
    with registry.session() as session:
        return list(reversed(audit.list_entries(session, action=action, limit=None)))


def no_names(registry) -> None:
    with registry.session() as session:
        people = session.execute(select(m.Patient.first_name, m.Patient.last_name)).all()
        text = " ".join(str(v) for row in session.execute(select(m.AuditEntry)).scalars()
                        for v in (row.details, row.user_name, row.workstation, row.emergency_reason) if v).lower()
    for first, last in people:
        for name in (first, last):
            assert not re.search(rf"\b{re.escape(name.lower())}\b", text), name
    assert ".pdf" not in text and ".csv" not in text


@pytest.fixture
def clinic_window(qtbot, window, clinic_ids):
    settings = dataclasses.replace(window.ctx.settings, as_of_override=CLINIC_DAY)
    window.ctx.save_settings(settings)
    window.ids = clinic_ids
    return window


def test_a_patients_search_is_one_entry_per_search_with_the_first_page(qtbot, clinic_window):
    window, ids = clinic_window, clinic_window.ids
    actor, lock = log_in(window, "front_desk")
    screen = window.show_screen("patients")
    qtbot.waitUntil(lambda: screen.model.rowCount() == 5)
    first = entries(window.registry, "search")
    assert len(first) == 1 and first[0].details["results"] == 5  # the list as first shown
    qtbot.keyClicks(screen.search, "smith")  # five keystrokes, one search after the pause
    qtbot.waitUntil(lambda: screen.model.rowCount() == 2, timeout=2000)
    qtbot.wait(400)
    found = entries(window.registry, "search")[1:]
    assert len(found) == 1
    [entry] = found
    assert (entry.user_name, entry.role, entry.outcome) == ("frontdesk", "front_desk", "ok")
    assert entry.patient_ids == tuple(sorted((ids["alice"], ids["eve"])))
    assert entry.details == {"screen": "patients", "results": 2, "shown": 2, "by": ["statuses", "text"]}
    window.ctx.notify_changed()  # a refresh shows the same search again: not a new entry
    qtbot.wait(50)
    assert len(entries(window.registry, "search")) == 2
    screen.provider_combo.setCurrentIndex(screen.provider_combo.findData(ids["lee"]))  # a filter is a new search
    assert entries(window.registry, "search")[-1].details["by"] == ["provider_id", "statuses", "text"]
    no_names(window.registry)
    lock.stop()


def test_a_checkin_search_is_audited_once_per_search(qtbot, clinic_window):
    window, ids = clinic_window, clinic_window.ids
    actor, lock = log_in(window, "front_desk")
    screen = window.show_screen("checkin")
    qtbot.keyClicks(screen.search, "smith")
    qtbot.waitUntil(lambda: screen.results_model.rowCount() == 3, timeout=2000)
    qtbot.wait(400)
    [entry] = entries(window.registry, "search")
    assert entry.patient_ids == tuple(sorted((ids["alice"], ids["eve"], ids["fay"])))
    assert entry.details == {"screen": "checkin", "results": 3, "shown": 3, "by": ["text"]}
    screen._search_enter()  # Enter on the same search: not a second entry
    assert len(entries(window.registry, "search")) == 1
    screen.clear_search()
    qtbot.keyClicks(screen.search, "smith")  # the same text again, typed anew: a new search
    qtbot.waitUntil(lambda: len(entries(window.registry, "search")) == 2, timeout=2000)
    no_names(window.registry)
    lock.stop()


def test_a_checkin_confirm_change_and_decline_are_audited_by_patient(qtbot, clinic_window):
    """The Check-in screen's Enter, Alt+C and Alt+D each leave one entry, under the logged-in user,
    naming the patient by id; the change itself is in the same transaction."""
    window, ids = clinic_window, clinic_window.ids
    actor, lock = log_in(window, "front_desk")
    screen = window.show_screen("checkin")
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)

    def select(mrn):
        model = screen.schedule_model
        row = next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn)
        screen.schedule_view.setFocus()
        screen.schedule_view.selectRow(row)

    select("P1")
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Return)  # Alice: "yes, Dr. Lee is my PCP"
    qtbot.waitUntil(lambda: "confirmed" in screen.panel.message_label.text())
    select("P4")
    screen.panel.decline()  # Dan declined to answer
    select("P3")
    screen.panel.record_change(ids["park"])  # Carol, on no panel, chooses Dr. Park
    got = [(e.user_name, e.role, e.action, e.outcome, e.patient_ids) for e in entries(window.registry, "confirm")]
    assert got == [("frontdesk", "front_desk", "confirm", "ok", (ids["alice"],)),
                   ("frontdesk", "front_desk", "confirm", "ok", (ids["dan"],)),
                   ("frontdesk", "front_desk", "confirm", "ok", (ids["carol"],))]
    assert entries(window.registry, "confirm")[2].details == {"by": "patient", "outcome": "changed", "moved": True}
    # Opening a patient at the desk (name, birth date, PCP, care gaps) is a record view: one entry per
    # patient opened, not one per re-read after their confirm
    views = entries(window.registry, "view_patient")
    assert [(e.user_name, e.outcome, e.patient_ids, e.details) for e in views] == [
        ("frontdesk", "ok", (pid,), {"screen": "checkin"}) for pid in (ids["alice"], ids["dan"], ids["carol"])]
    select("P1")  # back to Alice: opened again, so recorded again
    assert entries(window.registry, "view_patient")[-1].patient_ids == (ids["alice"],)
    assert len(entries(window.registry, "view_patient")) == 4
    no_names(window.registry)
    lock.stop()


def test_without_a_login_a_search_records_nothing(qtbot, clinic_window):
    screen = clinic_window.show_screen("checkin")
    qtbot.keyClicks(screen.search, "smith")
    qtbot.waitUntil(lambda: screen.results_model.rowCount() == 3, timeout=2000)
    assert entries(clinic_window.registry) == []


def test_printing_the_huddle_sheet_is_audited(qtbot, window, fresh_registry):
    from tests.ui.test_huddle_screen import DAY, _practice

    with fresh_registry.session() as session:
        practice = _practice(session)
    actor, lock = log_in(window, "provider")
    huddle = window.show_screen("huddle")
    huddle.set_day(DAY)
    qtbot.mouseClick(huddle.print_button, Qt.MouseButton.LeftButton)
    assert huddle.preview is not None
    huddle.preview.close()
    [entry] = entries(fresh_registry, "print")
    assert (entry.user_name, entry.outcome) == ("provider", "ok")
    with fresh_registry.session() as session:
        start = dt.datetime.combine(DAY, dt.time())
        on_the_day = set(session.scalars(select(m.Visit.patient_id).where(
            m.Visit.start >= start, m.Visit.start < start + dt.timedelta(days=1), m.Visit.status != "cancelled")))
    assert set(entry.patient_ids) == on_the_day and len(on_the_day) >= 3 and practice
    assert entry.details["document"] == "huddle-sheet" and entry.details["to"] == "preview"
    no_names(fresh_registry)
    lock.stop()


def test_the_front_desk_cannot_print_the_huddle_sheet(qtbot, window, fresh_registry, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tests.ui.test_huddle_screen import DAY, _practice

    with fresh_registry.session() as session:
        _practice(session)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: shown.append(args[2]))
    actor, lock = log_in(window, "front_desk")
    huddle = window.show_screen("huddle")
    huddle.set_day(DAY)
    huddle.preview = None
    qtbot.mouseClick(huddle.print_button, Qt.MouseButton.LeftButton)
    assert huddle.preview is None
    [entry] = entries(fresh_registry, "print")
    assert (entry.user_name, entry.outcome, entry.patient_ids) == ("frontdesk", "refused", ())
    lock.stop()


def test_outreach_documents_are_audited(qtbot, window, fresh_registry, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from panelmanager.core.settings import load_settings
    from tests.ui.test_outreach_screen import _build, _practice

    with fresh_registry.session() as session:
        practice = _practice(session)
        window.ctx.settings = load_settings(session)  # the window opened before the practice was set up

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: warned.append(args[2]))
    actor, lock = log_in(window, "manager")
    outreach = window.show_screen("outreach")
    _build(qtbot, outreach)
    listed = {practice[k] for k in ("olga", "rosa", "ruth", "bea", "carla")}

    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    assert warned == []
    outreach.preview.close()
    [letters] = entries(fresh_registry, "letters")
    assert set(letters.patient_ids) == listed  # Carla: no ZIP code, left out but concerned
    assert letters.details["documents"] == ["letters"] and letters.details["to"] == {"letters": "preview"}
    assert letters.user_name == "manager" and letters.outcome == "ok"

    qtbot.mouseClick(outreach.labels_button, Qt.MouseButton.LeftButton)
    outreach.preview.close()
    assert entries(fresh_registry, "letters")[-1].details["documents"] == ["labels"]

    monkeypatch.setattr(type(outreach), "save_file_name",
                        staticmethod(lambda parent, caption, suggested, filters: (str(tmp_path / "out.csv"), filters)))
    outreach.call_csv_action.trigger()
    calls = entries(fresh_registry, "letters")[-1]
    assert calls.details["documents"] == ["calls"] and calls.details["to"] == {"calls": "file"}
    assert practice["ruth"] in calls.patient_ids  # no phone: left out of the list, named in the entry

    outreach.portal_action.trigger()
    [export] = entries(fresh_registry, "export")
    assert export.details["documents"] == ["portal"] and export.details["portal"] == 1
    assert set(export.patient_ids) == listed
    no_names(fresh_registry)
    lock.stop()


def test_the_audit_export_names_the_patients_of_the_rows_exported(qtbot, clinic_window, tmp_path):
    from panelmanager.core.actions import record_shown

    window, ids = clinic_window, clinic_window.ids
    actor, lock = log_in(window, "manager")
    record_shown(window.registry, "search", [ids["alice"], ids["bob"]], details={"screen": "test"})
    window.nav.setCurrentRow(window.nav.count() - 1)
    screen = window.screens["audit"]
    screen.action.setCurrentIndex(screen.action.findData("search"))
    screen.reload()
    screen.save_path = lambda parent, title: str(tmp_path / "audit.csv")
    screen.export()
    entry = entries(window.registry, "audit_view")[-1]
    assert entry.details == {"export": "csv", "rows": 1}
    assert entry.patient_ids == tuple(sorted((ids["alice"], ids["bob"])))
    no_names(window.registry)
    lock.stop()
