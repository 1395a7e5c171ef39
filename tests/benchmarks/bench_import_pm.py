"""How long reading a large PM export takes (run by hand: python tests/benchmarks/bench_import_pm.py [rows]).

Writes a synthetic athenahealth-style appointment report with patient demographics
(title lines, mixed date and phone layouts, placeholders, a few bad rows) to a
temporary folder, then times ``parse_pm_file`` and a full ``run_import`` into a fresh
registry. Nothing here is real patient data.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from panelmanager.core.db import open_registry
from panelmanager.core.importers import run_import
from panelmanager.core.importers.pm import parse_pm_file

HEADER = [
    "patientid", "patient firstname", "patient lastname", "patient middle initial", "patientdob", "patientsex",
    "patient address1", "patient city", "patient state", "patient zip", "patient homephone", "patient mobile no",
    "patient email", "patient language", "appointmentid", "apptdate", "apptstarttime", "appttype", "apptstatus",
    "apptcancelleddate", "appt schdlng prvdr",
]


def write_report(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    first = ["MARIA", "John", "José", "ANN", "Zoë", "li", "Ahmed", "Grace"]
    last = ["GARCIA", "Smith", "Peña", "O'BRIEN", "Nguyen", "MCDONALD", "Lee", "Khan"]
    types = ["ANNUAL PHYSICAL", "FOLLOW UP", "TELEHEALTH VISIT", "SICK VISIT", "NEW PATIENT", "WELL CHILD"]
    statuses = ["f", "2", "3", "4", "x"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("Appointment report\nAll departments\n")
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            pid = 100000 + i // 2
            dob = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1930, 2020)}" if i % 3 else f"{rng.randint(1930, 2020)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            phone = rng.choice(["413-555-{:04d}", "(413) 555{:04d}", "4135550{:03d}", "No Phone"]).format(rng.randint(0, 999))
            writer.writerow([
                pid, rng.choice(first), rng.choice(last), rng.choice(["", "A", "B."]), dob if i % 997 else "13/45/1980",
                rng.choice("FMU"), f"{rng.randint(1, 999)} ELM ST", "SPRINGFIELD", "MA", f"0{rng.randint(1000, 2999)}",
                phone, phone, rng.choice(["x@mail.com", "No Email", ""]), rng.choice(["English", "Spanish", ""]),
                500000 + i, f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2024", f"{rng.randint(8, 11)}:{rng.choice(['00', '15', '30'])} AM",
                rng.choice(types), rng.choice(statuses), "", rng.choice(["jsmith", "adoe", "SMITH, JOHN MD"]),
            ])
        handle.write(f"Total: {rows}\n")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.csv"
        write_report(path, rows)
        started = time.perf_counter()
        parsed = parse_pm_file(path)
        parse_seconds = time.perf_counter() - started
        sizes = {name: len(frame) for name, frame in parsed.frames.items()}
        print(f"parse_pm_file: {rows} rows in {parse_seconds:.2f}s; frames {sizes}; rejected {len(parsed.rejected)}")
        registry = open_registry(Path(folder) / "registry.sqlite3", create=True)
        try:
            for attempt in ("first import", "re-import"):
                started = time.perf_counter()
                [outcome] = run_import(registry, [path], write_rejects=False)
                print(f"run_import ({attempt}): {time.perf_counter() - started:.2f}s new {outcome.new} updated {outcome.updated} unchanged {outcome.unchanged} rejected {outcome.rejected}")
        finally:
            registry.close()


if __name__ == "__main__":
    main()
