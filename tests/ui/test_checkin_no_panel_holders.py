"""Issue 9 item 5 at the front desk: when no provider can hold a panel, Check-in says what is
missing and where to fix it instead of only "Choose the provider"."""

from __future__ import annotations

import dataclasses
import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from panelmanager.core import models as m

DAY = dt.date(2024, 3, 4)


def test_checkin_explains_that_no_provider_can_hold_a_panel(qtbot, window, clinic_ids, monkeypatch):
    with window.registry.session() as session:
        for provider in session.query(m.Provider):
            provider.can_hold_panel = False  # as after importing scheduler user names only
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=DAY))
    screen = window.show_screen("checkin")
    qtbot.waitUntil(lambda: screen.schedule_model.rowCount() == 4)
    row = next(i for i, r in enumerate(screen.schedule_model.rows()) if r["mrn"] == "P3")  # Carol: on no panel
    screen.schedule_view.setFocus()
    screen.schedule_view.selectRow(row)
    panel = screen.panel
    combo = panel.provider_combo
    assert panel.mode == "unassigned" and all(combo.itemData(i) is None for i in range(combo.count()))  # no provider to pick
    hint = panel.hint_label.text()
    assert hint.startswith("No provider can hold a panel: none of the 3 providers")
    assert "Settings > Providers" in hint

    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: shown.append(text))
    qtbot.keyClick(screen.schedule_view, Qt.Key.Key_Enter)
    assert shown and "No provider can hold a panel" in shown[-1] and "Choose the provider" not in shown[-1]
