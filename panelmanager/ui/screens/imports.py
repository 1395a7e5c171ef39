"""Import: choose PM export files or a Synthea folder, pick or detect the profile, see the
column mapping and a dry-run preview, run the import with a cancellable progress dialog, then
look at the rejected rows with their reasons and at the import history."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.importers import ImportOutcome, run_import
from panelmanager.core.importers.history import (
    batch_rejections,
    export_rejections,
    latest_batch_with_rejections,
    list_batches,
)
from panelmanager.core.resources import resource_path
from panelmanager.ui.context import IMPORT, SETTINGS
from panelmanager.ui.jobs import run_job
from panelmanager.ui.screens.base import Screen, heading, table_item
from panelmanager.ui.widgets.tables import set_up_table


def _fill(table: QTableWidget, headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> None:
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.setItem(r, c, table_item(value, c in numeric))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)


def _table() -> QTableWidget:
    return set_up_table(QTableWidget())


class ImportScreen(Screen):
    SHOWS = frozenset({IMPORT, SETTINGS})  # the import history
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.outcomes: list[ImportOutcome] = []
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Import")))
        intro = QLabel(
            self.tr(
                "Import your PM system's patient and appointment exports (CSV or Excel) or a Synthea CSV folder. "
                "Each file is imported completely or not at all; importing the same file again changes nothing."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        chooser = QHBoxLayout()
        self.files = QListWidget()
        self.files.setMaximumHeight(110)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        chooser.addWidget(self.files, 1)
        side = QVBoxLayout()
        self.add_files_button = QPushButton(self.tr("Add &files..."))
        self.add_folder_button = QPushButton(self.tr("Add a Synthea &folder..."))
        self.remove_button = QPushButton(self.tr("&Remove"))
        for button in (self.add_files_button, self.add_folder_button, self.remove_button):
            side.addWidget(button)
        side.addStretch(1)
        chooser.addLayout(side)
        layout.addLayout(chooser)

        options = QHBoxLayout()
        options.addWidget(QLabel(self.tr("&Profile:")))
        self.profile = QComboBox()
        self.profile.addItem(self.tr("Detect automatically"), None)
        for name in self._profile_names():
            self.profile.addItem(name, name)
        options.itemAt(0).widget().setBuddy(self.profile)
        options.addWidget(self.profile)
        encoding_label = QLabel(self.tr("&Encoding:"))
        options.addWidget(encoding_label)
        self.encoding = QComboBox()
        self.encoding.setToolTip(
            self.tr("How the letters of a CSV export are stored. Detect reads UTF-8 files as UTF-8 and others in the "
                    "profile's code page (Windows-1252 for US systems). Check the sample names in the preview.")
        )
        for text, codec in ((self.tr("Detect"), None), ("UTF-8", "utf-8"), ("Windows-1252", "cp1252"),
                            ("Latin-1 (ISO-8859-1)", "latin-1"), ("Mac Roman", "mac-roman"), ("DOS Latin (850)", "cp850")):
            self.encoding.addItem(text, codec)
        encoding_label.setBuddy(self.encoding)
        options.addWidget(self.encoding)
        options.addStretch(1)
        self.preview_button = QPushButton(self.tr("Pre&view (dry run)"))
        self.import_button = QPushButton(self.tr("&Import"))
        self.import_button.setDefault(True)
        options.addWidget(self.preview_button)
        options.addWidget(self.import_button)
        layout.addLayout(options)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setObjectName("importSummary")
        layout.addWidget(self.summary)

        self.tabs = QTabWidget()
        self.mapping_table = _table()
        self.results_table = _table()
        self.rejects_table = _table()
        history = QSplitter(Qt.Orientation.Vertical)
        self.history_table = _table()
        self.history_rejects = _table()
        history.addWidget(self.history_table)
        history_rejects_box = QWidget()
        history_rejects_layout = QVBoxLayout(history_rejects_box)
        history_rejects_layout.setContentsMargins(0, 0, 0, 0)
        history_rejects_layout.addWidget(self.history_rejects)
        self.save_rejects_button = QPushButton(self.tr("&Save rejected rows..."))
        self.save_rejects_button.setToolTip(
            self.tr("Write the selected import's rejected rows to a CSV file you choose (it holds patient data)")
        )
        save_row = QHBoxLayout()
        save_row.addStretch(1)
        save_row.addWidget(self.save_rejects_button)
        history_rejects_layout.addLayout(save_row)
        history.addWidget(history_rejects_box)
        self.tabs.addTab(self.mapping_table, self.tr("Column mapping"))
        self.tabs.addTab(self.results_table, self.tr("Results"))
        self.tabs.addTab(self.rejects_table, self.tr("Rejected rows"))
        self.tabs.addTab(history, self.tr("Import history"))
        layout.addWidget(self.tabs, 1)

        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self._remove_selected)
        self.preview_button.clicked.connect(lambda: self.start(dry_run=True))
        self.import_button.clicked.connect(lambda: self.start(dry_run=False))
        self.profile.currentIndexChanged.connect(lambda _i: self.show_mapping())
        self.encoding.currentIndexChanged.connect(lambda _i: self.show_mapping())
        self.files.currentRowChanged.connect(lambda _r: self.show_mapping())
        self.history_table.itemSelectionChanged.connect(self._show_history_rejects)
        self.save_rejects_button.clicked.connect(self.save_rejects)
        self._update_buttons()

    def title(self) -> str:
        return self.tr("Import")

    @staticmethod
    def _profile_names() -> list[str]:
        folder = resource_path("import_profiles")
        names = sorted(p.stem for p in folder.glob("*.toml") if p.stem != "visit_types") if folder.exists() else []
        return names

    # -- choosing
    def add_paths(self, paths: list[str]) -> None:
        existing = {self.files.item(i).text() for i in range(self.files.count())}
        for path in paths:
            if path and path not in existing:
                self.files.addItem(path)
        if self.files.currentRow() < 0 and self.files.count():
            self.files.setCurrentRow(0)
        self._update_buttons()
        self.show_mapping()

    def paths(self) -> list[str]:
        return [self.files.item(i).text() for i in range(self.files.count())]

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, self.tr("Choose PM exports"), "", self.tr("PM exports (*.csv *.txt *.tsv *.xlsx);;All files (*)")
        )
        self.add_paths(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a Synthea CSV folder"))
        if folder:
            self.add_paths([folder])

    def _remove_selected(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))
        self._update_buttons()
        self.show_mapping()

    def _update_buttons(self) -> None:
        has = self.files.count() > 0
        self.preview_button.setEnabled(has)
        self.import_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    # -- mapping
    def prepare_screenshot(self) -> None:
        """For tests/ui/screenshots.py: a small synthetic athenahealth export, previewed.

        The files are written from the demo generator (made-up patients, no real data) into
        a temporary folder that lives as long as this screen."""
        import datetime as dt
        import tempfile

        from panelmanager.core.demo import generate_practice, write_pm_csvs

        self._screenshot_dir = tempfile.TemporaryDirectory(prefix="panelmanager-screenshot-")
        practice = generate_practice(60, seed=7, as_of=self.ctx.as_of or dt.date.today())
        patients_csv, appointments_csv = write_pm_csvs(practice, self._screenshot_dir.name)
        self.add_paths([str(patients_csv), str(appointments_csv)])
        self.files.setCurrentRow(1)
        self.start(dry_run=True)
        self.files.setCurrentRow(1)
        self.show_mapping()
        self.tabs.setCurrentWidget(self.results_table)

    def show_mapping(self) -> None:
        """How the selected file's columns map to registry fields (profile detection result)."""
        item = self.files.currentItem()
        if item is None:
            _fill(self.mapping_table, [self.tr("Field"), self.tr("Column in the file")], [])
            return
        path = Path(item.text())
        if path.is_dir():
            _fill(
                self.mapping_table,
                [self.tr("Field"), self.tr("Column in the file")],
                [[self.tr("Synthea export"), self.tr("columns are matched by Synthea's header names")]],
            )
            return
        try:
            from panelmanager.core.importers.pm import describe_pm_file
        except ImportError:
            return
        try:
            description = describe_pm_file(path, profile=self.profile.currentData(), encoding=self.encoding.currentData())
        except Exception as exc:  # ImportFileError: show the message where the mapping would be
            _fill(self.mapping_table, [self.tr("Problem")], [[str(exc)]])
            return
        rows = [[field, column or self.tr("(not in this file)")] for field, column in description.mapping.items()]
        _fill(self.mapping_table, [self.tr("Field"), self.tr("Column in the file")], rows)
        text = self.tr("{0}: profile {1}; header found on line {2}.").format(path.name, description.profile, description.header_line)
        if description.encoding:
            text += " " + self.tr("Read as {0}.").format(description.encoding)
        self.summary.setText(text)

    # -- running
    def start(self, dry_run: bool) -> None:
        paths = self.paths()
        if not paths:
            return
        registry = self.ctx.registry
        profile = self.profile.currentData()
        encoding = self.encoding.currentData()
        user = self.ctx.user
        title = self.tr("Previewing the import") if dry_run else self.tr("Importing")

        def job(progress, cancel):
            return run_import(registry, paths, profile=profile, dry_run=dry_run, user=user, progress=progress,
                              cancel=cancel, encoding=encoding)

        run_job(
            self,
            title,
            job,
            on_success=lambda outcomes: self._finished(outcomes, dry_run),
            on_cancelled=lambda message: self._cancelled(message),
        )

    def _cancelled(self, message: str) -> None:
        self.summary.setText(self.tr("Import cancelled: nothing from the file being imported was kept."))
        self.ctx.notify_changed(IMPORT)  # files finished before the cancel are in
        self.reload_history()

    def _finished(self, outcomes: list[ImportOutcome], dry_run: bool) -> None:
        self.outcomes = outcomes
        # One line per file and registry table: adding patients, visits and providers into one
        # "new" figure tells staff nothing.
        rows = []
        for o in outcomes:
            name = os.path.basename(o.path.rstrip("/"))
            result = self.tr("ready") if (o.ok and dry_run) else (self.tr("imported") if o.ok else self.tr("NOT imported"))
            note = o.error or (o.rejects_csv and self.tr("rejects saved to {0}").format(o.rejects_csv)) or ""
            if o.ok:
                rows.append([name, result, o.profile or o.format or "", self.tr("rows of the file"), o.rows_read,
                             o.imported, o.rows_rejected, o.duplicates, o.skipped, "", "", "", note])
                for table, counts in o.tables.items():
                    rows.append([name, result, "", self._table_name(table), "", "", "", "", "", counts["new"],
                                 counts["updated"], counts["unchanged"], ""])
            else:
                rows.append([name, result, o.profile or o.format or "", "", "", "", "", "", "", "", "", "", note])
        _fill(
            self.results_table,
            [self.tr("File"), self.tr("Result"), self.tr("Profile"), self.tr("What"), self.tr("Rows read"),
             self.tr("Imported"), self.tr("Rejected"), self.tr("Exact duplicates"), self.tr("Open slots skipped"),
             self.tr("New"), self.tr("Updated"), self.tr("Unchanged"), self.tr("Notes")],
            rows,
            numeric=set(range(4, 12)),
        )
        rejects = [
            [os.path.basename(r.file_name), r.source_row, r.reason]
            for o in outcomes
            for r in [*o.rejections, *o.duplicate_rows]
        ]
        _fill(self.rejects_table, [self.tr("File"), self.tr("Row"), self.tr("Reason")], rejects, numeric={1})
        failed = [o for o in outcomes if not o.ok]
        prefix = self.tr("Dry run, nothing written:") if dry_run else self.tr("Import finished:")
        parts = [self._outcome_text(o) for o in outcomes if o.ok]
        text = prefix + " " + "\n".join(parts)
        if failed:
            text += " " + self.tr("{0} file(s) could not be imported; see Results.").format(len(failed))
        self.summary.setText(text)
        rejected = sum(o.rejected for o in outcomes)
        self.tabs.setCurrentWidget(self.rejects_table if (rejected and not failed) else self.results_table)
        if not dry_run:
            self.ctx.notify_changed(IMPORT)
        self.reload_history()

    def _table_name(self, table: str) -> str:
        names = {"patients": self.tr("patients"), "visits": self.tr("appointments/visits"),
                 "providers": self.tr("providers"), "locations": self.tr("locations"),
                 "observations": self.tr("observations"), "immunizations": self.tr("immunizations"),
                 "procedures": self.tr("procedures"), "conditions": self.tr("conditions"),
                 "medications": self.tr("medications")}
        return names.get(table, table)

    def _outcome_text(self, o: ImportOutcome) -> str:
        """ "a.csv: 8 rows read: 5 imported, 1 rejected, 1 exact duplicate. patients 3 new, 0 updated, ..." """
        tables = "; ".join(
            self.tr("{0} {1} new, {2} updated, {3} unchanged").format(
                self._table_name(t), c["new"], c["updated"], c["unchanged"])
            for t, c in o.tables.items()
        )
        text = f"{os.path.basename(o.path.rstrip('/'))}: {o.rows_summary()}."
        if tables:
            text += " " + tables + "."
        if o.encoding:
            text += " " + self.tr("Read as {0}.").format(o.encoding)
        if o.sample_names:
            text += "\n" + self.tr("Sample names: {0}.").format(", ".join(o.sample_names))
        return text

    # -- history
    def reload(self) -> None:
        self.reload_history()

    def reload_history(self) -> None:
        with self.ctx.registry.session() as session:
            batches = list_batches(session)
        self._batches = batches
        _fill(
            self.history_table,
            [self.tr("When"), self.tr("File"), self.tr("Result"), self.tr("By"), self.tr("Rows"), self.tr("New records"),
             self.tr("Updated records"), self.tr("Unchanged records"), self.tr("Rejected"), self.tr("Message")],
            [
                [b.started_at.strftime("%Y-%m-%d %H:%M"), os.path.basename(b.file_name.rstrip("/")), b.outcome, b.user or "",
                 b.rows_read, b.new, b.updated, b.unchanged, b.rejected, b.message or ""]
                for b in batches
            ],
            numeric={4, 5, 6, 7, 8},
        )

    def _show_history_rejects(self) -> None:
        row = self.history_table.currentRow()
        if not (0 <= row < len(getattr(self, "_batches", []))):
            return
        with self.ctx.registry.session() as session:
            rejected = batch_rejections(session, self._batches[row].id)
        _fill(
            self.history_rejects,
            [self.tr("File"), self.tr("Row"), self.tr("Reason")],
            [[os.path.basename(r.file_name), r.source_row, r.reason] for r in rejected],
            numeric={1},
        )

    def _rejects_batch(self) -> int | None:
        """The import whose rejected rows "Save rejected rows..." writes: the selected one, else the newest."""
        row = self.history_table.currentRow()
        batches = getattr(self, "_batches", [])
        if 0 <= row < len(batches) and batches[row].rejected:
            return batches[row].id
        with self.ctx.registry.session() as session:
            return latest_batch_with_rejections(session)

    def save_rejects(self) -> None:
        """Write one import's rejected rows to a CSV the user chooses: the only way they reach a file."""
        batch = self._rejects_batch()
        if batch is None:
            QMessageBox.information(self, self.tr("Save rejected rows"), self.tr("No import rejected any rows."))
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Save rejected rows"), f"rejected-rows-import-{batch}.csv", self.tr("CSV file (*.csv)")
        )
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        try:
            with self.ctx.registry.session() as session:
                count = export_rejections(session, batch, path)
        except OSError as exc:
            QMessageBox.warning(self, self.tr("Save rejected rows"),
                                self.tr("Cannot write {0}: {1}").format(path, exc.strerror or exc))
            return
        self.summary.setText(self.tr("{0} rejected rows saved to {1}.").format(count, path))
