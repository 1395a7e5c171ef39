"""A Synthea-shaped CSV folder of any size, built from the real sample export (deterministic).

Used by ``bench_import.py``; can also be run on its own::

    python tests/benchmarks/synthea_shaped.py OUT_FOLDER [--patients 100000] [--seed 1] [--changed 0.01]

Every generated patient is a copy of one of the 27 patients of
``../shared/data/synthea-csv-small`` (Synthea's own column layout, value mix, codes and
descriptions), with fresh ids for the patient, its encounters, the organisations and the
providers, and all of its dates shifted back by a whole number of days that depends on
the copy. Each copy keeps every ``--visit-stride``-th of its template's encounters (a
different half for alternate copies) and the observations, conditions, medications,
procedures and immunizations of the encounters it keeps, which gives the row counts of a
real export of that size: at 100,000 patients about 1.1M encounters, 1.8M observations,
0.8M conditions, 1.2M medications and 0.45M procedures (~5.4M rows, ~1 GB).
Organisations and providers are copied once per 5,000 patients (a real export grows its
provider list with the population).

``--changed 0.01`` writes the same folder with 1% of the rows of every file changed
(a new address for patients, a revised description for everything else), for the
"1% changed" re-import.

Nothing random is drawn from the clock: the same arguments always write the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-csv-small"
FILES = (
    "organizations.csv", "providers.csv", "patients.csv", "encounters.csv", "observations.csv",
    "immunizations.csv", "procedures.csv", "conditions.csv", "medications.csv",
)
EVENT_FILES = ("observations.csv", "immunizations.csv", "procedures.csv", "conditions.csv", "medications.csv")
SITE_PATIENTS = 5_000  # organisations and providers are copied once per this many patients
SHIFTS = 24  # distinct date shifts (whole days back), so the cache of shifted dates stays small

# Kind codes that keep fresh ids of different tables apart.
_KIND = {"organization": 1, "provider": 2, "patient": 3, "encounter": 4}


def _id(kind: str, number: int, seed: int) -> str:
    """A fresh, UUID-shaped id: unique per (kind, number, seed), the same on every run."""
    mixed = ((number + 1) * 0x9E3779B97F4A7C15 + _KIND[kind] * 0xC2B2AE3D27D4EB4F + seed * 0x165667B19E3779F9)
    mixed &= (1 << 64) - 1
    return f"{mixed >> 32:08x}-{_KIND[kind]:04x}-4{seed & 0xfff:03x}-8{(number >> 48) & 0xfff:03x}-{number & 0xffffffffffff:012x}"


@lru_cache(maxsize=200_000)
def _shift(text: str, days: int) -> str:
    """``2023-01-27T16:17:47Z`` or ``2023-01-27`` moved ``days`` back; empty stays empty."""
    if not text or days == 0:
        return text
    day = dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10])) - dt.timedelta(days=days)
    return day.isoformat() + text[10:]


def _read(folder: Path, name: str) -> tuple[list[str], list[list[str]]]:
    with (folder / name).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


class _Template:
    """The sample export, grouped by patient."""

    def __init__(self, folder: Path) -> None:
        self.tables = {name: _read(folder, name) for name in FILES}
        header, rows = self.tables["patients.csv"]
        self.patients = rows
        self.patient_col = {name: i for i, name in enumerate(header)}
        ehead, erows = self.tables["encounters.csv"]
        self.enc_col = {name: i for i, name in enumerate(ehead)}
        self.encounters: dict[str, list[list[str]]] = defaultdict(list)
        for row in erows:
            self.encounters[row[self.enc_col["PATIENT"]]].append(row)
        # Events by patient, each with the position of its encounter within the patient's list (-1: none).
        self.events: dict[str, dict[str, list[tuple[int, list[str]]]]] = {}
        for name in EVENT_FILES:
            head, rows = self.tables[name]
            col = {c: i for i, c in enumerate(head)}
            by_patient: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
            for row in rows:
                patient = row[col["PATIENT"]]
                position = next(
                    (i for i, e in enumerate(self.encounters[patient]) if e[self.enc_col["Id"]] == row[col["ENCOUNTER"]]),
                    -1,
                )
                by_patient[patient].append((position, row))
            self.events[name] = by_patient


def write_folder(
    target: Path,
    patients: int,
    *,
    seed: int = 1,
    changed: float = 0.0,
    visit_stride: int = 2,
    sample: Path = SAMPLE,
) -> dict[str, int]:
    """Write the folder; returns the rows written per file."""
    if not (sample / "patients.csv").is_file():
        raise SystemExit(f"the Synthea sample is not at {sample}")
    template = _Template(sample)
    target.mkdir(parents=True, exist_ok=True)
    change_every = round(1 / changed) if changed else 0
    counts: dict[str, int] = {}
    handles = {name: (target / name).open("w", newline="", encoding="utf-8") for name in FILES}
    writers = {name: csv.writer(handles[name], lineterminator="\n") for name in FILES}
    try:
        for name in FILES:
            writers[name].writerow(template.tables[name][0])
            counts[name] = 0

        def changed_row(name: str) -> bool:
            counts[name] += 1
            return bool(change_every) and counts[name] % change_every == 0

        # Organisations and providers: one copy per site block.
        org_head, org_rows = template.tables["organizations.csv"]
        prov_head, prov_rows = template.tables["providers.csv"]
        org_col = {c: i for i, c in enumerate(org_head)}
        prov_col = {c: i for i, c in enumerate(prov_head)}
        sites = max(1, -(-patients // SITE_PATIENTS))
        org_ids: list[dict[str, str]] = []
        prov_ids: list[dict[str, str]] = []
        for site in range(sites):
            orgs = {row[org_col["Id"]]: _id("organization", site * len(org_rows) + i, seed) for i, row in enumerate(org_rows)}
            provs = {row[prov_col["Id"]]: _id("provider", site * len(prov_rows) + i, seed) for i, row in enumerate(prov_rows)}
            org_ids.append(orgs)
            prov_ids.append(provs)
            for row in org_rows:
                out = list(row)
                out[org_col["Id"]] = orgs[row[org_col["Id"]]]
                if changed_row("organizations.csv"):
                    out[org_col["NAME"]] += " CLINIC"
                writers["organizations.csv"].writerow(out)
            for row in prov_rows:
                out = list(row)
                out[prov_col["Id"]] = provs[row[prov_col["Id"]]]
                out[prov_col["ORGANIZATION"]] = orgs.get(row[prov_col["ORGANIZATION"]], row[prov_col["ORGANIZATION"]])
                if changed_row("providers.csv"):
                    out[prov_col["SPECIALITY"]] = "FAMILY MEDICINE"
                writers["providers.csv"].writerow(out)

        pc = template.patient_col
        ec = template.enc_col
        event_cols = {name: {c: i for i, c in enumerate(template.tables[name][0])} for name in EVENT_FILES}
        event_dates = {
            name: [i for c, i in cols.items() if c in ("DATE", "START", "STOP")] for name, cols in event_cols.items()
        }
        encounter_number = 0
        width = len(template.patients)
        for number in range(patients):
            source = template.patients[number % width]
            copy = number // width
            days = (copy % SHIFTS) * 15  # 0 to 345 days back
            site = number // SITE_PATIENTS
            orgs, provs = org_ids[site], prov_ids[site]
            old_patient = source[pc["Id"]]
            new_patient = _id("patient", number, seed)
            out = list(source)
            out[pc["Id"]] = new_patient
            out[pc["BIRTHDATE"]] = _shift(source[pc["BIRTHDATE"]], days)
            out[pc["DEATHDATE"]] = _shift(source[pc["DEATHDATE"]], days)
            # Another template's surname: more distinct names than 27.
            out[pc["LAST"]] = template.patients[(number + copy) % width][pc["LAST"]]
            if changed_row("patients.csv"):
                out[pc["ADDRESS"]] = f"{number % 997 + 1} Changed Street"
            writers["patients.csv"].writerow(out)

            kept: dict[int, str] = {}
            for position, row in enumerate(template.encounters[old_patient]):
                if (position + copy) % visit_stride:
                    continue
                new_id = _id("encounter", encounter_number, seed)
                encounter_number += 1
                kept[position] = new_id
                enc = list(row)
                enc[ec["Id"]] = new_id
                enc[ec["PATIENT"]] = new_patient
                enc[ec["START"]] = _shift(row[ec["START"]], days)
                enc[ec["STOP"]] = _shift(row[ec["STOP"]], days)
                enc[ec["ORGANIZATION"]] = orgs.get(row[ec["ORGANIZATION"]], row[ec["ORGANIZATION"]])
                enc[ec["PROVIDER"]] = provs.get(row[ec["PROVIDER"]], row[ec["PROVIDER"]])
                if changed_row("encounters.csv"):
                    enc[ec["DESCRIPTION"]] += " (revised)"
                writers["encounters.csv"].writerow(enc)

            for name in EVENT_FILES:
                cols = event_cols[name]
                write = writers[name].writerow
                for position, row in template.events[name].get(old_patient, ()):
                    if position >= 0 and position not in kept:
                        continue
                    ev = list(row)
                    ev[cols["PATIENT"]] = new_patient
                    ev[cols["ENCOUNTER"]] = kept.get(position, "")
                    for i in event_dates[name]:
                        ev[i] = _shift(row[i], days)
                    if changed_row(name):
                        ev[cols["DESCRIPTION"]] += " (revised)"
                    write(ev)
    finally:
        for handle in handles.values():
            handle.close()
    return counts


_PM_PATIENT_HEADERS = ["patientid", "patient firstname", "patient lastname", "patientdob", "patientsex",
                       "patient address1", "patient city", "patient state", "patient zip", "patient homephone",
                       "patient mobile no", "patient email", "patient language"]
_PM_APPOINTMENT_HEADERS = ["appointmentid", "patientid", "apptdate", "apptstarttime", "appttype", "apptstatus",
                           "apptcancelleddate", "apptcancelreason", "appt schdlng prvdr"]
_CLINIC_CLASSES = {"wellness", "ambulatory", "outpatient", "virtual"}


def _us(day: str) -> str:
    return f"{day[5:7]}/{day[8:10]}/{day[0:4]}" if day else ""


def _no_digits(name: str) -> str:
    return "".join(ch for ch in name if not ch.isdigit())


def write_pm_files(folder: Path, target: Path) -> tuple[Path, Path]:
    """The Synthea-shaped ``folder`` as athenahealth Report Builder patient and appointment
    CSVs (clinic encounters become completed appointments), streamed row by row."""
    target.mkdir(parents=True, exist_ok=True)
    athena: dict[str, str] = {}
    patients_csv, appointments_csv = target / "athena_patients.csv", target / "athena_appointments.csv"
    with (folder / "patients.csv").open(newline="", encoding="utf-8") as src, \
            patients_csv.open("w", newline="", encoding="utf-8") as out:
        reader, writer = csv.reader(src), csv.writer(out, lineterminator="\n")
        col = {c: i for i, c in enumerate(next(reader))}
        writer.writerow(_PM_PATIENT_HEADERS)
        for number, row in enumerate(reader):
            ident = str(10_001 + number)
            athena[row[col["Id"]]] = ident
            writer.writerow([
                ident, _no_digits(row[col["FIRST"]]), _no_digits(row[col["LAST"]]), _us(row[col["BIRTHDATE"]]),
                row[col["GENDER"]], row[col["ADDRESS"]], row[col["CITY"]], "MA", row[col["ZIP"]],
                f"617555{number % 10_000:04d}", "", "", "English" if number % 5 else "Spanish",
            ])
    providers: dict[str, str] = {}
    with (folder / "providers.csv").open(newline="", encoding="utf-8") as src:
        reader = csv.reader(src)
        col = {c: i for i, c in enumerate(next(reader))}
        for row in reader:
            first, _, last = _no_digits(row[col["NAME"]]).partition(" ")
            providers[row[col["Id"]]] = f"{last.upper()}, {first.upper()}"
    with (folder / "encounters.csv").open(newline="", encoding="utf-8") as src, \
            appointments_csv.open("w", newline="", encoding="utf-8") as out:
        reader, writer = csv.reader(src), csv.writer(out, lineterminator="\n")
        col = {c: i for i, c in enumerate(next(reader))}
        writer.writerow(_PM_APPOINTMENT_HEADERS)
        number = 0
        for row in reader:
            if row[col["ENCOUNTERCLASS"]] not in _CLINIC_CLASSES:
                continue
            start = row[col["START"]]
            hour = int(start[11:13])
            number += 1
            writer.writerow([
                str(500_000 + number), athena[row[col["PATIENT"]]], _us(start[:10]),
                f"{hour % 12 or 12:02d}:{start[14:16]} {'PM' if hour >= 12 else 'AM'}",
                "Office Visit" if row[col["ENCOUNTERCLASS"]] != "wellness" else "Annual Physical",
                "4 - Charge Entered", "", "", providers.get(row[col["PROVIDER"]], ""),
            ])
    return patients_csv, appointments_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changed", type=float, default=0.0, help="fraction of rows changed (0.01: 1%%)")
    parser.add_argument("--visit-stride", type=int, default=2)
    parser.add_argument("--pm", type=Path, help="also write athenahealth patient + appointment CSVs into this folder")
    args = parser.parse_args(argv)
    counts = write_folder(args.folder, args.patients, seed=args.seed, changed=args.changed,
                          visit_stride=args.visit_stride)
    print(", ".join(f"{name[:-4]} {n:,}" for name, n in counts.items()))
    if args.pm:
        print(*write_pm_files(args.folder, args.pm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
