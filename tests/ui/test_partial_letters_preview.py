"""A big mailing is previewed in part (issue 10, no freezes at 100,000 patients): the preview shows the
first letters with a banner saying so; Enter never prints; Print and Save build all the letters (a job),
then print or save and log all of them, after the one question with the full count. The limits are
lowered here so a four-patient practice is a "big" mailing."""

from __future__ import annotations

import pytest
from outreach_practice import AS_OF, COLON, build_outreach_practice
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QDialog, QMessageBox
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core import outreach_run


@pytest.fixture
def screen(qtbot, fresh_registry, monkeypatch):
    from panelmanager.ui.main_window import MainWindow
    from panelmanager.ui.screens.outreach import OutreachScreen

    with fresh_registry.session() as session:
        build_outreach_practice(session)  # three patients with an address, one without
    monkeypatch.setattr(OutreachScreen, "PARTIAL_PREVIEW_ABOVE", 2)
    monkeypatch.setattr(OutreachScreen, "PREVIEW_LETTERS", 2)
    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    outreach = win.show_screen("outreach")
    outreach.set_measures([COLON])
    qtbot.mouseClick(outreach.build_button, Qt.MouseButton.LeftButton)
    assert outreach.mailing_count(False) == 3
    return outreach


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """How many contacts each ``run_outreach`` call wrote letters for."""
    seen: list[int] = []
    real = outreach_run.run_outreach

    def spy(session, *args, **kwargs):
        seen.append(len(kwargs["contacts"]) if kwargs.get("contacts") is not None else -1)
        return real(session, *args, **kwargs)

    monkeypatch.setattr(outreach_run, "run_outreach", spy)
    return seen


def _log(registry) -> list[int]:
    with registry.session() as session:
        return list(session.scalars(select(m.OutreachLog.patient_id).where(m.OutreachLog.withdrawn_at.is_(None))))


class _NeverPrints(QDialog):
    opened = 0

    def __init__(self, printer, parent=None):
        super().__init__(parent)
        type(self).opened += 1

    def exec(self):
        return QDialog.DialogCode.Rejected


def test_a_big_mailing_previews_its_first_letters_with_a_banner(qtbot, screen, fresh_registry, builds, questions,
                                                                monkeypatch):
    from panelmanager.ui.print_preview import PrintPreviewDialog

    monkeypatch.setattr(_NeverPrints, "opened", 0)
    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", _NeverPrints)
    qtbot.mouseClick(screen.letters_button, Qt.MouseButton.LeftButton)
    preview = screen.preview
    assert questions.asked == []  # nothing huge is built: no "this takes a while" question
    assert builds == [2] and preview.is_partial() and preview.page_count() == 2
    assert len(PdfReader(__import__("io").BytesIO(preview.pdf_bytes())).pages) == 2
    assert preview.partial_label.isVisibleTo(preview)
    assert preview.partial_label.text() == ("Preview of the first 2 of 3 letters. Print and Save as PDF produce "
                                            "all 3.")
    # The patients left out are those of the whole list, not only of the letters shown.
    assert [preview.left_out.item(i).text() for i in range(preview.left_out.count())] == [
        "Baker, Ruth (M3): no street address"]

    # Enter (in the page box, on the dialog) never prints, never builds the whole mailing.
    preview.page_spin.setFocus()
    qtbot.keyClick(preview.page_spin, Qt.Key.Key_Return)
    qtbot.keyClick(preview, Qt.Key.Key_Enter)
    assert _NeverPrints.opened == 0 and preview.isVisible() and builds == [2] and _log(fresh_registry) == []

    # The record question names the whole mailing; Cancel builds nothing.
    questions.answer = QMessageBox.StandardButton.Cancel
    assert preview.print_document() is False
    assert questions.asked[-1].endswith(f"Record 3 letters to 3 patients as sent today ({AS_OF.isoformat()})?")
    assert "at least 3 pages, 3 sheets of paper" in questions.asked[-1]
    assert builds == [2] and preview.is_partial() and _log(fresh_registry) == []


def test_print_builds_prints_and_logs_every_letter(qtbot, screen, fresh_registry, builds, questions, monkeypatch,
                                                   tmp_path):
    from panelmanager.ui.print_preview import PrintPreviewDialog

    printed = tmp_path / "all.pdf"

    class PrintToFile(QDialog):
        def __init__(self, printer, parent=None):
            super().__init__(parent)
            printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
            printer.setOutputFileName(str(printed))
            printer.setResolution(72)

        def exec(self):
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", PrintToFile)
    qtbot.mouseClick(screen.letters_button, Qt.MouseButton.LeftButton)
    preview = screen.preview
    qtbot.mouseClick(preview.print_button, Qt.MouseButton.LeftButton)
    assert len(questions.asked) == 1  # asked once, before the whole mailing is built
    assert builds == [2, 4]  # the preview's two letters, then the whole list (Ruth gets none)
    assert not preview.is_partial() and not preview.partial_label.isVisibleTo(preview)
    assert preview.page_count() == 3 and preview.printed_pages == 3
    assert len(PdfReader(printed).pages) == 3
    assert "3 letters" in preview.note_label.text()
    assert len(_log(fresh_registry)) == 3 and screen.last_logged == 3 and screen.last_batch

    # The whole document is now the preview: printing again builds nothing and logs nothing more.
    preview.print_document()
    assert builds == [2, 4] and len(_log(fresh_registry)) == 3 and len(questions.asked) == 1


def test_save_writes_every_letter_and_a_mistake_is_withdrawn(qtbot, screen, fresh_registry, builds, questions,
                                                             monkeypatch, tmp_path):
    from panelmanager.ui.print_preview import PrintPreviewDialog

    target = tmp_path / "letters.pdf"
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name", staticmethod(lambda *a: (str(target), "")))
    qtbot.mouseClick(screen.letters_button, Qt.MouseButton.LeftButton)
    preview = screen.preview
    preview.save_pdf()
    assert builds == [2, 4] and preview.saved_path == str(target)
    assert len(PdfReader(target).pages) == 3
    assert len(_log(fresh_registry)) == 3
    preview.close()

    qtbot.mouseClick(screen.withdraw_button, Qt.MouseButton.LeftButton)
    assert _log(fresh_registry) == []


def test_a_cancelled_full_build_keeps_the_partial_preview(qtbot, screen, fresh_registry, questions, monkeypatch,
                                                          tmp_path):
    from panelmanager.core.jobs import Cancelled
    from panelmanager.ui.print_preview import PrintPreviewDialog

    monkeypatch.setattr(PrintPreviewDialog, "save_file_name",
                        staticmethod(lambda *a: (str(tmp_path / "letters.pdf"), "")))
    qtbot.mouseClick(screen.letters_button, Qt.MouseButton.LeftButton)
    preview = screen.preview
    real = outreach_run.run_outreach

    def cancelled(session, *args, **kwargs):
        raise Cancelled("cancelled")

    monkeypatch.setattr(outreach_run, "run_outreach", cancelled)
    preview.save_pdf()
    assert preview.is_partial() and preview.page_count() == 2 and preview.save_button.isEnabled()
    assert not (tmp_path / "letters.pdf").exists() and _log(fresh_registry) == []
    assert preview.partial_label.text().startswith("Preview of the first 2 of 3 letters")
    monkeypatch.setattr(outreach_run, "run_outreach", real)
    preview.save_pdf()  # asked once already: builds and saves now
    assert len(PdfReader(tmp_path / "letters.pdf").pages) == 3 and len(_log(fresh_registry)) == 3
