"""On a PostgreSQL registry the screens hear another workstation's change at once (issue 13).

The window LISTENs (core.change_listener); the counter poll is stopped here so only the
notification can refresh the screen. Skipped when no PostgreSQL server binaries exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from panelmanager.core.concurrency import run_write
from panelmanager.core.db import open_registry
from panelmanager.core.empanelment import confirm_assignment

DAY = dt.date(2024, 3, 4)
pytestmark = pytest.mark.parametrize("registry_backend", ["postgresql"], indirect=True)


def _status(screen, mrn):
    model = screen.schedule_model
    column = next(i for i, c in enumerate(model.columns) if c.key == "status_text")
    row = next(i for i, r in enumerate(model.rows()) if r["mrn"] == mrn)
    return model.data(model.index(row, column))


def test_a_confirmation_at_another_desk_shows_within_a_second_without_the_counter_poll(qtbot, window, clinic_ids):
    assert window.change_listener is not None and window.listen_timer.isActive()
    window.change_timer.stop()  # only LISTEN/NOTIFY can refresh the screen now
    settings = dataclasses.replace(window.ctx.settings, as_of_override=DAY, user_name="Medical Assistant")
    window.ctx.save_settings(settings)
    screen = window.show_screen("checkin")
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)
    assert _status(screen, "P1") == "Not confirmed"
    qtbot.wait(2 * window.LISTEN_POLL_MS)  # this window's own settings change heard and shown

    other = open_registry(window.registry.url)  # the front desk's workstation
    try:
        run_write(other, confirm_assignment, clinic_ids["alice"], by="patient", outcome="confirmed",
                  method="check-in", user="Front Desk", as_of=DAY)
        committed = time.monotonic()
        qtbot.waitUntil(lambda: _status(screen, "P1") == "Confirmed", timeout=3000)
        assert time.monotonic() - committed < 2.0
    finally:
        other.close()
