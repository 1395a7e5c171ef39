"""Huddle screen: pick a day and a provider and see exactly that schedule with flags, gaps and last
results; build the huddle sheet PDF into the preview. The table model is tested without a window."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.settings import load_settings, save_settings

DAY = dt.date(2024, 3, 4)


def _practice(session) -> dict[str, int]:
    """Ana and Ben; visits on DAY (one cancelled), Ben's on the 5th, Ana's on the 11th."""
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD", npi="1000000004")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP", npi="1000000012")
    session.add_all([ana, ben])
    session.flush()
    ids = {"ana": ana.id, "ben": ben.id}

    def patient(key, first, last, dob, sex):
        p = m.Patient(mrn=key.upper(), first_name=first, last_name=last, dob=dob, sex=sex, source="t",
                      status="active", address1="1 Elm St", city="Springfield", state="MA", postal_code="01103")
        session.add(p)
        session.flush()
        ids[key] = p.id
        return p

    maria = patient("m1", "María", "García", dt.date(1962, 5, 1), "F")  # diabetic, A1c 9.8, BP 146/95
    john = patient("m2", "John", "Smith", dt.date(1950, 1, 1), "M")  # PCP Ben, seen by Ana
    lee = patient("m3", "Ann", "Lee", dt.date(1990, 3, 5), "F")  # Ana's, not confirmed
    kim = patient("m4", "Jun", "Kim", dt.date(2023, 7, 1), "M")  # no PCP
    gone = patient("m5", "Cancelled", "Visit", dt.date(1980, 1, 1), "F")

    def visit(n, who, provider, when, status="scheduled", kind="Follow-up"):
        session.add(m.Visit(patient_id=who.id, provider_id=provider.id, source="t", external_id=f"V{n}", start=when,
                            visit_class="ambulatory", visit_type=kind, status=status))

    at = lambda h, mi=0, day=DAY: dt.datetime.combine(day, dt.time(h, mi))  # noqa: E731
    visit(1, maria, ana, at(9, 20), kind="Diabetes follow-up")
    visit(2, john, ana, at(8, 0))
    visit(3, lee, ana, at(10, 40), kind="Annual physical")
    visit(4, kim, ben, at(9, 0), kind="Well child")
    visit(5, gone, ana, at(11, 0), status="cancelled")
    visit(6, maria, ben, at(9, 0, DAY + dt.timedelta(days=1)))
    visit(7, lee, ana, at(8, 30, DAY + dt.timedelta(days=7)))
    visit(8, maria, ana, dt.datetime(2023, 8, 14, 10), status="completed")

    session.add(m.Condition(patient_id=maria.id, source="t", natural_key=1, code_system="SNOMED", code="44054006",
                            description="Diabetes mellitus type 2", onset=dt.date(2015, 1, 1)))
    for key, code, value in ((2, "4548-4", 9.8), (3, "8480-6", 146.0), (4, "8462-4", 95.0)):
        session.add(m.Observation(patient_id=maria.id, source="t", natural_key=key, date=dt.datetime(2023, 8, 14, 10),
                                  code_system="LOINC", code=code, value=str(value), value_num=value))
    now = dt.datetime(2024, 1, 1, 9)

    def assign(who, provider, confirmed=False):
        session.add(m.Assignment(patient_id=who.id, provider_id=provider.id, cut="1", reason="test",
                                 assigned_on=now.date(), assigned_at=now,
                                 provider_confirmed_on=now.date() if confirmed else None))

    assign(maria, ana, confirmed=True)
    assign(john, ben, confirmed=True)
    assign(lee, ana)
    settings = load_settings(session)
    save_settings(session, dataclasses.replace(settings, practice_name="Elm Street Clinic", as_of_override=DAY))
    return ids


@pytest.fixture
def practice(fresh_registry):
    with fresh_registry.session() as session:
        return _practice(session)


@pytest.fixture
def huddle(qtbot, fresh_registry, practice):
    from panelmanager.ui.main_window import MainWindow

    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win.show_screen("huddle")


def _scheduled(registry, day, provider_id=None) -> set[str]:
    """Straight from the visits table: who is on the schedule (not cancelled)."""
    start = dt.datetime.combine(day, dt.time())
    stmt = (
        select(m.Patient.last_name, m.Patient.first_name)
        .join(m.Visit, m.Visit.patient_id == m.Patient.id)
        .where(m.Visit.start >= start, m.Visit.start < start + dt.timedelta(days=1), m.Visit.status != "cancelled")
    )
    if provider_id is not None:
        stmt = stmt.where(m.Visit.provider_id == provider_id)
    with registry.session() as session:
        return {f"{last}, {first}" for last, first in session.execute(stmt)}


def _cell(screen, row: int, key: str, role=Qt.ItemDataRole.DisplayRole):
    return screen.model.index(row, screen.model.column_index(key)).data(role)


def test_the_day_defaults_to_the_as_of_date_for_every_provider(huddle, fresh_registry):
    assert huddle.day() == DAY
    assert huddle.provider_box.currentText() == "All providers"
    assert set(huddle.model.names()) == _scheduled(fresh_registry, DAY)
    assert huddle.model.names() == ["Smith, John", "García, María", "Lee, Ann", "Kim, Jun"]  # Ana's, then Ben's
    assert "4 patients" in huddle.summary.text()
    assert _cell(huddle, 3, "visit_type") == "Well child\nwith Ben Brown, NP"


def test_picking_a_provider_and_a_day_shows_exactly_that_schedule(qtbot, huddle, fresh_registry, practice):
    huddle.provider_box.setCurrentIndex(huddle.provider_box.findData(practice["ana"]))
    assert huddle.model.names() == ["Smith, John", "García, María", "Lee, Ann"]  # time order, no cancelled visit
    assert set(huddle.model.names()) == _scheduled(fresh_registry, DAY, practice["ana"])
    assert [_cell(huddle, r, "time") for r in range(3)] == ["8:00 AM", "9:20 AM", "10:40 AM"]
    assert _cell(huddle, 0, "pcp") == "Ben Brown, NP\n⚑ Other PCP"
    assert _cell(huddle, 1, "pcp") == "Ana Alvarez, MD"  # confirmed: no flag
    assert _cell(huddle, 2, "pcp") == "Ana Alvarez, MD\n⚑ PCP not confirmed"
    assert _cell(huddle, 1, "patient") == "García, María\nMRN M1"
    assert _cell(huddle, 1, "age_sex") == "61/F"
    assert _cell(huddle, 1, "visit_type") == "Diabetes follow-up"  # one provider: no "with ..."
    assert _cell(huddle, 1, "a1c") == "9.8%\n(2023-08-14)"
    assert _cell(huddle, 1, "bp") == "146/95\n(2023-08-14)"
    assert _cell(huddle, 1, "a1c", Qt.ItemDataRole.ForegroundRole).color().name() == "#b00020"  # above 9%
    assert "A1c above 9: last 2023-08-14 (9.8%), due now" in _cell(huddle, 1, "gaps")
    assert "PCP to check: 1 another provider's, 1 unconfirmed, 0 without a PCP" in huddle.summary.text()

    huddle.date_edit.setDate(QDate(2024, 3, 5))
    assert huddle.model.names() == []
    assert "no visits on the schedule for Ana Alvarez, MD" in huddle.summary.text()
    assert not huddle.print_button.isEnabled()

    huddle.provider_box.setCurrentIndex(huddle.provider_box.findData(practice["ben"]))
    assert huddle.model.names() == ["García, María"] == sorted(_scheduled(fresh_registry, dt.date(2024, 3, 5),
                                                                          practice["ben"]))
    assert _cell(huddle, 0, "pcp") == "Ana Alvarez, MD\n⚑ Other PCP"

    huddle.provider_box.setCurrentIndex(huddle.provider_box.findData(None))
    huddle.date_edit.setDate(QDate(2024, 3, 4))
    assert huddle.model.names()[-1] == "Kim, Jun"
    assert _cell(huddle, 3, "pcp") == "⚑ No PCP"


def test_alt_arrows_jump_between_days_with_visits(qtbot, huddle, practice):
    huddle.set_provider(practice["ana"])
    next_day = next(s for s in huddle.findChildren(QShortcut) if s.key() == QKeySequence("Alt+Right"))
    previous_day = next(s for s in huddle.findChildren(QShortcut) if s.key() == QKeySequence("Alt+Left"))
    next_day.activated.emit()
    assert huddle.day() == dt.date(2024, 3, 11)  # Ana has nothing on the 5th
    assert huddle.model.names() == ["Lee, Ann"]
    qtbot.mouseClick(huddle.previous_day_button, Qt.MouseButton.LeftButton)
    assert huddle.day() == DAY
    previous_day.activated.emit()
    assert huddle.day() == dt.date(2023, 8, 14)  # the completed visit
    qtbot.mouseClick(huddle.today_button, Qt.MouseButton.LeftButton)
    assert huddle.day() == DAY


def test_the_huddle_sheet_opens_in_the_preview_with_every_patient(qtbot, huddle, practice):
    qtbot.mouseClick(huddle.print_button, Qt.MouseButton.LeftButton)
    preview = huddle.preview
    assert preview is not None and preview.isVisible()
    reader = PdfReader(io.BytesIO(preview.pdf_bytes()))
    assert preview.page_count() == len(reader.pages) == 2  # one section per provider, page break between
    text = [page.extract_text() for page in reader.pages]
    for name in ("Smith, John", "García, María", "Lee, Ann"):
        assert name in text[0]
    assert "Kim, Jun" in text[1] and "Kim, Jun" not in text[0]
    assert "Elm Street Clinic" in text[0]
    assert preview.is_landscape()
    preview.close()

    huddle.set_provider(practice["ben"])
    qtbot.mouseClick(huddle.print_button, Qt.MouseButton.LeftButton)
    reader = PdfReader(io.BytesIO(huddle.preview.pdf_bytes()))
    assert huddle.preview.page_count() == 1
    assert "Kim, Jun" in reader.pages[0].extract_text() and "Smith, John" not in reader.pages[0].extract_text()
    huddle.preview.close()


def test_a_row_opens_the_patient(qtbot, huddle, practice):
    index = huddle.model.index(1, huddle.model.column_index("patient"))
    huddle.table.activated.emit(index)
    window = huddle.window()
    assert window.current_screen() is window.screens["patients"]


def test_the_screen_follows_registry_changes(qtbot, huddle, fresh_registry, practice):
    huddle.set_provider(practice["ana"])
    with fresh_registry.session() as session:
        session.add(m.Visit(patient_id=practice["m4"], provider_id=practice["ana"], source="t", external_id="V99",
                            start=dt.datetime.combine(DAY, dt.time(15, 0)), status="scheduled"))
    huddle.ctx.notify_changed()
    assert huddle.model.names() == ["Smith, John", "García, María", "Lee, Ann", "Kim, Jun"]
    assert huddle.provider_id() == practice["ana"]  # the choice is kept


def test_huddle_model_without_a_window(qtbot):
    from panelmanager.core.huddle import HuddleGap, HuddleRow, HuddleSection, HuddleSheet
    from panelmanager.ui.models.huddle import HuddleTableModel

    row = HuddleRow(visit_id=1, start=dt.datetime(2024, 3, 4, 13, 5), patient_id=7, mrn="M7", name="Lee, Ann",
                    dob=dt.date(2023, 9, 1), age=0, sex="F", visit_type="Well child", visit_status="no-show",
                    pcp_id=None, pcp_name=None, pcp_flag="none", risk_tier=3, risk_label="High",
                    gaps=(HuddleGap("flu", "Influenza immunization", "Flu shot (none on record)", "open"),))
    sheet = HuddleSheet(day=DAY, sections=[HuddleSection(2, "Ben Brown, NP", [row])])
    model = HuddleTableModel()
    model.set_huddle(sheet, None, show_provider=False)
    assert model.rowCount() == 1 and model.patient_ids() == [7]

    def cell(key, role=Qt.ItemDataRole.DisplayRole):
        return model.index(0, model.column_index(key)).data(role)

    assert cell("time") == "1:05 PM\nno show"
    assert cell("age_sex") == "6 mo/F"
    assert cell("pcp") == "⚑ No PCP"
    assert cell("risk") == "3 High"
    assert cell("risk", Qt.ItemDataRole.ForegroundRole) is not None
    assert cell("gaps") == "☐ Flu shot (none on record)"
    assert cell("a1c") == "" and cell("bp") == ""
    assert cell("patient", model.PATIENT_ID_ROLE) == 7
    model.set_huddle(None)
    assert model.rowCount() == 0
