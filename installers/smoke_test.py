"""Smoke test of an installed Panel Manager, run from outside the checkout.

    python installers/smoke_test.py --cli PATH/TO/panelmanager [--synthea FOLDER]

``--cli`` is the installed command: ``<venv>/bin/panelmanager`` for the wheel, or
``dist/PanelManager/panelmanager-cli`` for the desktop bundle. Everything happens in a
temporary folder (the working directory too), so nothing can come from the source tree:
the measures list, a Synthea folder (skipped when absent) and a practice-management export
are imported, ``assign``, ``gaps``, ``letters`` and ``huddle`` run and write real PDFs, and
the GUI opens offscreen and reports each of its eight screens' classes. Prints one line
per check and the start-up times; exits 1 at the first failure. Only the standard library
is used, so any Python can run it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2024-03-04"
MEASURES = 13
SCREENS = {
    "checkin": "CheckInScreen",
    "patients": "PatientsScreen",
    "panels": "PanelsScreen",
    "dashboard": "DashboardScreen",
    "huddle": "HuddleScreen",
    "outreach": "OutreachScreen",
    "imports": "ImportScreen",
    "settings": "SettingsScreen",
}
PM_PATIENTS = """\
MRN,Last Name,First Name,DOB,Sex,Address,City,State,Zip,Phone,Language,Provider
SM-001,Adams,Olga,01/02/1965,F,1 Elm St,Springfield,MA,01103,(413) 555-0101,English,"Alvarez, Ana MD"
SM-002,Diaz,Rosa,03/04/1962,F,2 Oak St,Springfield,MA,01103,(413) 555-0102,Spanish,"Alvarez, Ana MD"
SM-003,Baker,Ruth,05/06/1958,F,3 Pine St,Springfield,MA,01103,(413) 555-0103,English,"Brown, Ben NP"
SM-004,Clark,Tom,07/08/1970,M,4 Ash St,Springfield,MA,01103,(413) 555-0104,English,"Brown, Ben NP"
"""
PM_APPOINTMENTS = """\
MRN,Appt Date,Appt Time,Provider,Visit Type,Status
SM-001,06/01/2023,9:00,"Alvarez, Ana MD",Annual physical,Completed
SM-002,06/01/2023,9:30,"Alvarez, Ana MD",Annual physical,Completed
SM-003,06/02/2023,10:00,"Brown, Ben NP",Follow-up,Completed
SM-004,06/02/2023,10:30,"Brown, Ben NP",Follow-up,Completed
SM-001,03/04/2024,9:00,"Alvarez, Ana MD",Follow-up,Scheduled
SM-002,03/04/2024,9:30,"Alvarez, Ana MD",Follow-up,Scheduled
SM-003,03/04/2024,10:00,"Brown, Ben NP",Follow-up,Scheduled
SM-004,03/04/2024,10:30,"Brown, Ben NP",Follow-up,Scheduled
"""


class SmokeFailure(Exception):
    pass


class Smoke:
    def __init__(self, cli: Path, work: Path) -> None:
        self.cli, self.work = cli, work
        self.db = work / "registry.sqlite3"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PANELMANAGER_")}
        self.env.update(PANELMANAGER_DB=str(self.db), HOME=str(work / "home"), XDG_DATA_HOME=str(work / "data"))
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            self.env.pop(key, None)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
        result = subprocess.run(
            [str(self.cli), *args], cwd=self.work, env=env or self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise SmokeFailure(f"panelmanager {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        if "Traceback" in result.stderr:
            raise SmokeFailure(f"panelmanager {' '.join(args)} printed a traceback:\n{result.stderr[-3000:]}")
        return result.stdout

    def pdf(self, name: str) -> Path:
        path = self.work / name
        data = path.read_bytes() if path.exists() else b""
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:] or len(data) < 1500:
            raise SmokeFailure(f"{name} is not a complete PDF ({len(data)} bytes)")
        return path


def timed(fn) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def check(label: str, detail: str = "") -> None:
    print(f"ok  {label}{': ' + detail if detail else ''}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", required=True, type=Path, help="the installed panelmanager command")
    parser.add_argument("--synthea", type=Path, help="a Synthea CSV folder to import (skipped when absent)")
    parser.add_argument("--no-gui", action="store_true", help="skip the offscreen GUI check")
    args = parser.parse_args(argv)
    cli = args.cli.resolve()
    if not cli.exists():
        print(f"{cli}: no such program", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pm-smoke-") as folder:
        work = Path(folder)
        try:
            smoke(Smoke(cli, work), args)
        except (SmokeFailure, subprocess.TimeoutExpired) as exc:
            print(f"FAILED  {exc}", file=sys.stderr)
            return 1
    print("smoke test passed")
    return 0


def smoke(s: Smoke, args: argparse.Namespace) -> None:
    version = s.run("--version").strip()
    check("--version", version)
    help_text = s.run("--help")
    if "measures" not in help_text:
        raise SmokeFailure("--help does not list the commands")
    check("start-up", f"--version {timed(lambda: s.run('--version')):.2f} s, --help {timed(lambda: s.run('--help')):.2f} s")

    measures = [line for line in s.run("measures").splitlines() if line.strip()]
    if len(measures) != MEASURES:
        raise SmokeFailure(f"measures listed {len(measures)} measures, expected {MEASURES}:\n" + "\n".join(measures))
    check("measures", f"{len(measures)} listed")

    # The practice's letterhead (name, address, phone) is set in the GUI's Settings; a small
    # demo practice sets it here, and the imports below land in the same registry.
    s.run("--create", "demo", "--patients", "60", "--as-of", AS_OF)
    check("demo practice", "60 synthetic patients and the practice's letterhead")
    if args.synthea and args.synthea.is_dir():
        s.run("import", str(args.synthea.resolve()))
        check("import Synthea folder", args.synthea.name)
    else:
        check("import Synthea folder", "skipped (folder absent)")
    (s.work / "patients.csv").write_text(PM_PATIENTS, encoding="utf-8")
    (s.work / "appointments.csv").write_text(PM_APPOINTMENTS, encoding="utf-8")
    s.run("import", str(s.work / "patients.csv"))
    s.run("import", str(s.work / "appointments.csv"))
    stats = s.run("stats", "--json")
    check("import PM export", "patients and appointments")

    s.run("assign", "--as-of", AS_OF, "--apply")
    check("assign", "4-cut review applied")

    rows = list(csv.DictReader(io.StringIO(s.run("gaps", "--as-of", AS_OF, "--status", "open"))))
    if not any(row.get("patient", "").startswith("SM-") for row in rows):
        raise SmokeFailure("gaps: no open gap for the imported PM patients")
    check("gaps", f"{len(rows)} open gaps")

    s.run(
        "letters", "--measure", "breast-cancer-screening", "--as-of", AS_OF,
        "--out", "letters.pdf", "--labels", "labels.pdf", "--calls", "calls.csv",
    )
    check("letters", f"letters.pdf {s.pdf('letters.pdf').stat().st_size} bytes, labels.pdf {s.pdf('labels.pdf').stat().st_size} bytes")

    s.run("huddle", "--date", AS_OF, "--out", "huddle.pdf")
    check("huddle", f"huddle.pdf {s.pdf('huddle.pdf').stat().st_size} bytes")
    del stats

    if args.no_gui:
        return
    env = {**s.env, "QT_QPA_PLATFORM": "offscreen", "PANELMANAGER_SELF_CHECK": "1"}
    start = time.perf_counter()
    out = s.run("gui", env=env, timeout=300)
    seconds = time.perf_counter() - start
    found = {parts[1]: parts[2] for parts in (line.split() for line in out.splitlines()) if parts[:1] == ["screen"]}
    expected = {key: f"panelmanager.ui.screens.{key}.{name}" for key, name in SCREENS.items()}
    if found != expected:
        raise SmokeFailure(f"the GUI's screens are {found}, expected {expected}")
    check("GUI offscreen", f"8 real screens, window up and closed in {seconds:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
