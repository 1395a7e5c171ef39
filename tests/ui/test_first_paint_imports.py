"""Start-up imports only what the first screen needs (issue 16): the main window and the
Check-in screen's first paint (the day's schedule) load no pandas, numpy, reportlab, Alembic,
importers or measures; the care gaps that follow are jobs, and they import what they need."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("pandas", "numpy", "reportlab", "alembic", "openpyxl", "panelmanager.core.importers", "panelmanager.core.measures")


def _loaded_in_child(code: str) -> list[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    script = code + f"\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=180)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's printed list


def test_importing_the_main_window_loads_no_heavy_library():
    code = (
        "from panelmanager.ui.app import create_application\n"
        "from panelmanager.core.db import open_registry\n"
        "from panelmanager.ui.main_window import MainWindow, screen_class\n"
        "screen_class('CheckInScreen')\n"
    )
    assert _loaded_in_child(code) == []


def test_the_first_check_in_paint_on_a_clinic_day_loads_no_heavy_library(tmp_path):
    from clinic import CLINIC_DAY, build_clinic

    from panelmanager.core.db import open_registry
    from panelmanager.core.settings import load_settings, save_settings

    path = tmp_path / "registry.sqlite3"
    registry = open_registry(path, create=True)
    with registry.session() as session:
        build_clinic(session)
        settings = load_settings(session)
        settings.as_of_override = CLINIC_DAY
        save_settings(session, settings)
        session.commit()
    registry.close()
    code = (
        "from panelmanager.ui.app import create_application\n"
        "from panelmanager.core.db import open_registry\n"
        "from panelmanager.ui.jobs import JobRunner\n"
        "from panelmanager.ui.main_window import MainWindow\n"
        "started = []\n"
        "JobRunner.run = classmethod(lambda cls, parent, title, fn, **kw: started.append(title))  # jobs: not run here\n"
        "app = create_application()\n"
        f"window = MainWindow(registry=open_registry({str(path)!r}))\n"
        "window.show()\n"
        "app.processEvents()\n"
        "window.grab()\n"
        "assert window.current_screen().schedule_model.rowCount() > 0, 'the schedule is shown at the first paint'\n"
        "app.processEvents()  # the care-gap job starts once the window has painted\n"
        "assert started, 'the care gaps follow in a job'\n"
    )
    assert _loaded_in_child(code) == []
