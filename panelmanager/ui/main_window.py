"""The main window: a navigation sidebar, one page per screen, and a status bar showing the
registry and the as-of date. Every screen is one keystroke away (Ctrl+1 ... Ctrl+8) and
Ctrl+F puts the cursor in the current screen's search box. At start-up and after Ctrl+N the
keyboard focus is in the screen's main input: the sidebar never takes the focus, so typing a
name never walks the sidebar into another screen.

A screen is built the first time it is shown (``screen(key)`` or ``screens[key]`` builds it on
demand), so start-up builds only Check-in. Work that can wait (the check-in care gaps, the daily
backup) starts after the window's first paint (``after_first_paint``): a job started earlier
imports pandas and the measures on its worker thread while the GUI thread still builds and
paints, and the two take turns holding the interpreter lock. Closing the window cancels the
jobs still running and waits for them before the registry closes (a worker never reports to a
deleted window)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from panelmanager.core.db import Registry, open_registry
from panelmanager.core.resources import resource_path
from panelmanager.ui.context import AppContext
from panelmanager.ui.jobs import JobRunner
from panelmanager.ui.screens.base import Screen


@dataclass(frozen=True)
class ScreenSpec:
    key: str  # module under panelmanager.ui.screens and object name
    class_name: str  # the class screen_class() returns
    label: str  # untranslated; translated in MainWindow


SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("checkin", "CheckInScreen", "Check-in"),
    ScreenSpec("patients", "PatientsScreen", "Patients"),
    ScreenSpec("panels", "PanelsScreen", "Panels"),
    ScreenSpec("dashboard", "DashboardScreen", "Dashboard"),
    ScreenSpec("huddle", "HuddleScreen", "Huddle"),
    ScreenSpec("outreach", "OutreachScreen", "Outreach"),
    ScreenSpec("imports", "ImportScreen", "Import"),
    ScreenSpec("settings", "SettingsScreen", "Settings"),
)

def screen_class(class_name: str) -> type[Screen]:
    """The screen class ``class_name``, its module imported on first use: start-up imports only
    Check-in's (the others pull in pandas, reportlab, the importers, ...). The imports are
    static statements, so PyInstaller still bundles every screen (no importlib)."""
    if class_name == "CheckInScreen":
        from panelmanager.ui.screens.checkin import CheckInScreen

        return CheckInScreen
    if class_name == "PatientsScreen":
        from panelmanager.ui.screens.patients import PatientsScreen

        return PatientsScreen
    if class_name == "PanelsScreen":
        from panelmanager.ui.screens.panels import PanelsScreen

        return PanelsScreen
    if class_name == "DashboardScreen":
        from panelmanager.ui.screens.dashboard import DashboardScreen

        return DashboardScreen
    if class_name == "HuddleScreen":
        from panelmanager.ui.screens.huddle import HuddleScreen

        return HuddleScreen
    if class_name == "OutreachScreen":
        from panelmanager.ui.screens.outreach import OutreachScreen

        return OutreachScreen
    if class_name == "ImportScreen":
        from panelmanager.ui.screens.imports import ImportScreen

        return ImportScreen
    if class_name == "SettingsScreen":
        from panelmanager.ui.screens.settings import SettingsScreen

        return SettingsScreen
    raise KeyError(class_name)


class LazyScreens(Mapping[str, Screen]):
    """The window's screens by key; looking one up builds it if it was never shown."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.built: dict[str, Screen] = {}

    def __getitem__(self, key: str) -> Screen:
        return self._window.screen(key)

    def __contains__(self, key: object) -> bool:
        return key in self._window._keys

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._window._keys))

    def __len__(self) -> int:
        return len(self._window._keys)


class MainWindow(QMainWindow):
    def __init__(self, db: str | None = None, registry: Registry | None = None) -> None:
        super().__init__()
        self.registry = registry or open_registry(db)
        self._owns_registry = registry is None
        self.ctx = AppContext(self.registry, self)
        self.setWindowTitle(self.tr("Panel Manager"))
        self.setWindowIcon(QIcon(str(resource_path("icons", "panelmanager.png"))))
        self.resize(1280, 820)

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(180)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setSpacing(2)
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # clicked, or Ctrl+1..8; typing goes to the screen
        self.stack = QStackedWidget()
        self.screens = LazyScreens(self)
        self._keys = [spec.key for spec in SCREENS]
        labels = {
            "checkin": self.tr("Check-in"),
            "patients": self.tr("Patients"),
            "panels": self.tr("Panels"),
            "dashboard": self.tr("Dashboard"),
            "huddle": self.tr("Huddle"),
            "outreach": self.tr("Outreach"),
            "imports": self.tr("Import"),
            "settings": self.tr("Settings"),
        }
        self._labels = labels
        for number, spec in enumerate(SCREENS, start=1):
            self.stack.addWidget(QWidget())  # stands in until the screen is first shown
            item = QListWidgetItem(labels[spec.key])
            item.setToolTip(self.tr("{0} (Ctrl+{1})").format(labels[spec.key], number))
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            self.nav.addItem(item)
            action = QAction(self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _checked=False, key=spec.key: self.show_screen(key))
            self.addAction(action)
        self.nav.currentRowChanged.connect(self._on_nav)

        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: self.current_screen().focus_search())
        self.addAction(find)

        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.setStyleSheet(_STYLE)

        self.registry_label = QLabel()
        self.as_of_label = QLabel()
        self.statusBar().addWidget(self.registry_label, 1)
        self.statusBar().addPermanentWidget(self.as_of_label)
        self.load_again_button = QPushButton(self.tr("&Load again"))
        self.load_again_button.setObjectName("loadAgain")
        self.load_again_button.setVisible(False)
        self.load_again_button.clicked.connect(self._load_again)
        self.statusBar().addPermanentWidget(self.load_again_button)
        self._retry: Callable[[], None] | None = None
        self._focused_once = False
        self._painted = False
        self._after_paint: list[Callable[[], None]] = []
        self._backup_actions = None
        self.ctx.settings_changed.connect(self._update_status)
        self._update_status()
        self.nav.setCurrentRow(0)
        self._build_file_menu()
        self._watch_other_workstations()

    # Other workstations' changes: one indexed one-row read every few seconds (core.concurrency).
    CHANGE_POLL_MS = 3000

    def _watch_other_workstations(self) -> None:
        from panelmanager.core.concurrency import ChangeWatcher

        self.change_watcher = ChangeWatcher(self.registry)
        self.change_timer = QTimer(self)
        self.change_timer.setInterval(self.CHANGE_POLL_MS)
        self.change_timer.timeout.connect(self.poll_changes)
        self.change_timer.start()
        self._listen_on_postgresql()

    # On PostgreSQL a change is also heard at once (LISTEN/NOTIFY, core.change_listener): the
    # listener reads what arrived on its own socket, without a round trip, a few times a second.
    LISTEN_POLL_MS = 250

    def _listen_on_postgresql(self) -> None:
        from panelmanager.core.change_listener import ChangeListener

        self.listen_timer = QTimer(self)
        self.listen_timer.setInterval(self.LISTEN_POLL_MS)
        self.listen_timer.timeout.connect(self._hear_changes)
        try:
            self.change_listener = ChangeListener.open(self.registry)
        except Exception:  # noqa: BLE001 - no channel (server briefly unreachable): the counter poll still runs
            self.change_listener = None
        if self.change_listener is not None:
            self.listen_timer.start()

    def _hear_changes(self) -> None:
        try:
            heard = self.change_listener.pending()
        except Exception:  # noqa: BLE001 - the listening connection was lost: the counter poll carries on
            self._stop_listening()
            return
        if heard:
            self.poll_changes()

    def _stop_listening(self) -> None:
        self.listen_timer.stop()
        if self.change_listener is not None:
            self.change_listener.close()
            self.change_listener = None

    def poll_changes(self) -> bool:
        """Reload the screens when the registry changed (here or on another workstation) since the last poll."""
        try:
            changed = self.change_watcher.poll()
        except Exception:  # noqa: BLE001 - a registry busy or briefly unreachable: ask again next time
            return False
        if changed:
            self.ctx.notify_changed()
        return changed

    def _build_file_menu(self) -> None:
        """File > Back up registry... / Restore from backup... (core.backup does the work, imported
        when the menu is first used)."""
        menu = self.menuBar().addMenu(self.tr("File"))
        self.backup_action = menu.addAction(self.tr("Back up registry..."), lambda: self.backup_actions.back_up())
        self.restore_action = menu.addAction(self.tr("Restore from backup..."), lambda: self.backup_actions.restore())

    @property
    def backup_actions(self):
        if self._backup_actions is None:
            from panelmanager.ui.backup_actions import BackupActions

            self._backup_actions = BackupActions(self)
        return self._backup_actions

    AFTER_PAINT_LATEST_MS = 3000

    def after_first_paint(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the window has painted for the first time (at once if it has, or when
        jobs run synchronously, as in tests; at the latest AFTER_PAINT_LATEST_MS after the window
        was shown): start-up work that can wait does not hold up the first paint."""
        from panelmanager.ui.jobs import JobRunner

        if self._painted or JobRunner.synchronous:
            fn()
        else:
            self._after_paint.append(fn)

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._run_after_paint)  # after this paint's children and the flush to screen

    def _run_after_paint(self) -> None:
        self._painted = True  # from here on, at once
        waiting, self._after_paint = self._after_paint, []
        for fn in waiting:
            fn()

    def _build_screen(self, spec: ScreenSpec, label: str) -> Screen:
        return screen_class(spec.class_name)(self.ctx)

    def screen(self, key: str) -> Screen:
        """The screen ``key``, built now if it was never shown (in its place in the stack)."""
        built = self.screens.built.get(key)
        if built is not None:
            return built
        index = self._keys.index(key)
        spec = SCREENS[index]
        screen = self._build_screen(spec, self._labels[spec.key])
        screen.setObjectName(f"screen_{spec.key}")
        self.screens.built[key] = screen
        current = self.stack.currentIndex()
        stand_in = self.stack.widget(index)
        self.stack.insertWidget(index, screen)
        self.stack.removeWidget(stand_in)
        stand_in.deleteLater()
        if current >= 0:
            self.stack.setCurrentIndex(current)
        return screen

    def add_screen(self, key: str, screen: Screen, label: str) -> Screen:
        """Add a screen after the standard ones (the Audit screen, for roles that may read it)."""
        if key in self._keys:
            return self.screen(key)
        screen.setObjectName(f"screen_{key}")
        self._keys.append(key)
        self._labels[key] = label
        self.screens.built[key] = screen
        self.stack.addWidget(screen)
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, key)
        self.nav.addItem(item)
        return screen

    def built_screens(self) -> list[str]:
        """Keys of the screens built so far (shown at least once, or asked for)."""
        return [key for key in self._keys if key in self.screens.built]

    def _update_status(self) -> None:
        self.registry_label.setText(self.tr("Registry: {0}").format(self.registry.location))
        override = self.tr(" (set in Settings)") if self.ctx.settings.as_of_override else ""
        self.as_of_label.setText(self.tr("As of {0}{1}").format(self.ctx.as_of.isoformat(), override))

    def _on_nav(self, row: int) -> None:
        if row >= 0:
            self._hide_load_again()  # before the new screen loads (and may offer it again)
            self.screen(self._keys[row])
            self.stack.setCurrentIndex(row)
            self.current_screen().focus_main()

    def show_screen(self, key: str) -> Screen:
        index = self._keys.index(key)
        if self.nav.currentRow() == index:
            self.current_screen().focus_main()
        self.nav.setCurrentRow(index)
        return self.screen(key)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._focused_once:
            self._focused_once = True
            QTimer.singleShot(0, lambda: self.current_screen().focus_main())
            # A window shown but never painted (started minimized, on a hidden desktop): the work
            # waiting for the first paint still starts.
            QTimer.singleShot(self.AFTER_PAINT_LATEST_MS, self._run_after_paint)

    def load_demo(self, patients: int) -> None:
        """Fill an empty registry with a demo practice (a job), care gaps computed, every screen refreshed."""
        from panelmanager.ui.app import start_demo_load

        start_demo_load(self, patients)

    # -- a cancelled load: a message and a way to load again
    def offer_load_again(self, message: str, retry: Callable[[], None]) -> None:
        self._retry = retry
        self.statusBar().showMessage(message)
        self.load_again_button.setVisible(True)

    def _hide_load_again(self) -> None:
        self._retry = None
        self.load_again_button.setVisible(False)
        self.statusBar().clearMessage()

    def _load_again(self) -> None:
        retry = self._retry
        self._hide_load_again()
        if retry is not None:
            retry()

    def open_patient(self, patient_id: int) -> None:
        """Show one patient's record on the Patients screen (drill-down from any list)."""
        self.show_screen("patients").select_patient(int(patient_id))

    def current_screen(self) -> Screen:
        return self.stack.currentWidget()  # type: ignore[return-value]

    def closeEvent(self, event) -> None:  # noqa: N802
        self.change_timer.stop()
        self._stop_listening()
        # Jobs still running (a day's care gaps, a dashboard load) are cancelled and waited for:
        # their results would go to screens about to be deleted, their sessions to a closed registry.
        JobRunner.stop_jobs(self)
        if self._owns_registry:
            self.registry.close()
        super().closeEvent(event)


_STYLE = """
QListWidget#navigation { background: #1f3b4d; color: #e8eef2; border: none; padding-top: 8px; font-size: 11pt; outline: 0; }
QListWidget#navigation::item { padding: 8px 14px; border-radius: 4px; margin: 0 6px; }
QListWidget#navigation::item:selected { background: #2a9d8f; color: white; }
QListWidget#navigation::item:hover:!selected { background: #2b5168; }
QLabel#screenHeading { color: #1f3b4d; }
"""
