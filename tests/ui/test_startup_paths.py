"""Start-up paths (issue 16): what the CLI and the desktop app load before they are usable, and
the start-up work that waits until the main window has painted (the check-in care gaps, the
daily backup). Timings are in tests/benchmarks/bench_gui.py; these tests check the mechanisms."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("pytestqt")

HEAVY = ("PySide6", "sqlalchemy", "pandas", "numpy", "reportlab", "alembic", "openpyxl",
         "panelmanager.core.importers", "panelmanager.core.measures")


def _run(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
                         capture_output=True, text=True, check=True, timeout=180)
    return out.stdout.strip().splitlines()[-1]


def _loaded(code: str) -> list[str]:
    return eval(_run(code + f"\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"))  # noqa: S307


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["stats", "--help"]])
def test_the_cli_help_and_version_load_no_qt_database_or_report_library(argv):
    code = (
        "import contextlib, io\n"
        "from panelmanager.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
    )
    assert _loaded(code) == []


def test_a_simple_command_loads_the_database_library_but_no_qt_pandas_reports_or_alembic(tmp_path):
    from panelmanager.core.db import open_registry

    path = tmp_path / "registry.sqlite3"
    open_registry(path, create=True).close()
    code = (
        "import contextlib, io\n"
        "from panelmanager.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['--db', {str(path)!r}, 'stats']) == 0\n"
    )
    assert _loaded(code) == ["sqlalchemy"]


def test_the_desktop_app_loads_sqlalchemy_before_pyside6():
    """PySide6's import hook reads the source of every module imported after PySide6 (to look for
    ``from __feature__ import``); SQLAlchemy's ~250 modules loaded first are never read."""
    code = (
        "import sys\n"
        "import panelmanager.ui.app\n"
        "names = list(sys.modules)\n"
        "print(names.index('sqlalchemy.orm') < names.index('PySide6'))\n"
    )
    assert _run(code) == "True"


def test_the_platform_check_finds_the_xcb_plugin_without_importing_pyside6():
    code = (
        "import sys\n"
        "from panelmanager.ui.platform_check import xcb_plugin\n"
        "plugin = xcb_plugin()\n"
        "print((plugin is None or plugin.name == 'libqxcb.so', 'PySide6' in sys.modules))\n"
    )
    assert _run(code) == "(True, False)"


@pytest.fixture
def clinic_registry(fresh_registry):
    from clinic import CLINIC_DAY, build_clinic

    from panelmanager.core.settings import load_settings, save_settings

    with fresh_registry.session() as session:
        build_clinic(session)
        settings = load_settings(session)
        settings.as_of_override = CLINIC_DAY
        save_settings(session, settings)
    return fresh_registry


@pytest.fixture
def started_jobs(monkeypatch):
    """Jobs asynchronous as in the app, but recorded instead of run: which started, and when."""
    from panelmanager.ui.jobs import JobRunner

    started: list[str] = []
    monkeypatch.setattr(JobRunner, "synchronous", False)
    monkeypatch.setattr(JobRunner, "run", classmethod(lambda cls, parent, title, fn, **kw: started.append(title)))
    return started


def test_the_check_in_care_gaps_start_after_the_schedule_is_painted(qtbot, clinic_registry, started_jobs):
    from panelmanager.ui.main_window import MainWindow

    window = MainWindow(registry=clinic_registry)
    qtbot.addWidget(window)
    window.show()
    screen = window.current_screen()
    assert screen.schedule_model.rowCount() > 0  # the day's schedule is read before the first paint
    assert started_jobs == []  # ... and the care-gap job (pandas, the measures) waits for it
    qtbot.waitUntil(lambda: bool(started_jobs))
    assert window._painted and started_jobs == ["Looking up care gaps for 2024-03-04"]


def test_a_window_shown_but_never_painted_still_starts_the_waiting_work(qtbot, clinic_registry, started_jobs, monkeypatch):
    from PySide6.QtWidgets import QMainWindow

    from panelmanager.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "paintEvent", QMainWindow.paintEvent)  # as if minimized: no paint
    monkeypatch.setattr(MainWindow, "AFTER_PAINT_LATEST_MS", 200)
    window = MainWindow(registry=clinic_registry)
    qtbot.addWidget(window)
    window.show()
    assert started_jobs == []
    qtbot.waitUntil(lambda: started_jobs == ["Looking up care gaps for 2024-03-04"])


def test_the_daily_backup_is_a_background_job_started_after_the_first_paint(qtbot, app_window_opened, started_jobs):
    window = app_window_opened()
    assert "Daily backup" not in started_jobs and not window._painted
    qtbot.waitUntil(lambda: "Daily backup" in started_jobs)
    assert window._painted


@pytest.fixture
def app_window_opened(qtbot, clinic_registry, monkeypatch):
    """ui.app's step after the login, without the session (idle lock, audit screen)."""
    from PySide6.QtWidgets import QApplication

    from panelmanager.ui import app

    monkeypatch.setattr(app, "start_session", lambda window, actor: None)

    def open_window():
        window = app.open_main_window(QApplication.instance(), clinic_registry, actor=None)
        window._owns_registry = False
        qtbot.addWidget(window)
        return window

    return open_window


def test_the_daily_backup_is_made_while_the_window_is_up(qtbot, app_window_opened, registry_path, registry_backend):
    if not registry_backend.startswith("sqlite"):
        pytest.skip("the daily backup copies a SQLite file")
    from panelmanager.core.backup import list_backups

    app_window_opened()
    qtbot.waitUntil(lambda: bool(list_backups(registry_path)))
    assert [reason for _made, reason, _path in list_backups(registry_path)] == ["daily"]


def test_a_failed_daily_backup_is_a_status_message_not_a_crash(qtbot, app_window_opened, monkeypatch):
    import panelmanager.core.backup as backup

    def full_disk(registry, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "auto_backup", full_disk)
    window = app_window_opened()
    qtbot.waitUntil(lambda: "daily backup could not be made" in window.statusBar().currentMessage())
    assert "No space left on device" in window.statusBar().currentMessage()
    assert window.isVisible()


def test_the_installed_version_is_set_once_the_event_loop_runs(qtbot):
    from PySide6.QtCore import QCoreApplication

    import panelmanager
    from panelmanager.ui.app import create_application

    create_application()
    qtbot.waitUntil(lambda: QCoreApplication.applicationVersion() == panelmanager.__version__)


def test_panelmanager_alone_opens_the_app_without_loading_the_command_modules():
    code = (
        "import sys\n"
        "import panelmanager.cli as cli\n"
        "opened = []\n"
        "cli._cmd_gui = lambda args: opened.append(args.db) or 0\n"
        "assert cli.main([]) == 0 and opened == [None]\n"
        "print(sorted(m for m in sys.modules if m.startswith('panelmanager.cli.')))\n"
    )
    assert _run(code) == "[]"
