"""Import benchmark: Synthea folder and athenahealth PM CSVs against a plain sqlite3 baseline.

Run by hand (never collected by pytest)::

    python tests/benchmarks/bench_import.py                    # 100,000 patients (~1M visits, ~2M observations)
    python tests/benchmarks/bench_import.py --patients 2000    # a quick run
    python tests/benchmarks/bench_import.py --profile          # also show where the import time goes
    python tests/benchmarks/bench_import.py --only pm --repeat 3   # fastest of 3 runs (a busy machine)

It writes the demo practice (``panelmanager.core.demo``) as a Synthea CSV folder and as
athenahealth Report Builder patient and appointment CSVs in a temporary folder, then for
each target:

1. imports it into a fresh registry with ``run_import`` (the service the CLI and GUI
   call), in a child process;
2. imports the unchanged files again into the same registry (everything unchanged);
3. loads the same rows into another freshly migrated registry (same tables, same
   indexes, same connection pragmas) with nothing but ``csv.reader`` and
   ``sqlite3.executemany`` and the few dictionary look-ups that foreign keys need:
   the floor any importer could reach.

Every measured step runs in its own child process, started through a small launcher
process that waits for it and reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``,
so the peak memory reported is the kernel's figure for that one step, everything
included. Seconds are wall-clock time inside the child, without interpreter start-up
and registry creation/migration.

Targets: first import within 2x the baseline, peak memory under 2 GB, re-import faster
than the first import. The temporary folder (synthetic data, but keep the habit) is
removed at the end unless ``--keep`` is given.
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
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    outcomes = run_import(registry, paths, write_rejects=False, user="benchmark")
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    registry.close()
    if profiler:
        import pstats

        with open(profile_to, "w") as handle:
            stats = pstats.Stats(profiler, stream=handle)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(20)
    return {
        "seconds": seconds,
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


def _generate(patients: int, seed: int, as_of: dt.date, folder: Path) -> dict:
    from panelmanager.core.demo import generate_practice, write_pm_csvs, write_synthea_folder

    started = time.perf_counter()
    practice = generate_practice(patients, seed=seed, as_of=as_of)
    generated = time.perf_counter() - started
    counts = practice.counts()
    synthea = write_synthea_folder(practice, folder / "synthea")
    pm_patients, pm_appointments = write_pm_csvs(practice, folder / "pm")
    written = time.perf_counter() - started - generated
    del practice
    return {
        "counts": counts,
        "generate_seconds": generated,
        "write_seconds": written,
        "synthea": str(synthea),
        "pm_patients": str(pm_patients),
        "pm_appointments": str(pm_appointments),
    }


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


def _mb(path: Path) -> float:
    files = list(path.iterdir()) if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 2**20


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
        elif mode == "demo":
            from panelmanager.core.db import open_registry
            from panelmanager.core.demo import load_demo

            registry = open_registry(rest[0], create=True)
            started = time.perf_counter()
            counts = load_demo(registry, patients=int(rest[1]), seed=int(rest[2]), as_of=dt.date.fromisoformat(rest[3]))
            figures = {"seconds": time.perf_counter() - started, "counts": counts}
            registry.close()
        else:
            raise SystemExit(f"unknown child mode {mode}")
        Path(out).write_text(json.dumps(figures))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2025, 3, 12))
    parser.add_argument("--profile", action="store_true", help="profile each first import (cProfile) and print the top")
    parser.add_argument("--with-demo", action="store_true", help="also time `load_demo` (generate + write) itself")
    parser.add_argument("--only", choices=["synthea", "pm"], help="run one target only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (prints where it is)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each first import and each baseline N times from the same starting registry and "
                             "keep the fastest (steadier figures on a shared machine)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    scratch = Path(tempfile.mkdtemp(prefix="panelmanager-bench-import-"))
    try:
        print(f"Generating the demo practice: {args.patients:,} patients, seed {args.seed}, as of {args.as_of} ...",
              flush=True)
        files = _generate(args.patients, args.seed, args.as_of, scratch)
        counts = files["counts"]
        print(f"  generated in {files['generate_seconds']:.1f} s, files written in {files['write_seconds']:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        synthea = Path(files["synthea"])
        pm_patients, pm_appointments = Path(files["pm_patients"]), Path(files["pm_appointments"])
        print(f"  Synthea folder {_mb(synthea):.0f} MB ({_lines(synthea / 'encounters.csv'):,} encounters, "
              f"{_lines(synthea / 'observations.csv'):,} observations); PM patients {_mb(pm_patients):.0f} MB, "
              f"PM appointments {_mb(pm_appointments):.0f} MB ({_lines(pm_appointments):,} rows)", flush=True)

        results = []
        profiles: list[tuple[str, Path]] = []

        def first_import(name: str, db: str, paths: list[Path], attempt: int) -> dict:
            extra: list[str] = []
            if args.profile and attempt == 0:
                target = scratch / f"profile-{name.replace(' ', '-')}.txt"
                extra = ["--profile-to", str(target)]
                profiles.append((name, target))
            print(f"  {name}: importing{f' (run {attempt + 1} of {args.repeat})' if args.repeat > 1 else ''} ...", flush=True)
            return _measured(["import", *extra, db, *map(str, paths)], scratch)

        def repeated(step, db: str) -> dict:
            """The fastest of --repeat runs of ``step(attempt)``, each on the registry as it was
            before the first run; peak memory is the highest of them all."""
            before = scratch / f"{Path(db).name}.before"
            if args.repeat > 1:
                shutil.copyfile(db, before)
            runs = []
            for attempt in range(args.repeat):
                if attempt:
                    for suffix in ("-wal", "-shm"):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
                    shutil.copyfile(before, db)
                runs.append(step(attempt))
            best = dict(min(runs, key=lambda r: r["seconds"]))
            best["peak_mb"] = max(r["peak_mb"] for r in runs)
            before.unlink(missing_ok=True)
            return best

        def run_target(name: str, paths: list[Path], kind: str, db: str, base_db: str) -> None:
            first = repeated(lambda attempt: first_import(name, db, paths, attempt), db)
            if not first["ok"]:
                raise SystemExit(f"{name}: the import failed: {first['errors']}")
            print(f"  {name}: re-importing the unchanged files ...", flush=True)
            again = _measured(["import", db, *map(str, paths)], scratch)
            print(f"  {name}: plain sqlite3 baseline ...", flush=True)
            base = repeated(lambda attempt: _measured(["baseline", base_db, kind, *map(str, paths)], scratch), base_db)
            results.append((name, first, again, base))

        if args.only in (None, "synthea"):
            run_target("synthea folder", [synthea], "synthea",
                       _fresh_registry(scratch / "synthea.sqlite3"), _fresh_registry(scratch / "synthea-base.sqlite3"))
        if args.only in (None, "pm"):
            db = _fresh_registry(scratch / "pm.sqlite3")
            base_db = _fresh_registry(scratch / "pm-base.sqlite3")
            run_target("pm patients", [pm_patients], "pm-patients", db, base_db)
            run_target("pm appointments", [pm_appointments], "pm-appointments", db, base_db)
        demo = None
        if args.with_demo:
            print("  demo: load_demo (generate + write) ...", flush=True)
            demo = _measured(["demo", _fresh_registry(scratch / "demo.sqlite3"), str(args.patients), str(args.seed),
                              args.as_of.isoformat()], scratch)

        print()
        print(f"Import benchmark: {args.patients:,} patients ({dt.datetime.now():%Y-%m-%d %H:%M}, "
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
              + (f", fastest of {args.repeat} runs of each import and baseline" if args.repeat > 1 else "") + ")")
        header = (f"{'target':<16} {'rows':>10} {'seconds':>8} {'peak MB':>8} {'base s':>7} {'ratio':>6} "
                  f"{'re-imp s':>8} {'re-imp MB':>9}  {'<=2x base':<9} {'<2 GB':<6} {'re-imp faster':<13}")
        print(header)
        print("-" * len(header))
        all_ok = True
        yes = lambda ok: "yes" if ok else "NO"  # noqa: E731
        for name, first, again, base in results:
            ratio = first["seconds"] / base["seconds"] if base["seconds"] else float("inf")
            within = ratio <= 2.0
            memory = max(first["peak_mb"], again["peak_mb"]) < GB_MB
            faster = again["seconds"] < first["seconds"]
            all_ok &= within and memory and faster
            print(f"{name:<16} {first['rows_read']:>10,} {first['seconds']:>8.1f} {first['peak_mb']:>8.0f} "
                  f"{base['seconds']:>7.1f} {ratio:>6.2f} {again['seconds']:>8.1f} {again['peak_mb']:>9.0f}  "
                  f"{yes(within):<9} {yes(memory):<6} {yes(faster):<13}")
            if first["rejected"] or again["new"] or again["updated"]:
                print(f"{'':<16} note: first import rejected {first['rejected']:,}; re-import new {again['new']:,}, "
                      f"updated {again['updated']:,} (expected 0)")
        if demo:
            print(f"{'demo load':<16} {sum(demo['counts'].values()):>10,} {demo['seconds']:>8.1f} {demo['peak_mb']:>8.0f}"
                  "   (generate + write_parsed; no baseline)")
        print("\nbaseline peak MB: " + ", ".join(f"{name} {base['peak_mb']:.0f}" for name, _f, _a, base in results))
        for name, path in profiles:
            if path.exists():
                print(f"\n==== where the time goes: {name} (cProfile) ====")
                print(path.read_text())
        print("All targets hold." if all_ok else "Some targets do not hold (see NO above).")
        return 0 if all_ok else 1
    finally:
        if args.keep:
            print(f"(kept {scratch})")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
