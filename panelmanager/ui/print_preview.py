"""The PDF preview: every printed document (huddle sheets, letters, labels, call lists) opens
here first, then goes to Qt's print dialog or is saved as a PDF where the user chooses.

The PDF stays in memory: the bytes the core's reportlab builders wrote are loaded into
``QPdfDocument`` from a ``QBuffer``, so no temporary file ever holds patient data, and
they are dropped when the dialog closes. A big document (16,000 letters) never freezes the
window: it is loaded on a worker thread while the dialog is already shown ("Loading..."),
and one of more than ``MULTI_PAGE_MAX`` pages is shown one page at a time (laying out every
page of a continuous view reads every page's size first: 8 s for 16,000 pages). Printing renders each page with
``QPdfDocument.render`` onto the printer's full paper at up to 300 dpi, at 100% scale and
from the paper's corner (not its printable area), so the address block still falls in the
envelope window and labels land on the Avery grid. Saving writes the original bytes.

``delivered`` is emitted once a document was printed or saved, so a screen can log the
outreach a deliberate print made (a preview alone logs nothing). Printing is never the
default button: Enter (in the page box, say) never prints. A document that is logged as
outreach when delivered (``record_question``) asks once, with the count, before the first
print or save ("Record 540 letters as sent today?").

A big mailing is previewed in part, as mail-merge tools do: the screen builds the first letters
only (``partial_of`` says how many the whole document has, a banner says so) and hands a
``build_full`` callable. Print and Save then ask the record question with the full count, have
the whole document built by a job (progress and Cancel, off the GUI thread), swap it into the
preview and go on printing or saving all of it. Building 16,000 letters to look at the first
few would hold the window for its whole build (the builder's garbage collections run on the
GUI's interpreter lock too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QObject,
    QPointF,
    QRectF,
    QSize,
    QSizeF,
    QStandardPaths,
    Qt,
    QThread,
    Signal,
)
from PySide6.QtGui import QColor, QKeySequence, QPageLayout, QPageSize, QPainter, QPalette, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

__all__ = ["PrintPreviewDialog", "open_preview", "MAX_PRINT_DPI"]

MAX_PRINT_DPI = 300  # plenty for text on paper; 600 dpi pages would need 130 MB each
_ZOOMS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


class _Loaded(QObject):
    """Carries a document loaded on a worker thread back to the GUI thread (a queued signal)."""

    done = Signal(object)


def _load_pdf(data: bytes, gui: QThread) -> tuple[QPdfDocument, QBuffer, QByteArray]:
    """Load ``data`` into a new QPdfDocument (in memory) and hand it over to the ``gui`` thread."""
    array = QByteArray(data)
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    if QThread.currentThread() is not gui:
        buffer.moveToThread(gui)
        document.moveToThread(gui)
    return document, buffer, array


class PrintPreviewDialog(QDialog):
    """Shows a PDF held in memory, with page navigation, zoom, Print... and Save as PDF...."""

    delivered = Signal(str)  # "printed" or "saved"

    # Tests replace these with fakes so no real print or file dialog ever opens.
    print_dialog_factory: Callable[[QPrinter, QWidget], QDialog] = QPrintDialog
    save_file_name: Callable[..., tuple[str, str]] = staticmethod(QFileDialog.getSaveFileName)
    question: Callable[..., QMessageBox.StandardButton] = staticmethod(QMessageBox.question)
    # A PDF bigger than this is loaded on a worker thread (the dialog shows at once); tests lower it.
    BACKGROUND_BYTES = 1_000_000
    # More pages than this are shown one at a time (Page Up / Page Down), not as one long strip.
    MULTI_PAGE_MAX = 300

    def __init__(
        self,
        data: bytes,
        title: str,
        parent: QWidget | None = None,
        *,
        file_name: str = "document.pdf",
        note: str = "",
        left_out: Sequence[str] = (),
        left_out_title: str = "",
        record_question: str = "",
        partial_of: int = 0,
        partial_shown: int = 0,
        build_full: Callable[[Callable[..., None]], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("printPreview")
        self.setWindowTitle(title)
        self.setSizeGripEnabled(True)
        self._title = title
        self._file_name = file_name
        self._record_question = record_question
        self.record_confirmed = not record_question
        self._printer: QPrinter | None = None
        self.printed_pages = 0
        self.saved_path: str | None = None
        # A partial preview: the whole document has ``partial_of`` items and ``build_full(done)``
        # builds it (a job); ``done(data, note)`` hands it over, ``done(None)`` when it was not built.
        self._build_full = build_full if partial_of else None
        self.partial_of = partial_of if build_full is not None else 0
        self.partial_shown = partial_shown  # letters shown (a letter may take two pages); 0: count pages
        self._building_full = False
        self._after_full: Callable[[], object] | None = None

        self._bytes = QByteArray(data)
        self._closed = False
        self._loaded = _Loaded(self)
        self._loaded.done.connect(self._document_loaded)
        self._written = _Loaded(self)  # a big document written on a worker thread: (path, error or None)
        self._written.done.connect(self._document_written)
        self._loading = len(data) > type(self).BACKGROUND_BYTES
        if self._loading:
            self._buffer: QBuffer | None = None
            self._loader_bytes: QByteArray | None = None
            self.document = QPdfDocument(self)  # empty (no pages) until the worker has loaded it
        else:
            self.document, self._buffer, self._loader_bytes = _load_pdf(data, self.thread())
            self.document.setParent(self)
            self._buffer.setParent(self)

        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.print_button = QPushButton(self.tr("&Print..."))
        self.print_button.setToolTip(self.tr("Print (Ctrl+P)"))
        # Never a default button: Enter typed in the page box must not print 540 labels.
        self.print_button.setAutoDefault(False)
        self.save_button = QPushButton(self.tr("&Save as PDF..."))
        self.save_button.setToolTip(self.tr("Save as PDF (Ctrl+S)"))
        bar.addWidget(self.print_button)
        bar.addWidget(self.save_button)
        bar.addSpacing(18)

        self.previous_button = QPushButton(self.tr("◀"))
        self.previous_button.setToolTip(self.tr("Previous page (Page Up)"))
        self.previous_button.setAccessibleName(self.tr("Previous page"))
        self.next_button = QPushButton(self.tr("▶"))
        self.next_button.setToolTip(self.tr("Next page (Page Down)"))
        self.next_button.setAccessibleName(self.tr("Next page"))
        for button in (self.previous_button, self.next_button):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("▶") * 2 + 24)
        page_label = QLabel(self.tr("Pa&ge"))
        self.page_spin = QSpinBox()
        self.page_spin.setKeyboardTracking(False)
        page_label.setBuddy(self.page_spin)
        self.page_count_label = QLabel()
        bar.addWidget(self.previous_button)
        bar.addWidget(page_label)
        bar.addWidget(self.page_spin)
        bar.addWidget(self.page_count_label)
        bar.addWidget(self.next_button)
        bar.addSpacing(18)

        zoom_label = QLabel(self.tr("&Zoom"))
        self.zoom_out_button = QPushButton(self.tr("−"))
        self.zoom_out_button.setToolTip(self.tr("Zoom out (Ctrl+-)"))
        self.zoom_out_button.setAccessibleName(self.tr("Zoom out"))
        self.zoom_box = QComboBox()
        zoom_label.setBuddy(self.zoom_box)
        self.zoom_box.addItem(self.tr("Fit width"), "width")
        self.zoom_box.addItem(self.tr("Whole page"), "page")
        for factor in _ZOOMS:
            self.zoom_box.addItem(self.tr("{0}%").format(round(factor * 100)), factor)
        self.zoom_in_button = QPushButton(self.tr("+"))
        self.zoom_in_button.setToolTip(self.tr("Zoom in (Ctrl++)"))
        self.zoom_in_button.setAccessibleName(self.tr("Zoom in"))
        for button in (self.zoom_out_button, self.zoom_in_button):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("+") * 2 + 24)
        bar.addWidget(zoom_label)
        bar.addWidget(self.zoom_out_button)
        bar.addWidget(self.zoom_box)
        bar.addWidget(self.zoom_in_button)
        bar.addStretch(1)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.setAutoDefault(False)
        bar.addWidget(self.close_button)
        layout.addLayout(bar)

        self.note_label = QLabel(note)
        self.note_label.setObjectName("previewNote")
        self.note_label.setWordWrap(True)
        self.note_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_label.setVisible(bool(note))
        self.partial_label = QLabel()
        self.partial_label.setObjectName("partialPreview")
        self.partial_label.setWordWrap(True)
        self.partial_label.setStyleSheet("QLabel { background: #fff4ce; color: #3d3000; border: 1px solid #e0c75a;"
                                         " padding: 6px; font-weight: 600; }")
        self.partial_label.setVisible(bool(self.partial_of))
        layout.addWidget(self.partial_label)
        layout.addWidget(self.note_label)

        self.view = QPdfView(self)
        self.view.setObjectName("pdfView")
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setPageSpacing(12)
        palette = self.view.palette()
        palette.setColor(QPalette.ColorRole.Dark, QColor("#6b7580"))  # around the pages
        self.view.setPalette(palette)

        self.left_out = QListWidget()
        self.left_out.setObjectName("leftOut")
        self.left_out.setWordWrap(True)
        self.left_out.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.left_out.addItems(list(left_out))
        left_box = QWidget()
        left_layout = QVBoxLayout(left_box)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.left_out_label = QLabel(
            left_out_title or self.tr("Not in this document ({0})").format(len(left_out))
        )
        self.left_out_label.setWordWrap(True)
        self.left_out_label.setBuddy(self.left_out)
        left_layout.addWidget(self.left_out_label)
        left_layout.addWidget(self.left_out, 1)
        if left_out:
            splitter = QSplitter(Qt.Orientation.Horizontal)
            splitter.addWidget(self.view)
            splitter.addWidget(left_box)
            splitter.setStretchFactor(0, 4)
            splitter.setStretchFactor(1, 1)
            layout.addWidget(splitter, 1)
        else:
            left_box.hide()
            layout.addWidget(self.view, 1)

        self.print_button.clicked.connect(self.print_document)
        self.save_button.clicked.connect(self.save_pdf)
        self.close_button.clicked.connect(self.reject)
        self.previous_button.clicked.connect(lambda: self.go_to_page(self.current_page() - 1))
        self.next_button.clicked.connect(lambda: self.go_to_page(self.current_page() + 1))
        self.page_spin.valueChanged.connect(self.go_to_page)
        self.view.pageNavigator().currentPageChanged.connect(self._page_changed)
        self.zoom_box.activated.connect(self._zoom_chosen)
        self.zoom_in_button.clicked.connect(lambda: self.zoom_by(1))
        self.zoom_out_button.clicked.connect(lambda: self.zoom_by(-1))
        for keys, slot in (
            (QKeySequence.StandardKey.Print, self.print_document),
            (QKeySequence.StandardKey.Save, self.save_pdf),
            (QKeySequence(Qt.Key.Key_PageDown), lambda: self.go_to_page(self.current_page() + 1)),
            (QKeySequence(Qt.Key.Key_PageUp), lambda: self.go_to_page(self.current_page() - 1)),
            (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Home), lambda: self.go_to_page(1)),
            (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_End), lambda: self.go_to_page(self.page_count())),
            (QKeySequence.StandardKey.ZoomIn, lambda: self.zoom_by(1)),
            (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Equal), lambda: self.zoom_by(1)),
            (QKeySequence.StandardKey.ZoomOut, lambda: self.zoom_by(-1)),
            (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_0), self.fit_width),
        ):
            QShortcut(keys, self, activated=slot)

        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)

        self._note = note
        self._show_document()
        self.resize(self._initial_size())
        if self._loading:
            self._start_loading(data)

    # -- document
    def _start_loading(self, data: bytes) -> None:
        self.page_count_label.setText(self.tr("(loading...)"))
        self.note_label.setText(self.tr("Loading the document...") + ("  " + self._note if self._note else ""))
        self.note_label.setVisible(True)
        loaded, gui = self._loaded, self.thread()

        def work() -> None:
            document, buffer, array = _load_pdf(data, gui)
            try:
                loaded.done.emit((document, buffer, array))
            except RuntimeError:  # the dialog was closed and deleted meanwhile: drop the document
                document.close()
                buffer.close()

        threading.Thread(target=work, name="pdf-preview-load", daemon=True).start()

    def _document_loaded(self, payload) -> None:
        document, buffer, array = payload
        if self._closed:  # closed while loading: nothing of the document is kept
            document.close()
            buffer.close()
            array.clear()
            return
        placeholder = self.document
        document.setParent(self)
        buffer.setParent(self)
        self.document, self._buffer, self._loader_bytes = document, buffer, array
        self._loading = False
        self.note_label.setText(self._note)
        self.note_label.setVisible(bool(self._note))
        self._show_document()
        placeholder.deleteLater()
        self._continue_after_full()

    def _show_document(self) -> None:
        pages = self.page_count()
        if pages > self.MULTI_PAGE_MAX:
            self.view.setPageMode(QPdfView.PageMode.SinglePage)
            self.page_spin.setToolTip(self.tr("{0} pages are shown one at a time: Page Up / Page Down").format(pages))
        self.view.setDocument(self.document)
        self.page_spin.setRange(1, max(pages, 1))
        self.page_count_label.setText(self.tr("of {0}").format(pages))
        self.print_button.setEnabled(pages > 0 and not self._building_full)
        self.save_button.setEnabled(pages > 0 and not self._building_full)
        if self.partial_of:
            self.partial_label.setText(self._partial_text())
        self.fit_width()
        self._update_navigation()

    def _partial_text(self) -> str:
        shown, total = self.partial_shown or self.page_count(), f"{self.partial_of:,}"
        return self.tr("Preview of the first {0} of {1} letters. Print and Save as PDF produce all {1}.").format(
            f"{shown:,}", total) if shown else self.tr("Preview of the first letters of {0}.").format(total)

    def is_partial(self) -> bool:
        """True while this shows only the first part of a bigger document (``partial_of``)."""
        return bool(self.partial_of)

    def _full_document(self, then: Callable[[], object]) -> None:
        """Have the whole document built (a job of the screen), shown here, then call ``then``."""
        if self._building_full:
            return
        self._building_full = True
        self._after_full = then
        self.print_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.partial_label.setText(self.tr("Building all {0} letters...").format(f"{self.partial_of:,}"))
        assert self._build_full is not None
        self._build_full(self._full_built)

    def _full_built(self, data: bytes | None, note: str = "") -> None:
        """The whole document (or None: cancelled or failed, the partial preview stays)."""
        if self._closed:
            return
        self._building_full = False
        if data is None:
            self._after_full = None
            self.partial_label.setText(self._partial_text())
            self.print_button.setEnabled(self.page_count() > 0)
            self.save_button.setEnabled(self.page_count() > 0)
            return
        self.partial_of = 0
        self._build_full = None
        self.partial_label.hide()
        if note:
            self._note = note
        self._bytes = QByteArray(data)
        if len(data) > type(self).BACKGROUND_BYTES:
            self._loading = True
            placeholder = self.document
            self.document = QPdfDocument(self)
            self.view.setDocument(self.document)
            placeholder.deleteLater()
            self._start_loading(data)
        else:
            old = (self.document, self._buffer)
            self.document, self._buffer, self._loader_bytes = _load_pdf(data, self.thread())
            self.document.setParent(self)
            self._buffer.setParent(self)
            self.note_label.setText(self._note)
            self.note_label.setVisible(bool(self._note))
            self._show_document()
            for previous in old:
                if previous is not None:
                    previous.deleteLater()
            self._continue_after_full()

    def _continue_after_full(self) -> None:
        then, self._after_full = self._after_full, None
        if then is not None:
            then()

    def is_loading(self) -> bool:
        """True while a big document is still being loaded (nothing to print or save yet)."""
        return self._loading

    def page_count(self) -> int:
        return 0 if self._loading else self.document.pageCount()

    def pdf_bytes(self) -> bytes:
        return bytes(self._bytes.data())

    def is_landscape(self, page: int = 0) -> bool:
        size = self.document.pagePointSize(page)
        return size.width() > size.height()

    def _initial_size(self) -> QSize:
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = (1180, 900) if self.page_count() and self.is_landscape() else (960, 980)
        if screen is not None:
            width = min(width, int(screen.width() * 0.9))
            height = min(height, int(screen.height() * 0.9))
        return QSize(width, height)

    # -- navigation and zoom
    def current_page(self) -> int:
        """1-based."""
        return self.view.pageNavigator().currentPage() + 1

    def go_to_page(self, page: int, *, force: bool = False) -> None:
        pages = self.page_count()
        if not pages:
            return
        page = max(1, min(int(page), pages))
        navigator = self.view.pageNavigator()
        if force or navigator.currentPage() != page - 1:
            navigator.jump(page - 1, QPointF(), navigator.currentZoom())
        self._page_changed(page - 1)

    def _page_changed(self, index: int) -> None:
        self.page_spin.blockSignals(True)
        self.page_spin.setValue(index + 1)
        self.page_spin.blockSignals(False)
        self._update_navigation()

    def _update_navigation(self) -> None:
        page, pages = self.current_page(), self.page_count()
        self.previous_button.setEnabled(page > 1)
        self.next_button.setEnabled(page < pages)

    def _keep_page(self, change: Callable[[], None]) -> None:
        """Zoom without losing the page the user is looking at."""
        page = self.current_page()
        change()
        if self.page_count():
            self.go_to_page(page, force=True)

    def fit_width(self) -> None:
        self._keep_page(lambda: self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth))
        self.zoom_box.setCurrentIndex(0)

    def fit_page(self) -> None:
        self._keep_page(lambda: self.view.setZoomMode(QPdfView.ZoomMode.FitInView))
        self.zoom_box.setCurrentIndex(1)

    def set_zoom(self, factor: float) -> None:
        def change() -> None:
            self.view.setZoomMode(QPdfView.ZoomMode.Custom)
            self.view.setZoomFactor(factor)

        self._keep_page(change)
        index = self.zoom_box.findData(factor)
        if index < 0:
            self.zoom_box.addItem(self.tr("{0}%").format(round(factor * 100)), factor)
            index = self.zoom_box.count() - 1
        self.zoom_box.setCurrentIndex(index)

    def zoom_factor(self) -> float:
        return self.view.zoomFactor()

    def zoom_by(self, steps: int) -> None:
        current = self.view.zoomFactor() if self.view.zoomMode() == QPdfView.ZoomMode.Custom else 1.0
        if steps > 0:
            bigger = [z for z in _ZOOMS if z > current + 1e-6]
            self.set_zoom(bigger[0] if bigger else _ZOOMS[-1])
        else:
            smaller = [z for z in _ZOOMS if z < current - 1e-6]
            self.set_zoom(smaller[-1] if smaller else _ZOOMS[0])

    def _zoom_chosen(self, index: int) -> None:
        value = self.zoom_box.itemData(index)
        if value == "width":
            self.fit_width()
        elif value == "page":
            self.fit_page()
        else:
            self.set_zoom(float(value))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        """Enter and Return never trigger a button here (QDialog would press a default one)."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def _confirm_record(self) -> bool:
        """Ask once, before the first print or save of a document that is logged as outreach."""
        if self.record_confirmed:
            return True
        answer = type(self).question(
            self, self._title, self._record_question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        )
        self.record_confirmed = answer == QMessageBox.StandardButton.Yes
        return self.record_confirmed

    # -- printing
    def _prepare_printer(self, printer: QPrinter) -> None:
        """Paper and orientation from the document's first page (Letter portrait or landscape)."""
        if not self.page_count():
            return
        size = self.document.pagePointSize(0)
        portrait = QPageSize(QSizeF(min(size.width(), size.height()), max(size.width(), size.height())),
                             QPageSize.Unit.Point, "", QPageSize.SizeMatchPolicy.FuzzyMatch)
        printer.setPageSize(portrait)
        printer.setPageOrientation(
            QPageLayout.Orientation.Landscape if self.is_landscape() else QPageLayout.Orientation.Portrait
        )
        printer.setDocName(self._title)
        printer.setFullPage(True)

    def print_document(self) -> bool:
        """Show the print dialog and print the chosen pages; True when something was printed."""
        if not self.page_count() or not self._confirm_record():
            return False
        if self.partial_of:  # print all of it, never just the preview's first letters
            self._full_document(self.print_document)
            return False
        if self._printer is None:
            self._printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            self._prepare_printer(self._printer)
        printer = self._printer
        dialog = self.print_dialog_factory(printer, self)
        dialog.setWindowTitle(self.tr("Print {0}").format(self._title))
        if isinstance(dialog, QAbstractPrintDialog):
            dialog.setMinMax(1, self.page_count())
            dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, True)
            dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintCurrentPage, True)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        first, last = 1, self.page_count()
        if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
            first, last = printer.fromPage(), min(printer.toPage() or last, last)
        elif printer.printRange() == QPrinter.PrintRange.CurrentPage:
            first = last = self.current_page()
        return self.print_to(printer, first, last) > 0

    def print_to(self, printer: QPrinter, first: int = 1, last: int | None = None) -> int:
        """Render pages ``first``-``last`` (1-based) onto ``printer``; returns the pages printed."""
        pages = self.page_count()
        last = pages if last is None else min(last, pages)
        first = max(1, first)
        if first > last:
            return 0
        printer.setFullPage(True)
        copies = 1 if printer.supportsMultipleCopies() else max(1, printer.copyCount())
        order = [p for _copy in range(copies) for p in range(first - 1, last)]
        painter = QPainter()
        if not painter.begin(printer):
            QMessageBox.warning(self, self._title, self.tr("The printer could not be started. Nothing was printed."))
            return 0
        progress = QProgressDialog(self.tr("Printing..."), self.tr("Cancel"), 0, len(order), self)
        progress.setWindowTitle(self.tr("Print {0}").format(self._title))
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(500)
        printed = 0
        cancelled = False
        try:
            dpi = min(printer.resolution(), MAX_PRINT_DPI)
            for n, index in enumerate(order):
                if progress.wasCanceled():
                    cancelled = True
                    printer.abort()
                    break
                if n:
                    printer.newPage()
                paper = printer.paperRect(QPrinter.Unit.DevicePixel)
                size = self.document.pagePointSize(index)
                image = self.document.render(
                    index, QSize(max(1, round(size.width() / 72 * dpi)), max(1, round(size.height() / 72 * dpi)))
                )
                # Same physical size as the PDF page, from the paper's top-left corner (no fit-to-margins).
                scale = printer.resolution() / 72
                target = QRectF(paper.left(), paper.top(), size.width() * scale, size.height() * scale)
                if target.width() > paper.width() * 1.02 or target.height() > paper.height() * 1.02:
                    # Smaller paper than the document: shrink to fit rather than cut a page.
                    shrink = min(paper.width() / target.width(), paper.height() / target.height())
                    target.setSize(target.size() * shrink)
                painter.drawImage(target, image)
                printed += 1
                progress.setValue(n + 1)
                QApplication.processEvents()
        finally:
            painter.end()
            progress.canceled.disconnect()
            progress.hide()
            progress.deleteLater()
        if cancelled:
            return 0
        self.printed_pages += printed
        if printed:
            self.delivered.emit("printed")
        return printed

    # -- saving
    def save_pdf(self) -> str | None:
        """Ask where to save the PDF and write it there; the path, or None when cancelled."""
        if not self.page_count() or not self._confirm_record():
            return None
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        suggested = str(Path(folder) / self._file_name) if folder else self._file_name
        path, _filter = type(self).save_file_name(self, self.tr("Save as PDF"), suggested, self.tr("PDF files (*.pdf)"))
        if not path:
            return None
        if not path.lower().endswith(".pdf"):
            path += ".pdf"
        if self.partial_of:  # save all of it: built first, then written where the user chose
            self._full_document(lambda: self._save_chosen(path))
            return None
        return self._save_chosen(path)

    # Above this size the file is written on a worker thread: writing a 16,000-letter mailing
    # (about 100 MB) blocked the window for a quarter of a second (issue 10).
    BACKGROUND_WRITE_BYTES = 8 * 1024 * 1024

    def _save_chosen(self, path: str) -> str | None:
        data = self.pdf_bytes()
        if len(data) > self.BACKGROUND_WRITE_BYTES:
            written = self._written
            self.note_label.setText(self.tr("Saving {0}...").format(path))
            self.note_label.setVisible(True)

            def work() -> None:
                error: str | None = None
                try:
                    Path(path).write_bytes(data)
                except OSError as exc:
                    error = str(exc.strerror or exc)
                try:
                    written.done.emit((path, error))
                except RuntimeError:  # the dialog is gone; the file is written (or not) all the same
                    pass

            threading.Thread(target=work, name="pdf-save", daemon=True).start()
            return path
        try:
            self.save_to(path, data)
        except OSError as exc:
            self._save_failed(path, str(exc.strerror or exc))
            return None
        return path

    def _document_written(self, payload) -> None:
        path, error = payload
        self.note_label.setText(self._note)
        self.note_label.setVisible(bool(self._note))
        if error is not None:
            self._save_failed(path, error)
            return
        self.saved_path = str(path)
        self.delivered.emit("saved")

    def _save_failed(self, path: str, error: str) -> None:
        QMessageBox.warning(self, self._title, self.tr("Could not save {0}: {1}").format(path, error))

    def save_to(self, path: str | Path, data: bytes | None = None) -> None:
        Path(path).write_bytes(self.pdf_bytes() if data is None else data)
        self.saved_path = str(path)
        self.delivered.emit("saved")

    # -- closing: drop the patient data
    def done(self, result: int) -> None:
        self._closed = True
        self.document.close()
        if self._buffer is not None:
            self._buffer.close()
        if self._loader_bytes is not None:
            self._loader_bytes.clear()
        self._bytes.clear()
        super().done(result)


def open_preview(parent: QWidget | None, data: bytes, title: str, **options) -> PrintPreviewDialog:
    """Open a non-blocking preview of ``data`` (PDF bytes); it deletes itself when closed."""
    dialog = PrintPreviewDialog(data, title, parent, **options)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.show()
    return dialog
