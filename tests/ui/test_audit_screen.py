"""The Audit screen: managers read and filter the trail, break-glass rows are flagged, export writes
the rows shown, verify reports the chain; the front desk is refused with a message."""

from __future__ import annotations

import pytest
from auth_helpers import PASSWORD, fast_hashing, make_users
from PySide6.QtCore import Qt

from panelmanager.core.actions import perform
from panelmanager.core.permissions import set_logged_in


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)
    yield
    set_logged_in(None)


@pytest.fixture
def session(qtbot, window, clinic_ids):
    from panelmanager.core.risk import override_risk_tier
    from panelmanager.ui.session import start_session

    actors = make_users(window.registry)
    alice = clinic_ids["alice"]
    perform(window.registry, actors["front_desk"], "print", lambda s: None, patient_ids=[alice],
            emergency_reason="no nurse in today")
    perform(window.registry, actors["provider"], "risk_override", override_risk_tier, alice, 2, "frail", "prov",
            patient_ids=[alice])
    lock = start_session(window, actors["manager"], timeout_ms=3_600_000)
    yield window, actors, clinic_ids
    lock.stop()


def test_a_manager_gets_the_audit_screen(qtbot, session, tmp_path):
    window, actors, ids = session
    assert "audit" in window.screens
    assert window.user_label.text() == "Logged in: User manager (manager)"
    window.nav.setCurrentRow(window.nav.count() - 1)
    screen = window.screens["audit"]
    qtbot.waitUntil(lambda: screen.model.rowCount() > 0)
    model = screen.model
    flagged = [r for r in range(model.rowCount()) if model.data(model.index(r, 5)).startswith("! ")]
    assert len(flagged) == 1
    row = flagged[0]
    assert model.data(model.index(row, 2)) == "frontdesk" and model.data(model.index(row, 8)) == "no nurse in today"
    assert model.data(model.index(row, 0), Qt.ItemDataRole.BackgroundRole) is not None
    screen.patient.setText("P1")  # Alice's MRN
    screen.reload()
    assert {model.data(model.index(r, 5)) for r in range(model.rowCount())} >= {"! print", "risk_override"}
    assert all(str(ids["alice"]) in model.data(model.index(r, 6)) for r in range(model.rowCount()))
    risk = next(r for r in range(model.rowCount()) if model.data(model.index(r, 5)) == "risk_override")
    assert model.headerData(9, Qt.Orientation.Horizontal) == "Details"
    assert model.data(model.index(risk, 9)) == "tier: 2"  # what the override set, from the entry's details
    screen.emergency.setChecked(True)
    assert model.rowCount() == 1
    target = tmp_path / "audit.csv"
    screen.save_path = lambda parent, title: str(target)
    screen.export()
    assert target.read_text().count("\n") == 2 and "no nurse in today" in target.read_text()
    screen.verify()
    assert "intact" in screen.note.text()


def test_the_front_desk_has_no_audit_screen(qtbot, window):
    from panelmanager.ui.screens.audit import AuditScreen
    from panelmanager.ui.session import install_audit_screen

    actors = make_users(window.registry)
    assert install_audit_screen(window, actors["front_desk"]) is None
    set_logged_in(actors["front_desk"])
    screen = AuditScreen(window.ctx)
    qtbot.addWidget(screen)
    screen.reload()
    assert screen.note.text().startswith("Your role (front desk) cannot read the audit trail. Ask a manager.")
    assert screen.model.rowCount() == 0
    assert PASSWORD  # (the helpers' password: used by make_users)
