"""Several workstations on one registry, SQLite vs PostgreSQL.

1. ``mixed``: 4 processes x 250 mixed actions (check-in confirm, reassign, accept a review
   item, log outreach) with the versions their screens saw; the final state is checked
   (tests/concurrency_workload.py) and the outcomes counted.
2. ``checkin``: check-in confirm latency (median, p95, max) on one workstation while
   another process imports a Synthea export of the demo practice (``--patients``) into the
   same registry; then the import time, the assignment (build_review + accept) and care
   gaps (refresh_gaps) times on what was imported.
3. ``--scenario reimport``: the same confirm latency while another process re-imports the
   practice's export with 1% of every file's rows changed (the daily re-import), into a
   registry that already holds the export. With ``--scenario first`` or ``reimport`` the
   exports are the Synthea-shaped folders of bench_import (``synthea_shaped.py``), kept in
   ``--export-dir`` when given (written once, reused by later runs).

``--compare ROOT`` measures the same scenario with the code of another checkout (e.g.
/work/main, "before") and with this one ("after"), alternating ``--rounds`` times, each run
in its own process with ``PYTHONPATH`` pointing at its code, so machine load falls on both.

PostgreSQL runs on a throwaway cluster started from the server binaries (tests/pg_cluster.py).

    python -m tests.benchmarks.bench_concurrency [--patients 100000] [--actions 250] [--only sqlite|postgresql]
    python -m tests.benchmarks.bench_concurrency --patients 30000 --skip mixed --only sqlite \
        --scenario reimport --export-dir /tmp/exports --compare /work/main --rounds 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

AS_OF = dt.date(2024, 2, 3)


def _load(url: str, folder: str, queue) -> None:
    import logging

    # The staged import's phase timings (no patient data): how long it planned, and held the write lock.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("    [import] %(message)s"))
    staging_log = logging.getLogger("panelmanager.core.importers.staging")
    staging_log.addHandler(handler)
    staging_log.setLevel(logging.INFO)
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import run_import

    registry = open_registry(url, create=True)
    start = time.perf_counter()
    outcomes = run_import(registry, [folder], write_rejects=False, user="benchmark")
    queue.put(time.perf_counter() - start)
    # What was imported (counts only; an error names the file and row, never patient data).
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put({"ok": all(o.ok for o in outcomes), "rows": sum(o.rows_read for o in outcomes),
               "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
               "new": sum(o.new for o in outcomes), "updated": sum(o.updated for o in outcomes),
               "errors": [o.error for o in outcomes if o.error]})
    registry.close()


def write_export(patients: int, folder: Path) -> Path:
    from panelmanager.core.demo import generate_practice, write_synthea_folder

    return write_synthea_folder(generate_practice(patients, seed=1, as_of=AS_OF), folder / "synthea")


def mixed(url: str, actions: int) -> None:
    from concurrency_workload import build_practice, check_final_state, run_workers

    from panelmanager.core.db import open_registry

    registry = open_registry(url, create=True)
    practice = build_practice(registry)
    start = time.perf_counter()
    results = run_workers(url, practice, processes=4, actions=actions)
    elapsed = time.perf_counter() - start
    counts = check_final_state(registry, practice, results)
    registry.close()
    print(f"  mixed 4 x {actions}: {elapsed:6.1f} s, final state exact, outcomes {dict(sorted(counts.items()))}", flush=True)


def write_shaped_exports(patients: int, folder: Path, changed_copy: bool = True) -> tuple[Path, Path]:
    """bench_import's Synthea-shaped folder of ``patients`` and its 1%-changed copy (written once;
    the copy only when ``changed_copy``)."""
    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
    from synthea_shaped import write_folder

    base, changed = folder / f"shaped-{patients}" / "synthea", folder / f"shaped-{patients}" / "synthea-1pct"
    for target, share in ((base, 0.0), (changed, 0.01))[: 2 if changed_copy else 1]:
        if not (target / "medications.csv").exists():
            write_folder(target, patients, seed=1, changed=share)
    return base, changed


def checkin(url: str, patients: int, export: Path, confirms: bool = True, preload: Path | None = None,
            assign: bool = True) -> None:
    from concurrency_workload import build_practice

    from panelmanager.core.concurrency import ConcurrencyError, run_write
    from panelmanager.core.db import open_registry
    from panelmanager.core.empanelment import accept_review_items, confirm_assignment

    registry = open_registry(url, create=True)
    practice = build_practice(registry, n_patients=5)
    # With ``preload`` the registry gets the export first, then the daily (1%-changed) re-import;
    # check-in is timed during both.
    loads = [("first import", preload), ("1%-changed re-import", export)] if preload is not None else [("load", export)]
    for what, folder in loads:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        loader = context.Process(target=_load, args=(url, str(folder), queue))
        loader.start()
        latencies, refused = [], 0
        blocked_since, longest_block = None, 0.0  # from a refused confirm to the next one that went through
        last_done, longest_gap = time.perf_counter(), 0.0  # between two confirms that went through
        if not confirms:  # the import alone (--without-checkin): its time, then assign and gaps
            loader.join()
        while loader.is_alive():
            start = time.perf_counter()
            try:
                run_write(registry, confirm_assignment, practice["patients"][0], by="patient", user="desk")
                latencies.append(time.perf_counter() - start)
                longest_gap = max(longest_gap, time.perf_counter() - last_done)
                last_done = time.perf_counter()
                if blocked_since is not None:
                    longest_block = max(longest_block, time.perf_counter() - blocked_since)
                    blocked_since = None
            except ConcurrencyError:
                refused += 1
                blocked_since = blocked_since if blocked_since is not None else start
            time.sleep(0.2)
        loader.join()
        if blocked_since is not None:
            longest_block = max(longest_block, time.perf_counter() - blocked_since)
        if refused:
            print(f"  check-in was refused ('registry busy') {refused} times; longest stretch without a confirm "
                  f"going through: {longest_block:.1f} s", flush=True)
        load_s = queue.get() if not queue.empty() else float("nan")
        imported = queue.get() if not queue.empty() else {}
        if not imported.get("ok", False):
            print(f"  the import did NOT complete: {imported.get('errors')}", flush=True)
        if latencies:
            p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies)
            print(f"  confirm during a {patients:,}-patient {what}: {len(latencies)} done, {refused} refused; "
                  f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms; longest stretch with no confirm done {longest_gap:.1f} s",
                  flush=True)
        print(f"  {what} of {patients:,} patients (Synthea CSV): {load_s:6.1f} s, {imported.get('rows', 0):,} rows read, "
              f"{imported.get('new', 0):,} new, {imported.get('updated', 0):,} updated; "
              f"CPU {imported.get('cpu', float('nan')):.1f} s, peak RSS {imported.get('peak_mb', float('nan')):.0f} MB",
              flush=True)
    if not assign:
        registry.close()
        return
    from panelmanager.core.empanelment import build_review
    from panelmanager.core.measures import refresh_gaps

    start = time.perf_counter()
    with registry.session() as session:
        summary = build_review(session, as_of=AS_OF, user="bench")
        accept_review_items(session, summary.review_id, user="bench")
    print(f"  assign (build_review + accept all): {time.perf_counter() - start:6.1f} s", flush=True)
    start = time.perf_counter()
    with registry.session() as session:
        refresh_gaps(session, AS_OF)
    print(f"  care gaps (refresh_gaps): {time.perf_counter() - start:6.1f} s", flush=True)
    registry.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=250)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--skip", choices=["mixed", "checkin"])
    parser.add_argument("--without-checkin", action="store_true",
                        help="import without confirms meanwhile (on SQLite a confirm during the import can stop it: "
                             "'database is locked')")
    parser.add_argument("--scenario", choices=["first", "reimport"],
                        help="check-in during a first import or a 1%%-changed re-import of bench_import's "
                             "Synthea-shaped export (default: the demo practice's first import, then assign and gaps)")
    parser.add_argument("--export-dir", help="keep the Synthea-shaped exports here (written once, reused)")
    parser.add_argument("--compare", metavar="ROOT",
                        help="also run the scenario with the code of the checkout at ROOT, alternating (before/after)")
    parser.add_argument("--rounds", type=int, default=1, help="with --compare: how many before/after pairs")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(args, argv if argv is not None else sys.argv[1:])
    import panelmanager

    print(f"code: {Path(panelmanager.__file__).parent}", flush=True)
    from pg_cluster import find_server_binaries, prepare_template, start_cluster

    exports = tempfile.TemporaryDirectory()
    export = preload = None
    if args.skip != "checkin" and args.scenario:
        folder = Path(args.export_dir) if args.export_dir else Path(exports.name)
        print(f"Synthea-shaped export of {args.patients:,} patients and its 1%-changed copy ...", flush=True)
        base, changed = write_shaped_exports(args.patients, folder, changed_copy=args.scenario == "reimport")
        export, preload = (base, None) if args.scenario == "first" else (changed, base)
    elif args.skip != "checkin":
        print(f"Writing a {args.patients:,}-patient Synthea export ...", flush=True)
        export = write_export(args.patients, Path(exports.name))

    for backend in ("sqlite", "postgresql"):
        if args.only and backend != args.only:
            continue
        print(f"{backend}:", flush=True)
        cluster = None
        with tempfile.TemporaryDirectory() as folder:
            if backend == "postgresql":
                bindir = find_server_binaries()
                if bindir is None:
                    print("  no PostgreSQL server binaries: skipped")
                    continue
                cluster = start_cluster(bindir)
                prepare_template(cluster)
                urls = {k: cluster.url(cluster.create_database()) for k in ("mixed", "checkin")}
            else:
                urls = {k: str(Path(folder) / f"{k}.sqlite3") for k in ("mixed", "checkin")}
            try:
                if args.skip != "mixed":
                    mixed(urls["mixed"], args.actions)
                if args.skip != "checkin":
                    checkin(urls["checkin"], args.patients, export, confirms=not args.without_checkin,
                            preload=preload, assign=args.scenario is None)
            finally:
                if cluster is not None:
                    cluster.stop()
    exports.cleanup()
    return 0


def compare(args, argv: list[str]) -> int:
    """Alternate runs of this scenario with the code at ``args.compare`` (before) and this checkout's (after)."""
    rest, skip = [], False
    for item in argv:  # the same arguments without --compare/--rounds
        if skip:
            skip = False
            continue
        if item in ("--compare", "--rounds"):
            skip = True
            continue
        if item.startswith(("--compare=", "--rounds=")):
            continue
        rest.append(item)
    if args.export_dir is None:
        raise SystemExit("--compare needs --export-dir (both sides import the same files)")
    roots = {"before": Path(args.compare).resolve(), "after": ROOT}
    for round_ in range(1, args.rounds + 1):
        for label, root in roots.items():
            print(f"\n=== round {round_}, {label} ({root}) ===", flush=True)
            env = dict(os.environ, PYTHONPATH=str(root))
            # Run as a script (not -m from this checkout, whose panelmanager/ would come first on sys.path).
            subprocess.run([sys.executable, str(Path(__file__).resolve()), *rest], cwd=str(root), env=env, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
