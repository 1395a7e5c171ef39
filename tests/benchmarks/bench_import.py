"""Import benchmark: a Synthea-shaped folder and athenahealth PM CSVs against plain sqlite3.

Run by hand (never collected by pytest)::

    python tests/benchmarks/bench_import.py                          # 100,000 patients (~5.6M rows)
    python tests/benchmarks/bench_import.py --sizes 10000,30000,100000   # the curve (linear?)
    python tests/benchmarks/bench_import.py --patients 2000          # a quick run
    python tests/benchmarks/bench_import.py --profile                # also show where the import time goes

The data: ``synthea_shaped.py`` (committed, deterministic) builds a Synthea CSV folder
of N patients from the real sample export in ``../shared/data/synthea-csv-small``
(fresh ids, shifted dates, real per-patient row counts: ~56 rows a patient, ~1.1M
encounters and ~1.8M observations at 100,000), the same folder with 1% of every file's
rows changed, and athenahealth patient + appointment CSVs of the same patients. For each
size, each step in its own child process:

1. ``synthea``: ``run_import`` of the folder into a fresh registry (the service the CLI
   and GUI call); then the unchanged folder again; then the 1%-changed folder;
2. ``baseline``: the same files with nothing but ``csv.reader`` and ``sqlite3``
   ``executemany`` into TEXT tables (one per file, every column TEXT, no index, no
   check), WAL and synchronous FULL like the registry, one transaction: the floor;
3. ``pm``: ``run_import`` of the PM patient + appointment CSVs into a fresh registry,
   and the same baseline of those two files;
4. with ``--schema-baseline``: the old floor, a ``csv.reader`` load of the Synthea rows
   into the registry's own (indexed) tables with only the foreign-key look-ups.

Every measured step runs in its own child process, started through a small launcher
that reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits, so the peak
memory is the kernel's figure for that one step. Seconds are wall-clock time inside the
child, without interpreter start-up and registry creation/migration.

Targets (issue 16): a first import within 2.0x the baseline (goal 1.5x), peak memory
under 1 GB, an unchanged re-import in seconds, time linear in the number of patients.
The temporary folder is removed after each size unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from operator import itemgetter
from pathlib import Path

SCRIPT = Path(__file__).resolve()
GB_MB = 2048.0

# --------------------------------------------------------------------------- child: one import


def _child_import(db: str, paths: list[str], profile_to: str | None) -> dict:
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import run_import

    registry = open_registry(db, create=True)
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    outcomes = run_import(registry, paths, write_rejects=False, user="benchmark")
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    registry.close()
    if profiler:
        import pstats

        with open(profile_to, "w") as handle:
            stats = pstats.Stats(profiler, stream=handle)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(45)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "ok": all(o.ok for o in outcomes),
        "errors": [o.error for o in outcomes if o.error],
        "rows_read": sum(o.rows_read for o in outcomes),
        "new": sum(o.new for o in outcomes),
        "updated": sum(o.updated for o in outcomes),
        "unchanged": sum(o.unchanged for o in outcomes),
        "rejected": sum(o.rejected for o in outcomes),
    }


# --------------------------------------------------------------------------- child: the plain sqlite3 baseline


def _ts(text: str) -> str | None:
    """Synthea ``2023-01-27T16:17:47Z`` / ``2023-01-27`` -> SQLAlchemy's SQLite storage format."""
    if not text:
        return None
    if len(text) == 10:
        return text + " 00:00:00.000000"
    return f"{text[:10]} {text[11:19]}.000000"


def _day(text: str) -> str | None:
    return text[:10] if text else None


def _us_datetime(date: str, clock: str) -> str:
    """``03/12/2025`` + ``02:40 PM`` -> ``2025-03-12 14:40:00.000000``."""
    hour = int(clock[:2]) % 12 + (12 if clock[-2:].upper() == "PM" else 0)
    return f"{date[6:10]}-{date[0:2]}-{date[3:5]} {hour:02d}:{clock[3:5]}:00.000000"


def _us_date(date: str) -> str | None:
    return f"{date[6:10]}-{date[0:2]}-{date[3:5]}" if date else None


def _rows(path: Path):
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        index = {name: i for i, name in enumerate(header)}
        yield index
        yield from reader


def _load_ids(cur, sql: str) -> dict[str, int]:
    return {str(key): ident for key, ident in cur.execute(sql)}


def _baseline_synthea(cur, folder: Path) -> int:
    src = "synthea"
    total = 0

    def table_rows(name: str, columns: str, build):
        """Rows of one file, streamed from csv.reader into executemany (no list of the whole file).

        ``build(line, *values)`` gets the line number and the named columns' values.
        """
        nonlocal total
        rows = _rows(folder / name)
        index = next(rows)
        get = itemgetter(*(index[name] for name in columns.split()))
        for line, row in enumerate(rows, start=2):
            total += 1
            yield build(line, *get(row))

    def none(value):
        return value or None

    ins = cur.executemany
    ins("INSERT INTO locations (source, external_id, name, address, city, state, postal_code, phone) "
        "VALUES (?,?,?,?,?,?,?,?)",
        table_rows("organizations.csv", "Id NAME ADDRESS CITY STATE ZIP PHONE",
                   lambda n, i, name, a, c, s, z, p: (src, i, name, none(a), none(c), none(s), none(z), none(p))))
    locations = _load_ids(cur, "SELECT external_id, id FROM locations")
    ins("INSERT INTO providers (source, external_id, display_name, specialty, fte, panel_open, active, location_id) "
        "VALUES (?,?,?,?,?,?,?,?)",
        table_rows("providers.csv", "Id NAME SPECIALITY ORGANIZATION",
                   lambda n, i, name, spec, org: (src, i, name, none(spec), 1.0, 1, 1, locations.get(org))))
    providers = _load_ids(cur, "SELECT external_id, id FROM providers")
    ins("INSERT INTO patients (mrn, first_name, last_name, dob, sex, address1, city, state, postal_code, status, "
        "deceased_date, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        table_rows("patients.csv", "Id FIRST LAST BIRTHDATE GENDER ADDRESS CITY STATE ZIP DEATHDATE",
                   lambda n, i, f, la, b, g, a, c, s, z, d: (i, f, la, _day(b), g, none(a), none(c), none(s), none(z),
                                                            "deceased" if d else "active", _day(d), src)))
    patients = _load_ids(cur, "SELECT mrn, id FROM patients")
    ins("INSERT INTO patient_identifiers (patient_id, source, identifier) VALUES (?,?,?)",
        [(ident, src, key) for key, ident in patients.items()])
    ins('INSERT INTO visits (patient_id, provider_id, location_id, source, external_id, start, "end", visit_class, '
        "visit_type, status, reason_code, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        table_rows("encounters.csv", "Id START STOP PATIENT ORGANIZATION PROVIDER ENCOUNTERCLASS DESCRIPTION "
                   "REASONCODE REASONDESCRIPTION",
                   lambda n, i, b, e, p, o, pr, k, d, rc, rd: (patients[p], providers.get(pr), locations.get(o), src, i,
                                                              _ts(b), _ts(e), k, none(d), "completed", none(rc),
                                                              none(rd))))
    visits = _load_ids(cur, "SELECT external_id, id FROM visits")
    ins("INSERT INTO observations (source, natural_key, patient_id, visit_id, date, category, code_system, code, "
        "description, value, value_num, unit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        table_rows("observations.csv", "DATE PATIENT ENCOUNTER CATEGORY CODE DESCRIPTION VALUE UNITS TYPE",
                   lambda n, d, p, e, cat, code, desc, v, u, t: (src, n, patients[p], visits.get(e), _ts(d), none(cat),
                                                                 "LOINC", code, none(desc), none(v),
                                                                 float(v) if t == "numeric" else None, none(u))))
    ins("INSERT INTO immunizations (source, natural_key, patient_id, visit_id, date, cvx, description) "
        "VALUES (?,?,?,?,?,?,?)",
        table_rows("immunizations.csv", "DATE PATIENT ENCOUNTER CODE DESCRIPTION",
                   lambda n, d, p, e, code, desc: (src, n, patients[p], visits.get(e), _ts(d), code, none(desc))))
    ins("INSERT INTO procedures (source, natural_key, patient_id, visit_id, date, code_system, code, description) "
        "VALUES (?,?,?,?,?,?,?,?)",
        table_rows("procedures.csv", "START PATIENT ENCOUNTER CODE DESCRIPTION",
                   lambda n, d, p, e, code, desc: (src, n, patients[p], visits.get(e), _ts(d), "SNOMED", code,
                                                   none(desc))))
    ins("INSERT INTO conditions (source, natural_key, patient_id, visit_id, code_system, code, description, onset, "
        "resolved) VALUES (?,?,?,?,?,?,?,?,?)",
        table_rows("conditions.csv", "START STOP PATIENT ENCOUNTER CODE DESCRIPTION",
                   lambda n, b, e2, p, e, code, desc: (src, n, patients[p], visits.get(e), "SNOMED", code, none(desc),
                                                       _day(b), _day(e2))))
    ins("INSERT INTO medications (source, natural_key, patient_id, visit_id, start, stop, code_system, code, "
        "description) VALUES (?,?,?,?,?,?,?,?,?)",
        table_rows("medications.csv", "START STOP PATIENT ENCOUNTER CODE DESCRIPTION",
                   lambda n, b, e2, p, e, code, desc: (src, n, patients[p], visits.get(e), _ts(b), _ts(e2), "RxNorm",
                                                       code, none(desc))))
    return total


_ATHENA_STATUS = {"f - future": "scheduled", "4 - charge entered": "completed", "3 - checked out": "completed",
                  "2 - checked in": "arrived", "x - cancelled": "cancelled"}
_VISIT_CLASS = {"annual physical": "wellness", "well child": "wellness", "telehealth visit": "virtual",
                "procedure visit": "outpatient", "cardiology consult": "ambulatory"}


def _baseline_pm_patients(cur, path: Path) -> int:
    src = "athenahealth"
    rows = _rows(path)
    c = next(rows)
    none = lambda v: v or None  # noqa: E731
    out = [
        (r[c["patientid"]], r[c["patient firstname"]], r[c["patient lastname"]], _us_date(r[c["patientdob"]]),
         r[c["patientsex"]], none(r[c["patient address1"]]), none(r[c["patient city"]]), none(r[c["patient state"]]),
         none(r[c["patient zip"]]), none(r[c["patient homephone"]]), none(r[c["patient mobile no"]]),
         none(r[c["patient email"]]), none(r[c["patient language"]]), "active", src)
        for r in rows
    ]
    cur.executemany("INSERT INTO patients (mrn, first_name, last_name, dob, sex, address1, city, state, postal_code, "
                    "phone_home, phone_mobile, email, preferred_language, status, source) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", out)
    patients = _load_ids(cur, "SELECT mrn, id FROM patients")
    cur.executemany("INSERT INTO patient_identifiers (patient_id, source, identifier) VALUES (?,?,?)",
                    [(ident, src, key) for key, ident in patients.items()])
    return len(out)


def _baseline_pm_appointments(cur, path: Path) -> int:
    src = "athenahealth"
    patients = _load_ids(cur, f"SELECT identifier, patient_id FROM patient_identifiers WHERE source = '{src}'")
    rows = _rows(path)
    c = next(rows)
    data = list(rows)
    names = sorted({r[c["appt schdlng prvdr"]] for r in data if r[c["appt schdlng prvdr"]]})
    cur.executemany("INSERT INTO providers (source, external_id, display_name, fte, panel_open, active) "
                    "VALUES (?,?,?,?,?,?)", [(src, name, name, 1.0, 1, 1) for name in names])
    providers = _load_ids(cur, f"SELECT external_id, id FROM providers WHERE source = '{src}'")
    out = []
    for r in data:
        status = _ATHENA_STATUS[r[c["apptstatus"]].lower()]
        if status == "cancelled" and "NO SHOW" in r[c["apptcancelreason"]].upper():
            status = "no-show"
        out.append((patients[r[c["patientid"]]], providers.get(r[c["appt schdlng prvdr"]]), src, r[c["appointmentid"]],
                    _us_datetime(r[c["apptdate"]], r[c["apptstarttime"]]),
                    _VISIT_CLASS.get(r[c["appttype"]].lower(), "ambulatory"), r[c["appttype"]] or None, status,
                    _us_date(r[c["apptcancelleddate"]])))
    cur.executemany("INSERT INTO visits (patient_id, provider_id, source, external_id, start, visit_class, visit_type, "
                    "status, cancelled_date) VALUES (?,?,?,?,?,?,?,?,?)", out)
    return len(out)


def _child_baseline(db: str, kind: str, paths: list[str]) -> dict:
    """The old floor: Synthea rows into the registry's own (indexed) tables."""
    from panelmanager.core.db import open_registry

    registry = open_registry(db, create=True)
    # The registry's own driver connection: same file, same pragmas (WAL, synchronous, foreign keys).
    raw = registry.engine.raw_connection()
    conn = raw.driver_connection
    started = time.perf_counter()
    cur = conn.cursor()
    cur.execute("BEGIN")
    rows = 0
    for path in paths:
        if kind == "synthea":
            rows += _baseline_synthea(cur, Path(path))
        elif kind == "pm-patients":
            rows += _baseline_pm_patients(cur, Path(path))
        else:
            rows += _baseline_pm_appointments(cur, Path(path))
    conn.commit()
    seconds = time.perf_counter() - started
    raw.close()
    registry.close()
    return {"seconds": seconds, "rows": rows}


def _csv_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.iterdir() if p.suffix == ".csv") if path.is_dir() else [path])
    return files


def _child_text_baseline(db: str, paths: list[str]) -> dict:
    """The plain floor: every row of every CSV into a TEXT table, ``csv.reader`` straight into
    ``executemany``, WAL + synchronous FULL (as the registry), one transaction."""
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    started, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    rows = 0
    for index, path in enumerate(_csv_files(paths)):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            table = f"t{index}_{path.stem}".replace("-", "_")
            conn.execute(f'CREATE TABLE "{table}" ({", ".join(f"c{i} TEXT" for i in range(len(header)))})')
            cur = conn.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(header))})', reader)
            rows += cur.rowcount
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    conn.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows}


# --------------------------------------------------------------------------- launcher and parent


def _launch(command: list[str]) -> int:
    """Run ``command``, then report its peak RSS as the kernel accounted it."""
    result = subprocess.run(command)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"peak_mb": peak_kb / 1024.0, "returncode": result.returncode}), file=sys.stderr, flush=True)
    return result.returncode


def _measured(work: list[str], scratch: Path) -> dict:
    """Run one benchmark step in a child (through the launcher) and collect its figures."""
    out = scratch / f"step-{time.monotonic_ns()}.json"
    command = [sys.executable, str(SCRIPT), "--launch", sys.executable, str(SCRIPT), "--child-out", str(out), *work]
    launched = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    lines = [line for line in launched.stderr.splitlines() if line.startswith("{") and "peak_mb" in line]
    if launched.returncode != 0 or not lines or not out.exists():
        sys.stderr.write(launched.stderr)
        raise SystemExit(f"benchmark step failed: {' '.join(work)}")
    figures = json.loads(out.read_text())
    figures["peak_mb"] = json.loads(lines[-1])["peak_mb"]
    return figures



def _fresh_registry(path: Path) -> str:
    from panelmanager.core.db import open_registry

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    open_registry(path, create=True).close()  # created and migrated outside the timed step
    return str(path)


def _generate(patients: int, seed: int, folder: Path) -> dict:
    sys.path.insert(0, str(SCRIPT.parent))
    from synthea_shaped import write_folder, write_pm_files

    started = time.perf_counter()
    counts = write_folder(folder / "synthea", patients, seed=seed)
    write_folder(folder / "synthea-1pct", patients, seed=seed, changed=0.01)
    pm_patients, pm_appointments = write_pm_files(folder / "synthea", folder / "pm")
    return {
        "counts": counts,
        "seconds": time.perf_counter() - started,
        "synthea": folder / "synthea",
        "changed": folder / "synthea-1pct",
        "pm": [pm_patients, pm_appointments],
    }


def _mb(path: Path) -> float:
    files = list(path.iterdir()) if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 2**20


def _run_size(patients: int, args, scratch: Path) -> dict:
    print(f"\n== {patients:,} patients: writing the Synthea-shaped folder, its 1%-changed copy and the PM CSVs ...",
          flush=True)
    files = _generate(patients, args.seed, scratch)
    counts = files["counts"]
    rows = sum(counts.values())
    print(f"  written in {files['seconds']:.0f} s: {rows:,} rows, {_mb(files['synthea']):.0f} MB ("
          + ", ".join(f"{n:,} {name[:-4]}" for name, n in counts.items()) + ")", flush=True)
    result: dict = {"patients": patients, "rows": rows, "profiles": []}

    def imported(label: str, db: str, paths: list[Path], profile: bool = False) -> dict:
        extra: list[str] = []
        if profile:
            target = scratch / f"profile-{label}.txt"
            extra = ["--profile-to", str(target)]
            result["profiles"].append((f"{label} at {patients:,} patients", target))
        print(f"  {label} ...", flush=True)
        figures = _measured(["import", *extra, db, *map(str, paths)], scratch)
        if not figures["ok"]:
            raise SystemExit(f"{label}: the import failed: {figures['errors']}")
        print(f"    {figures['seconds']:.1f} s ({figures['cpu']:.1f} s CPU), {figures['peak_mb']:.0f} MB peak; new {figures['new']:,}, "
              f"updated {figures['updated']:,}, unchanged {figures['unchanged']:,}, rejected {figures['rejected']:,}",
              flush=True)
        return figures

    def baseline(label: str, paths: list[Path]) -> dict:
        print(f"  {label} ...", flush=True)
        figures = _measured(["text-baseline", str(scratch / f"{label}.sqlite3"), *map(str, paths)], scratch)
        print(f"    {figures['seconds']:.1f} s ({figures['cpu']:.1f} s CPU), {figures['peak_mb']:.0f} MB peak, "
              f"{figures['rows']:,} rows", flush=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch / label}.sqlite3{suffix}").unlink(missing_ok=True)
        return figures

    if args.only in (None, "synthea"):
        db = _fresh_registry(scratch / "synthea.sqlite3")
        result["synthea"] = imported("synthea import", db, [files["synthea"]], args.profile)
        result["unchanged"] = imported("synthea re-import unchanged", db, [files["synthea"]])
        result["changed"] = imported("synthea re-import 1% changed", db, [files["changed"]])
        result["synthea_base"] = baseline("synthea-baseline", [files["synthea"]])
        if args.schema_baseline:
            print("  schema baseline (registry tables, indexed) ...", flush=True)
            result["schema_base"] = _measured(
                ["baseline", _fresh_registry(scratch / "schema-base.sqlite3"), "synthea", str(files["synthea"])], scratch)
            print(f"    {result['schema_base']['seconds']:.1f} s", flush=True)
    if args.only in (None, "pm"):
        db = _fresh_registry(scratch / "pm.sqlite3")
        result["pm"] = imported("pm import (patients + appointments)", db, files["pm"], args.profile)
        result["pm_unchanged"] = imported("pm re-import unchanged", db, files["pm"])
        result["pm_base"] = baseline("pm-baseline", files["pm"])
    return result


def _report(results: list[dict], args) -> bool:
    print()
    print(f"Import benchmark ({dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}; seconds inside the child, peak = kernel max RSS of the step)")
    header = (f"{'patients':>9} {'target':<8} {'rows':>10} {'import s':>9} {'peak MB':>8} {'base s':>7} {'base MB':>8} "
              f"{'ratio':>6} {'CPU rt':>6} {'s/M rows':>8} {'unchgd s':>8} {'1% s':>7}")
    print(header)
    print("-" * len(header))
    ok = True
    for r in results:
        for target, first, base, again, changed in (
            ("synthea", r.get("synthea"), r.get("synthea_base"), r.get("unchanged"), r.get("changed")),
            ("pm", r.get("pm"), r.get("pm_base"), r.get("pm_unchanged"), None),
        ):
            if not first:
                continue
            ratio = first["seconds"] / base["seconds"]
            # CPU seconds (user + system) of the two children: steadier than wall time on a
            # loaded machine, where the wall ratio mostly says who waited longer for a core.
            cpu_ratio = first.get("cpu", float("nan")) / base["cpu"] if base.get("cpu") else float("nan")
            peak = max(first["peak_mb"], again["peak_mb"], changed["peak_mb"] if changed else 0)
            ok &= ratio <= 2.0 and peak < 1024
            print(f"{r['patients']:>9,} {target:<8} {first['rows_read']:>10,} {first['seconds']:>9.1f} {peak:>8.0f} "
                  f"{base['seconds']:>7.1f} {base['peak_mb']:>8.0f} {ratio:>6.2f} {cpu_ratio:>6.2f} "
                  f"{first['seconds'] / first['rows_read'] * 1e6:>8.1f} {again['seconds']:>8.1f} "
                  f"{(changed['seconds'] if changed else float('nan')):>7.1f}")
        if r.get("schema_base"):
            print(f"{'':>9} schema floor (registry tables, indexed, FK look-ups only): {r['schema_base']['seconds']:.1f} s")
    print("targets: ratio <= 2.0 (goal 1.5), peak < 1 GB: " + ("all hold" if ok else "NOT all hold"))
    for r in results:
        for name, path in r["profiles"]:
            if path.exists():
                print(f"\n==== where the time goes: {name} (cProfile) ====")
                print(path.read_text())
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--launch":
        return _launch(argv[1:])
    if argv and argv[0] == "--child-out":
        out, mode, rest = argv[1], argv[2], argv[3:]
        if mode == "import":
            profile_to = None
            if rest[0] == "--profile-to":
                profile_to, rest = rest[1], rest[2:]
            figures = _child_import(rest[0], rest[1:], profile_to)
        elif mode == "baseline":
            figures = _child_baseline(rest[0], rest[1], rest[2:])
        elif mode == "text-baseline":
            figures = _child_text_baseline(rest[0], rest[1:])
        else:
            raise SystemExit(f"unknown child mode {mode}")
        Path(out).write_text(json.dumps(figures))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sizes", help="comma-separated patient counts, e.g. 10000,30000,100000 (overrides --patients)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile each first import (cProfile) and print the top")
    parser.add_argument("--only", choices=["synthea", "pm"], help="run one target only")
    parser.add_argument("--schema-baseline", action="store_true",
                        help="also time the old floor: the Synthea rows into the registry's own indexed tables")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (prints where they are)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.patients]

    results = []
    for patients in sizes:
        scratch = Path(tempfile.mkdtemp(prefix="panelmanager-bench-import-"))
        try:
            results.append(_run_size(patients, args, scratch))
        finally:
            if args.keep:
                print(f"(kept {scratch})")
            else:
                # Profiles are printed at the end: keep their text, drop the data.
                for _name, path in (results[-1]["profiles"] if results else []):
                    if path.exists():
                        keep = Path(tempfile.gettempdir()) / f"bench-import-{patients}-{path.name}"
                        shutil.copyfile(path, keep)
                        results[-1]["profiles"] = [(n, keep if p == path else p) for n, p in results[-1]["profiles"]]
                shutil.rmtree(scratch, ignore_errors=True)
    ok = _report(results, args)
    if not args.keep:
        for r in results:
            for _name, path in r["profiles"]:
                Path(path).unlink(missing_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
