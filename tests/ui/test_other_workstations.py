"""Several workstations on one registry, seen from the desktop app (issue 13).

A second connection to the same registry plays the other workstation: what it records
shows on this window's screen after the change poll, and a change made on top of an
older view is refused with core's message (who changed the panel, and when), after
which the screen shows the panel as it is now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.concurrency import run_write
from panelmanager.core.db import open_registry
from panelmanager.core.empanelment import confirm_assignment, reassign_patient

DAY = dt.date(2024, 3, 4)


@pytest.fixture
def other(window):
    """The other workstation: its own connection (engine) to the same registry."""
    registry = open_registry(window.registry.url)
    yield registry
    registry.close()


@pytest.fixture
def warnings(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a, **k: shown.append(text)))
    return shown


def _at(window, screen_key, user):
    settings = dataclasses.replace(window.ctx.settings, as_of_override=DAY, user_name=user)
    window.ctx.save_settings(settings)
    return window.show_screen(screen_key)


def _status(screen, mrn):
    model = screen.schedule_model
    column = next(i for i, c in enumerate(model.columns) if c.key == "status_text")
    row = next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn)
    return model.data(model.index(row, column))


def _select_visit(screen, mrn):
    model = screen.schedule_model
    screen.schedule_view.setFocus()
    screen.schedule_view.selectRow(next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn))
    assert screen.panel.subject.mrn == mrn


def test_a_confirmation_at_another_desk_shows_on_the_check_in_screen_after_the_poll(qtbot, window, clinic_ids, other):
    screen = _at(window, "checkin", "Medical Assistant")
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)
    assert _status(screen, "P1") == "Not confirmed"
    window.poll_changes()  # what this window did itself is already on screen

    run_write(other, confirm_assignment, clinic_ids["alice"], by="patient", outcome="confirmed",
              method="check-in", user="Front Desk", as_of=DAY)
    assert _status(screen, "P1") == "Not confirmed"  # nothing yet: the next poll sees it
    window.change_timer.setInterval(50)
    qtbot.waitUntil(lambda: _status(screen, "P1") == "Confirmed", timeout=5000)
    assert window.poll_changes() is False  # seen once, not reloaded again and again


def test_confirming_a_panel_changed_meanwhile_is_refused_and_the_new_panel_shown(qtbot, window, clinic_ids, other, warnings):
    screen = _at(window, "checkin", "Front Desk")
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)
    alice = clinic_ids["alice"]
    _select_visit(screen, "P1")
    assert screen.panel.question_label.text() == "Is Dr. Ann Lee your primary care provider?"

    run_write(other, reassign_patient, alice, clinic_ids["park"], reason="Moved by the manager", user="jsmith", as_of=DAY)
    screen.panel.confirm()  # Enter on what the desk still sees: Dr. Lee

    assert len(warnings) == 1
    assert "Dr. Bo Park's panel was changed by jsmith at" in warnings[0] and "reload and try again" in warnings[0]
    assert "Smith" not in warnings[0] and "P1" not in warnings[0]  # no patient data in the message
    with window.registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Confirmation).where(m.Confirmation.patient_id == alice)) == 0
    # The screen reloaded: the desk now asks about the panel the patient is on.
    assert screen.panel.subject.mrn == "P1"
    assert screen.panel.question_label.text() == "Is Dr. Bo Park your primary care provider?"
    screen.panel.confirm()  # and confirming what is shown now works
    assert len(warnings) == 1
    with window.registry.session() as session:
        assert session.scalar(select(m.Assignment.patient_confirmed_on).where(m.Assignment.patient_id == alice)) == DAY


def test_reassigning_from_an_older_patient_view_is_refused_and_the_record_reloaded(qtbot, window, clinic_ids, other, warnings):
    screen = _at(window, "patients", "Manager Mo")
    qtbot.waitUntil(lambda: screen.model.rowCount() == 5)
    alice = clinic_ids["alice"]
    screen.select_patient(alice)
    assert screen.detail.record.mrn == "P1" and "Dr. Ann Lee" in screen.detail.pcp_label.text()

    run_write(other, reassign_patient, alice, clinic_ids["park"], reason="Moved at the front desk", user="jsmith", as_of=DAY)
    assert screen.detail.reassign(None, "Moved away") is False

    assert len(warnings) == 1 and "changed by jsmith" in warnings[0] and "reload and try again" in warnings[0]
    with window.registry.session() as session:
        assert session.scalar(select(m.Assignment.provider_id).where(m.Assignment.patient_id == alice)) == clinic_ids["park"]
    assert "Dr. Bo Park" in screen.detail.pcp_label.text()  # the record shows the panel as it is now
    assert screen.detail.reassign(None, "Moved away") is True  # from the fresh view it goes through
