"""The PDF preview: pages and zoom, printing onto a (PDF-output) QPrinter, saving, and no PHI left behind."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QDialog, QMessageBox
from reportlab.lib.pagesizes import landscape, letter
from reportlab.pdfgen import canvas

from panelmanager.ui.print_preview import PrintPreviewDialog


def _pdf(pages: int, *, wide: bool = False) -> bytes:
    buffer = io.BytesIO()
    size = landscape(letter) if wide else letter
    c = canvas.Canvas(buffer, pagesize=size)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 24)
        c.drawString(72, size[1] - 108, f"Test page {n}")
        c.rect(36, 36, 72, 72, fill=1)  # something dark in a known corner
        c.showPage()
    c.save()
    return buffer.getvalue()


@pytest.fixture
def preview(qtbot):
    def make(pages=3, **options):
        dialog = PrintPreviewDialog(_pdf(pages, wide=options.pop("wide", False)), "Test document", **options)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    return make


def _shortcut(dialog, keys: QKeySequence) -> QShortcut:
    """The dialog's shortcut for ``keys`` (offscreen test windows are not always active, so keys are not sent)."""
    return next(s for s in dialog.findChildren(QShortcut) if s.key() == keys)


def _pdf_printer(path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    printer.setResolution(150)
    return printer


def test_pages_navigation_and_zoom(qtbot, preview):
    dialog = preview(3)
    assert dialog.page_count() == 3
    assert dialog.page_count_label.text() == "of 3"
    assert dialog.current_page() == 1 and not dialog.previous_button.isEnabled()

    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.current_page() == 2 and dialog.page_spin.value() == 2
    _shortcut(dialog, QKeySequence(Qt.Key.Key_PageDown)).activated.emit()
    assert dialog.current_page() == 3 and not dialog.next_button.isEnabled()
    _shortcut(dialog, QKeySequence(Qt.Key.Key_PageUp)).activated.emit()
    assert dialog.current_page() == 2
    dialog.page_spin.setValue(1)
    assert dialog.current_page() == 1

    dialog.set_zoom(1.0)
    qtbot.mouseClick(dialog.zoom_in_button, Qt.MouseButton.LeftButton)
    assert dialog.zoom_factor() == pytest.approx(1.25)
    qtbot.mouseClick(dialog.zoom_out_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.zoom_out_button, Qt.MouseButton.LeftButton)
    assert dialog.zoom_factor() == pytest.approx(0.75)
    assert dialog.zoom_box.currentText() == "75%"
    dialog.fit_width()
    assert dialog.zoom_box.currentData() == "width"


def test_printing_renders_every_page_at_full_size(qtbot, preview, tmp_path):
    dialog = preview(3, wide=True)
    out = tmp_path / "printed.pdf"
    printer = _pdf_printer(out)
    dialog._prepare_printer(printer)
    with qtbot.waitSignal(dialog.delivered) as delivered:
        assert dialog.print_to(printer) == 3
    assert delivered.args == ["printed"]
    pages = PdfReader(out).pages
    assert len(pages) == 3
    box = pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)  # landscape Letter, as the document


def test_the_print_dialog_decides_the_pages(qtbot, preview, tmp_path, monkeypatch):
    dialog = preview(4)
    seen = {}

    class AcceptPagesTwoToThree(QDialog):
        def __init__(self, printer, parent=None):
            super().__init__(parent)
            seen["printer"] = printer
            printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
            printer.setOutputFileName(str(tmp_path / "range.pdf"))
            printer.setResolution(100)
            printer.setPrintRange(QPrinter.PrintRange.PageRange)
            printer.setFromTo(2, 3)

        def exec(self):
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", AcceptPagesTwoToThree)
    assert dialog.print_document() is True
    assert len(PdfReader(tmp_path / "range.pdf").pages) == 2
    assert dialog.printed_pages == 2
    assert seen["printer"].fullPage()  # positions on the paper, not inside the printable margins


def test_a_cancelled_print_dialog_prints_nothing(qtbot, preview, monkeypatch):
    dialog = preview(2)

    class Cancel(QDialog):
        def __init__(self, printer, parent=None):
            super().__init__(parent)

        def exec(self):
            return QDialog.DialogCode.Rejected

    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", Cancel)
    delivered = []
    dialog.delivered.connect(delivered.append)
    assert dialog.print_document() is False
    assert delivered == [] and dialog.printed_pages == 0


def test_save_as_pdf_writes_the_original_bytes_where_the_user_chose(qtbot, preview, tmp_path, monkeypatch):
    dialog = preview(2)
    target = tmp_path / "chosen"  # no extension: .pdf is added
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name", staticmethod(lambda *a, **k: (str(target), "")))
    with qtbot.waitSignal(dialog.delivered) as delivered:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert delivered.args == ["saved"]
    saved = tmp_path / "chosen.pdf"
    assert saved.read_bytes() == dialog.pdf_bytes()
    assert "Test page 2" in PdfReader(saved).pages[1].extract_text()


def test_cancelling_the_save_dialog_writes_nothing(qtbot, preview, tmp_path, monkeypatch):
    dialog = preview(1)
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name", staticmethod(lambda *a, **k: ("", "")))
    assert dialog.save_pdf() is None
    assert list(tmp_path.iterdir()) == []


def test_the_pdf_is_held_in_memory_and_dropped_on_close(qtbot, preview, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dialog = preview(2, left_out=["Lee, Ann (M3): no ZIP code"], left_out_title="No letter (1)")
    assert dialog.document.status().name == "Ready"
    assert dialog.left_out.count() == 1 and dialog.left_out.item(0).text() == "Lee, Ann (M3): no ZIP code"
    assert list(tmp_path.iterdir()) == []  # nothing written next to the app
    dialog.close()
    assert dialog.pdf_bytes() == b""


def test_an_empty_document_cannot_be_printed(qtbot):
    dialog = PrintPreviewDialog(b"not a pdf", "Broken")
    qtbot.addWidget(dialog)
    assert dialog.page_count() == 0
    assert not dialog.print_button.isEnabled() and not dialog.save_button.isEnabled()
    assert dialog.print_document() is False


class _CountingPrintDialog(QDialog):
    opened = 0

    def __init__(self, printer, parent=None):
        super().__init__(parent)
        type(self).opened += 1

    def exec(self):
        return QDialog.DialogCode.Rejected


def test_enter_in_the_page_box_goes_to_the_page_and_never_prints(qtbot, preview, monkeypatch):
    monkeypatch.setattr(_CountingPrintDialog, "opened", 0)
    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", _CountingPrintDialog)
    dialog = preview(5, record_question="Record 5 letters as sent today?")
    assert not any(b.isDefault() or b.autoDefault() for b in dialog.findChildren(type(dialog.print_button)))
    dialog.page_spin.setFocus()
    dialog.page_spin.lineEdit().selectAll()
    qtbot.keyClicks(dialog.page_spin, "3")
    qtbot.keyClick(dialog.page_spin, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.page_spin, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.page_spin, Qt.Key.Key_Enter)
    assert dialog.current_page() == 3
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert _CountingPrintDialog.opened == 0 and dialog.isVisible() and dialog.printed_pages == 0


def test_a_document_logged_as_outreach_asks_once_with_the_count(qtbot, preview, monkeypatch, questions, tmp_path):
    monkeypatch.setattr(_CountingPrintDialog, "opened", 0)
    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", _CountingPrintDialog)
    dialog = preview(2, record_question="Record 540 letters as sent today?")
    questions.answer = QMessageBox.StandardButton.Cancel
    assert dialog.print_document() is False
    assert questions.asked == ["Record 540 letters as sent today?"] and _CountingPrintDialog.opened == 0
    assert dialog.save_pdf() is None and len(questions.asked) == 2  # still not confirmed: asks again

    questions.answer = QMessageBox.StandardButton.Yes
    dialog.print_document()
    assert _CountingPrintDialog.opened == 1 and len(questions.asked) == 3
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name",
                        staticmethod(lambda *a: (str(tmp_path / "x.pdf"), "")))
    assert dialog.save_pdf() and len(questions.asked) == 3  # asked once


def test_a_document_not_logged_asks_nothing(qtbot, preview, monkeypatch, questions):
    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", _CountingPrintDialog)
    preview(2).print_document()
    assert questions.asked == []


def test_540_labels_preview_as_18_pages(qtbot):
    import datetime as dt

    from panelmanager.core.people import Contact
    from panelmanager.core.reports.labels import build_labels

    contacts = [Contact(patient_id=i, mrn=f"M{i}", first_name="Pat", last_name=f"Lee{i}", dob=dt.date(1970, 1, 1),
                        address1=f"{i} Main St", city="Springfield", state="MA", postal_code="01103")
                for i in range(1, 541)]
    buffer = io.BytesIO()
    result = build_labels(contacts, buffer, on=dt.date(2024, 3, 4))
    dialog = PrintPreviewDialog(buffer.getvalue(), "Mailing labels")
    qtbot.addWidget(dialog)
    assert result.pages == dialog.page_count() == 18


def test_a_big_document_loads_while_the_dialog_is_already_shown_and_responsive(qtbot, monkeypatch):
    # Issue 10: 16,000 letters froze the window while the preview loaded them.
    import threading

    from panelmanager.ui import print_preview

    release = threading.Event()
    original = print_preview._load_pdf

    def slow_load(data, gui):
        assert threading.current_thread() is not threading.main_thread()  # never on the GUI thread
        release.wait(20)
        return original(data, gui)

    monkeypatch.setattr(print_preview, "_load_pdf", slow_load)
    monkeypatch.setattr(PrintPreviewDialog, "BACKGROUND_BYTES", 0)
    monkeypatch.setattr(PrintPreviewDialog, "MULTI_PAGE_MAX", 4)
    monkeypatch.setattr(_CountingPrintDialog, "opened", 0)
    monkeypatch.setattr(PrintPreviewDialog, "print_dialog_factory", _CountingPrintDialog)
    dialog = PrintPreviewDialog(_pdf(6), "Letters", note="6 letters", record_question="Record 6 letters?")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    # Shown and answering before the document is there; nothing to print or save yet.
    assert dialog.isVisible() and dialog.is_loading() and dialog.page_count() == 0
    assert "Loading" in dialog.note_label.text() and "loading" in dialog.page_count_label.text()
    assert not dialog.print_button.isEnabled() and dialog.print_document() is False
    dialog.zoom_by(1)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert _CountingPrintDialog.opened == 0 and dialog.printed_pages == 0

    release.set()
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=20000)
    assert dialog.page_count() == 6 and dialog.page_count_label.text() == "of 6"
    assert dialog.print_button.isEnabled() and dialog.note_label.text() == "6 letters"
    # More pages than MULTI_PAGE_MAX: one page at a time, Page Down moves on.
    assert dialog.view.pageMode() == dialog.view.PageMode.SinglePage
    dialog.go_to_page(5)
    assert dialog.current_page() == 5
    assert dialog.pdf_bytes()[:5] == b"%PDF-"
    dialog.close()
    assert dialog.pdf_bytes() == b""


def test_a_preview_closed_while_loading_keeps_nothing(qtbot, monkeypatch):
    import threading

    from panelmanager.ui import print_preview

    release = threading.Event()
    original = print_preview._load_pdf
    monkeypatch.setattr(print_preview, "_load_pdf", lambda data, gui: (release.wait(20), original(data, gui))[1])
    monkeypatch.setattr(PrintPreviewDialog, "BACKGROUND_BYTES", 0)
    dialog = PrintPreviewDialog(_pdf(2), "Letters")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.close()
    release.set()
    qtbot.wait(300)
    assert dialog.page_count() == 0 and dialog.pdf_bytes() == b""


def test_a_big_document_is_written_off_the_gui_thread_and_reported_saved_when_written(qtbot, preview, tmp_path,
                                                                                      monkeypatch):
    # A 16,000-letter mailing is about 100 MB: its write blocked the window (issue 10). Above the
    # limit the file is written on a worker thread, and "saved" (which logs a mailing) comes only
    # once the file is complete.
    dialog = preview(3)
    target = tmp_path / "big.pdf"
    monkeypatch.setattr(PrintPreviewDialog, "BACKGROUND_WRITE_BYTES", 0)
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name", staticmethod(lambda *a, **k: (str(target), "")))
    delivered: list[str] = []
    dialog.delivered.connect(delivered.append)
    dialog.save_pdf()
    qtbot.waitUntil(lambda: delivered == ["saved"], timeout=5000)
    assert dialog.saved_path == str(target)
    assert target.read_bytes() == dialog.pdf_bytes()
    assert len(PdfReader(str(target)).pages) == 3


def test_a_big_document_that_cannot_be_written_says_so_and_is_not_reported_saved(qtbot, preview, tmp_path,
                                                                                monkeypatch):
    dialog = preview(2)
    monkeypatch.setattr(PrintPreviewDialog, "BACKGROUND_WRITE_BYTES", 0)
    monkeypatch.setattr(PrintPreviewDialog, "save_file_name",
                        staticmethod(lambda *a, **k: (str(tmp_path / "no such folder" / "x.pdf"), "")))
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: warnings.append(text))
    delivered: list[str] = []
    dialog.delivered.connect(delivered.append)
    dialog.save_pdf()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "Could not save" in warnings[0] and delivered == []
    assert dialog.saved_path is None


def test_a_partial_preview_counts_the_letters_it_shows_not_its_pages(qtbot, preview):
    # 2 letters shown on 3 pages (a long letter runs onto a second page): the banner says 2 letters.
    dialog = preview(3, partial_of=16_045, partial_shown=2, build_full=lambda done: None)
    assert dialog.page_count() == 3
    assert dialog.partial_label.text() == ("Preview of the first 2 of 16,045 letters. Print and Save as PDF "
                                           "produce all 16,045.")
