"""Issue 9 item 5 on the Panels screen: with only scheduler user names as providers, the review
and the provider-panel view say no one can hold a panel, and where to fix it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from PySide6.QtCore import Qt

from panelmanager.core import models as m


def test_panels_say_what_is_missing_and_where_to_fix_it(qtbot, window):
    with window.registry.session() as session:
        user = m.Provider(source="athenahealth", external_id="GC_KLEIN_S", display_name="GC_Klein_S")
        session.add(user)
        session.flush()
        patient = m.Patient(mrn="1001", last_name="Garcia", first_name="Maria", source="athenahealth", status="active")
        session.add(patient)
        session.flush()
        session.add(m.Visit(patient_id=patient.id, provider_id=user.id, source="athenahealth", external_id="V1",
                            start=dt.datetime(2024, 3, 1, 9), visit_class="ambulatory", status="completed"))
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=dt.date(2024, 6, 1)))
    screen = window.show_screen("panels")
    screen.refresh()
    assert "No provider can hold a panel" in screen.review_summary.text()
    assert "Settings &gt; Providers" in screen.review_summary.text() or "Settings > Providers" in screen.review_summary.text()
    qtbot.mouseClick(screen.run_review_button, Qt.MouseButton.LeftButton)
    assert "1 need assignment" in screen.review_summary.text()
    assert "GC_Klein_S" in screen.review_summary.text()  # the user name it found

    screen.tabs.setCurrentWidget(screen.provider_tab)
    qtbot.waitUntil(lambda: "No provider can hold a panel" in screen.panel_summary.text())
