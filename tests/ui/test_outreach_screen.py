"""Outreach screen: build lists with the filters, print letters (logged once per patient when printed),
labels, call lists and portal exports, record a call's outcome, and see the closed-gaps report.
The table model is tested without a window."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pandas as pd
import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.settings import load_settings, save_settings

AS_OF = dt.date(2024, 3, 1)
COLON = "colorectal-cancer-screening"
BREAST = "breast-cancer-screening"


def _practice(session) -> dict[str, int]:
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP")
    session.add_all([ana, ben])
    session.flush()
    ids = {"ana": ana.id, "ben": ben.id}

    def patient(key, first, last, dob, language="en", provider=ana, **extra):
        values = dict(mrn=key.upper(), first_name=first, last_name=last, dob=dob, sex="F", source="t",
                      status="active", address1="1 Elm St", city="Springfield", state="MA", postal_code="01103",
                      phone_mobile="(413) 555-0101", preferred_language=language)
        values.update(extra)
        p = m.Patient(**values)
        session.add(p)
        session.flush()
        ids[key] = p.id
        now = dt.datetime(2024, 1, 1)
        session.add(m.Assignment(patient_id=p.id, provider_id=provider.id, cut="1", reason="test",
                                 assigned_on=now.date(), assigned_at=now))
        return p

    patient("olga", "Olga", "Adams", dt.date(1970, 1, 1), email="olga@example.org")  # 54
    patient("rosa", "Rosa", "Díaz", dt.date(1960, 6, 1), language="Spanish")  # 63, Spanish letters
    patient("ruth", "Ruth", "Baker", dt.date(1951, 1, 1), provider=ben, phone_mobile=None)  # 73, Ben's, no phone
    done = patient("mia", "Mia", "Clark", dt.date(1965, 1, 1))  # colonoscopy two years ago: met
    patient("zoe", "Zoe", "Young", dt.date(2000, 1, 1))  # 24: not eligible
    bea = patient("bea", "Bea", "Evans", dt.date(1972, 2, 2))  # open, appointment next week
    patient("carla", "Carla", "Ortiz", dt.date(1968, 4, 4), postal_code=None)  # 55, no ZIP: no letter
    session.add(m.Procedure(patient_id=done.id, source="t", natural_key=1, date=dt.datetime(2022, 2, 1),
                            code_system="SNOMED", code="73761001", description="Colonoscopy"))
    session.add(m.Visit(patient_id=bea.id, provider_id=ana.id, source="t", external_id="V1",
                        start=dt.datetime(2024, 3, 8, 9), visit_class="wellness", status="scheduled"))
    settings = load_settings(session)
    save_settings(session, dataclasses.replace(settings, practice_name="Elm Street Clinic",
                                               practice_address="1 Main St\nSpringfield, MA 01103",
                                               practice_phone="(413) 555-0100", as_of_override=AS_OF,
                                               user_name="Front Desk"))
    return ids


@pytest.fixture
def practice(fresh_registry):
    with fresh_registry.session() as session:
        return _practice(session)


@pytest.fixture
def outreach(qtbot, fresh_registry, practice, monkeypatch):
    from panelmanager.ui.main_window import MainWindow

    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win.show_screen("outreach")


def _build(qtbot, screen, measures=(COLON,), **choices) -> list[str]:
    screen.set_measures(measures)
    screen.set_language(choices.get("language"))
    screen.set_provider(choices.get("provider"))
    screen.age_min.setValue(choices.get("age_min", 0))
    screen.age_max.setValue(choices.get("age_max", 0))
    screen.no_appointment_box.setChecked(choices.get("no_upcoming", False))
    if "quiet_days" in choices:
        screen.quiet_days.setValue(choices["quiet_days"])
    qtbot.mouseClick(screen.build_button, Qt.MouseButton.LeftButton)
    return screen.patient_names()


def _log(registry) -> list[tuple]:
    o = m.OutreachLog
    with registry.session() as session:
        return list(session.execute(
            select(o.patient_id, o.method, o.measure_id, o.outcome, o.document, o.user, o.note).order_by(o.id)
        ).all())


def _pdf_printer(path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    printer.setResolution(72)
    return printer


def _row(screen, name: str) -> dict:
    return next(screen.model.row_data(r) for r in range(screen.model.rowCount())
                if screen.model.row_data(r)["name"] == name)


def test_filters_pick_the_right_patients(qtbot, outreach, practice):
    assert outreach.quiet_days.value() == 30  # the practice setting
    everyone = ["Adams, Olga", "Baker, Ruth", "Díaz, Rosa", "Evans, Bea", "Ortiz, Carla"]
    assert _build(qtbot, outreach) == everyone
    assert outreach.summary.text().startswith("5 patients with 5 open gaps, as of 2024-03-01.")
    assert "1 without a usable mailing address" in outreach.summary.text()
    assert _row(outreach, "Ortiz, Carla")["address_line"] == "⚠ No letter: no ZIP code"
    assert _row(outreach, "Díaz, Rosa")["language_name"] == "Spanish"

    assert _build(qtbot, outreach, language="es") == ["Díaz, Rosa"]
    assert "Left out: 4 letters not in es." in outreach.summary.text()
    assert _build(qtbot, outreach, language="en") == ["Adams, Olga", "Baker, Ruth", "Evans, Bea", "Ortiz, Carla"]
    assert _build(qtbot, outreach, provider=practice["ben"]) == ["Baker, Ruth"]
    assert _build(qtbot, outreach, age_min=60, age_max=70) == ["Díaz, Rosa"]
    assert _build(qtbot, outreach, no_upcoming=True) == ["Adams, Olga", "Baker, Ruth", "Díaz, Rosa", "Ortiz, Carla"]

    both = _build(qtbot, outreach, measures=(COLON, BREAST))
    assert set(everyone) <= set(both) and "Clark, Mia" in both  # Mia: colonoscopy done, mammogram not
    olga = _row(outreach, "Adams, Olga")
    assert set(olga["measures"]) == {COLON, BREAST} and olga["gap_count"] == 2


def test_printing_letters_logs_one_outreach_row_per_patient(qtbot, outreach, practice, fresh_registry, tmp_path):
    _build(qtbot, outreach)
    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    preview = outreach.preview
    reader = PdfReader(io.BytesIO(preview.pdf_bytes()))
    assert preview.page_count() == len(reader.pages) == 4  # one letter each; Carla has no ZIP code
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Olga Adams" in text and "Estimado(a) Rosa Díaz" in text and "Carla Ortiz" not in text
    assert [preview.left_out.item(i).text() for i in range(preview.left_out.count())] == [
        "Ortiz, Carla (CARLA): no ZIP code"]
    assert _log(fresh_registry) == []  # a preview alone is not outreach

    assert preview.print_to(_pdf_printer(tmp_path / "letters.pdf")) == 4
    logged = _log(fresh_registry)
    assert sorted(r[0] for r in logged) == sorted(practice[k] for k in ("olga", "rosa", "ruth", "bea"))
    assert {r[1:] for r in logged} == {("letter", COLON, None, "letters", "Front Desk", None)}
    assert outreach.last_logged == 4
    assert _row(outreach, "Adams, Olga")["last_outreach"] == "2024-03-01 letter"
    assert _row(outreach, "Ortiz, Carla")["last_outreach"] is None

    preview.print_to(_pdf_printer(tmp_path / "again.pdf"))  # a second copy is the same mailing
    preview.close()
    qtbot.mouseClick(outreach.labels_button, Qt.MouseButton.LeftButton)
    assert outreach.preview.page_count() == 1
    outreach.preview.save_to(tmp_path / "labels.pdf")
    outreach.preview.close()
    assert len(_log(fresh_registry)) == 4

    # The next list leaves them out: contacted in the last 30 days.
    assert _build(qtbot, outreach) == ["Ortiz, Carla"]
    assert "4 contacted in the last 30 days" in outreach.summary.text()


def test_one_letter_per_gap(qtbot, outreach, practice, fresh_registry, tmp_path):
    _build(qtbot, outreach, measures=(COLON, BREAST), language="en", provider=practice["ana"], age_max=56)
    assert outreach.patient_names() == ["Adams, Olga", "Evans, Bea", "Ortiz, Carla"]
    outreach.one_per_gap_box.setChecked(True)
    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    assert outreach.preview.page_count() == 4  # Olga and Bea get two single-topic letters each
    outreach.preview.save_to(tmp_path / "letters.pdf")
    logged = _log(fresh_registry)
    assert len(logged) == 4 and {r[2] for r in logged} == {COLON, BREAST}


def test_recording_a_call_outcome(qtbot, outreach, practice, fresh_registry):
    _build(qtbot, outreach)
    outreach.select_patient(practice["rosa"])
    assert outreach.record_label.text() == "Contact with Díaz, Rosa (ROSA): mobile (413) 555-0101"
    assert [outreach.about_box.itemData(i) for i in range(outreach.about_box.count())] == [COLON, None]
    outreach.method_box.setCurrentIndex(outreach.method_box.findData("call"))
    outreach.outcome_box.setCurrentIndex(outreach.outcome_box.findData("no-answer"))
    qtbot.keyClicks(outreach.note_edit, "try after 5")
    qtbot.mouseClick(outreach.record_button, Qt.MouseButton.LeftButton)

    assert _log(fresh_registry) == [(practice["rosa"], "call", COLON, "no-answer", None, "Front Desk", "try after 5")]
    assert outreach.note_edit.text() == ""
    assert _row(outreach, "Díaz, Rosa")["last_outreach"] == "2024-03-01 call (no answer)"
    assert outreach.selected_patient()["name"] == "Díaz, Rosa"  # the list stays as it was

    outreach.outcome_box.setCurrentIndex(outreach.outcome_box.findData("scheduled"))
    outreach.about_box.setCurrentIndex(outreach.about_box.findData(None))
    outreach.note_edit.setText("booked 3/12")
    qtbot.keyClick(outreach.note_edit, Qt.Key.Key_Return)  # Enter records
    assert _log(fresh_registry)[-1] == (practice["rosa"], "call", None, "scheduled", None, "Front Desk", "booked 3/12")


def test_portal_export_and_call_list_are_saved_where_chosen(qtbot, outreach, practice, fresh_registry, tmp_path,
                                                             monkeypatch):
    _build(qtbot, outreach)
    chosen = {}

    def save_file_name(parent, caption, suggested, filters):
        return str(tmp_path / chosen["name"]), filters

    monkeypatch.setattr(type(outreach), "save_file_name", staticmethod(save_file_name))
    chosen["name"] = "portal"
    outreach.portal_action.trigger()
    with (tmp_path / "portal.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["mrn"], r["email"]) for r in rows] == [("OLGA", "olga@example.org")]  # the only e-mail address
    assert "Elm Street Clinic" in rows[0]["message"]
    assert _log(fresh_registry) == [(practice["olga"], "portal", COLON, None, "portal-export", "Front Desk", None)]
    assert "4 patients left out: no e-mail address" in outreach.result_label.text()

    chosen["name"] = "calls.csv"
    outreach.call_csv_action.trigger()
    with (tmp_path / "calls.csv").open(encoding="utf-8-sig") as handle:
        calls = list(csv.DictReader(handle))
    assert [r["Name"] for r in calls] == ["Adams, Olga", "Díaz, Rosa", "Evans, Bea", "Ortiz, Carla"]  # Ruth: no phone
    assert len(_log(fresh_registry)) == 1  # a call list is not outreach; the calls are

    chosen["name"] = "calls.xlsx"
    outreach.call_xlsx_action.trigger()
    assert len(pd.read_excel(tmp_path / "calls.xlsx")) == 4

    outreach.call_pdf_action.trigger()
    assert outreach.preview.page_count() == 1
    assert "Baker, Ruth" in outreach.preview.left_out.item(0).text()
    outreach.preview.save_to(tmp_path / "calls.pdf")
    assert len(_log(fresh_registry)) == 1


def test_the_report_counts_contacts_per_method_and_measure(qtbot, outreach, practice, fresh_registry):
    _build(qtbot, outreach)
    outreach.select_patient(practice["olga"])
    outreach.outcome_box.setCurrentIndex(outreach.outcome_box.findData("reached"))
    outreach.record_contact()
    outreach.tabs.setCurrentIndex(1)
    table = outreach.report_table
    assert table.rowCount() == 1
    assert [table.item(0, c).text() for c in range(table.columnCount())] == [
        "Call", "Colorectal cancer screening", "1", "0", "0", "1", "-"]
    assert "1 pending" in outreach.report_summary.text()


def test_outreach_model_without_a_window(qtbot):
    from panelmanager.ui.models.outreach import OutreachTableModel

    frame = pd.DataFrame([
        {"patient_id": 1, "mrn": "A", "name": "Zhang, Li", "first_name": "Li", "last_name": "Zhang", "age": 70,
         "language_name": "English", "phone": "(413) 555-0101", "phones": "mobile (413) 555-0101",
         "gaps": "Colorectal screen (none on record)\nFlu shot (none on record)", "gap_count": 2,
         "address": "1 Elm St, Springfield, MA 01103", "address_problem": None, "last_outreach": None,
         "last_outreach_at": None, "next_appointment": dt.date(2024, 3, 8), "provider_name": "Ana Alvarez, MD"},
        {"patient_id": 2, "mrn": "B", "name": "Adams, Olga", "first_name": "Olga", "last_name": "Adams", "age": 54,
         "language_name": "Spanish", "phone": None, "phones": "", "gaps": "Colorectal screen (none on record)",
         "gap_count": 1, "address": "", "address_problem": "no street address", "last_outreach": None,
         "last_outreach_at": None, "next_appointment": None, "provider_name": None},
    ])
    model = OutreachTableModel()
    model.set_patients(frame)
    keys = [c.key for c in model.columns]
    assert model.rowCount() == 2 and model.ids() == [1, 2]  # the list's own order until sorted
    model.sort(keys.index("name"))
    assert model.ids() == [2, 1]
    model.sort(keys.index("age"), Qt.SortOrder.DescendingOrder)
    assert model.ids() == [1, 2]
    gaps = model.index(0, keys.index("gaps_line"))
    assert gaps.data() == "Colorectal screen (none on record); Flu shot (none on record)"
    assert gaps.data(Qt.ItemDataRole.ToolTipRole) == frame.loc[0, "gaps"]
    assert model.index(0, keys.index("next_appointment")).data() == "2024-03-08"
    address = model.index(1, keys.index("address_line"))
    assert address.data() == "⚠ No letter: no street address"
    assert address.data(Qt.ItemDataRole.ForegroundRole).color().name() == "#b00020"
    model.set_patients(frame.iloc[0:0])
    assert model.rowCount() == 0


def test_printing_letters_asks_with_the_count_and_a_mistake_is_withdrawn(qtbot, outreach, practice, fresh_registry,
                                                                         tmp_path, monkeypatch, questions):
    from PySide6.QtWidgets import QMessageBox

    from panelmanager.ui.print_preview import PrintPreviewDialog

    _build(qtbot, outreach)
    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name",
                        staticmethod(lambda *a: (str(tmp_path / "letters.pdf"), "")))
    questions.answer = QMessageBox.StandardButton.Cancel
    assert outreach.preview.save_pdf() is None and _log(fresh_registry) == []
    assert questions.asked == ["Record 4 letters to 4 patients as sent today (2024-03-01)?"]
    questions.answer = QMessageBox.StandardButton.Yes
    assert outreach.preview.save_pdf()
    assert len(_log(fresh_registry)) == 4 and outreach.withdraw_button.isVisibleTo(outreach)
    batch = outreach.last_batch
    assert f"(batch {batch})" in outreach.result_label.text()
    outreach.preview.close()

    qtbot.mouseClick(outreach.withdraw_button, Qt.MouseButton.LeftButton)
    assert "Withdraw the 4 outreach entries of batch" in questions.asked[-1]
    assert "no longer count" in outreach.result_label.text() and not outreach.withdraw_button.isVisibleTo(outreach)
    with fresh_registry.session() as session:
        rows = session.execute(select(m.OutreachLog.withdrawn_by).where(m.OutreachLog.batch == batch)).all()
    assert [r[0] for r in rows] == ["Front Desk"] * 4  # kept, marked withdrawn by the sender
    assert len(_build(qtbot, outreach)) == 5  # nobody counts as contacted any more


def test_a_huge_mailing_says_how_many_pages_first(qtbot, outreach, practice, monkeypatch, questions):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(type(outreach), "BIG_DOCUMENT", 2)
    _build(qtbot, outreach)
    outreach.preview = None
    questions.answer = QMessageBox.StandardButton.Cancel
    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    assert outreach.preview is None
    assert questions.asked == ["This makes 4 letters: at least 4 pages, 4 sheets of paper printed one-sided. "
                               "Building the preview takes a while. Go ahead?"]
    qtbot.mouseClick(outreach.labels_button, Qt.MouseButton.LeftButton)
    assert questions.asked[-1] == "This makes 4 labels on 1 pages (1 Avery 5160 sheets). Go ahead?"
    assert outreach.preview is None


def test_recording_a_call_and_withdrawing_a_mailing_run_as_jobs(qtbot, outreach, practice, fresh_registry, monkeypatch):
    # Issue 10: these single-row writes ran on the GUI thread; like every outreach write they are jobs now.
    from panelmanager.ui.screens import outreach as screen_module

    titles: list[str] = []
    real_run_job = screen_module.run_job

    def recording_run_job(parent, title, fn, **callbacks):
        titles.append(title)
        return real_run_job(parent, title, fn, **callbacks)

    monkeypatch.setattr(screen_module, "run_job", recording_run_job)
    _build(qtbot, outreach)
    outreach.select_patient(practice["olga"])
    outreach.outcome_box.setCurrentIndex(outreach.outcome_box.findData("reached"))
    outreach.note_edit.setText("called back")
    outreach.record_contact()
    assert "Recording the contact" in titles
    assert len(_log(fresh_registry)) == 1 and outreach.note_edit.text() == ""
    assert outreach.record_button.isEnabled()  # ready for the next call

    qtbot.mouseClick(outreach.letters_button, Qt.MouseButton.LeftButton)
    outreach.preview.delivered.emit("saved")
    assert outreach.last_batch is not None
    outreach.preview.close()
    qtbot.mouseClick(outreach.withdraw_button, Qt.MouseButton.LeftButton)
    assert "Withdrawing the mailing" in titles
    assert "no longer count" in outreach.result_label.text() and outreach.last_batch is None
