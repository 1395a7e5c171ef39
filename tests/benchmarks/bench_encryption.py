"""The cost of an encrypted (SQLCipher) registry on import, assignment and care gaps.

Usage: python tests/benchmarks/bench_encryption.py [--patients 100000] [--rounds 2] [--legacy]

Writes the demo practice as athenahealth patient + appointment CSVs once, then for each
round and each kind (plain SQLite, then SQLCipher) in a fresh registry: imports the two
files (run_import), builds and accepts the assignment review, and refreshes every care
gap. Prints the best time of each step per kind and the encryption cost in percent
(goal: under 15%). Each kind runs in its own child process so caches do not carry over;
the kinds alternate within each round, so a loaded machine slows both alike.

Both wall-clock seconds and CPU seconds (user + system of the child, ``time.process_time``)
are printed: on a shared, loaded machine the CPU figure is the steadier measure of what
encryption adds (AES and HMAC per page are CPU work). ``--legacy`` adds a third kind,
SQLCipher with the 4 KiB pages of registries encrypted before issue 15's change
(``encryption.LEGACY_CIPHER_PAGE_SIZE``), to show what the bigger pages bought.
``--same-sqlite`` adds a plain registry opened through the SQLCipher build's own SQLite
(no key): the plain kind runs on the system's SQLite, which may be another version with
another query planner, so this kind separates the cost of encrypting from the cost of
the other SQLite (its driver gets the same set-up as an encrypted registry's:
``encryption.bind_none_directly``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2025, 3, 12)


def _child(kind: str, folder: str, db: str) -> dict:
    if kind == "plain-sqlcipher":  # before anything imports sqlite3
        import sqlcipher3  # type: ignore[import-not-found]
        import sqlcipher3.dbapi2  # type: ignore[import-not-found]

        sys.modules["sqlite3"] = sqlcipher3
        sys.modules["sqlite3.dbapi2"] = sqlcipher3.dbapi2
    from panelmanager.core import encryption
    from panelmanager.core.db import open_registry
    from panelmanager.core.empanelment import accept_review_items, build_review
    from panelmanager.core.importers import run_import
    from panelmanager.core.measures.gaps import refresh_gaps

    if kind == "plain-sqlcipher":  # the driver set up as for an encrypted registry
        encryption.bind_none_directly(sys.modules["sqlite3"].dbapi2)
    if kind.startswith("encrypted"):
        if kind == "encrypted-4k":
            encryption.CIPHER_PAGE_SIZE = encryption.LEGACY_CIPHER_PAGE_SIZE
        encryption.register_key(db, encryption.new_key_from_passphrase("benchmark passphrase"))
    registry = open_registry(db, create=True)
    times = {}
    files = sorted(str(p) for p in Path(folder).glob("*.csv"))
    patients_first = sorted(files, key=lambda p: "appoint" in p.lower())
    start, cpu = time.perf_counter(), time.process_time()
    outcomes = run_import(registry, patients_first, write_rejects=False, user="bench")
    times["import"] = time.perf_counter() - start
    times["import cpu"] = time.process_time() - cpu
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    with registry.session() as session:
        start, cpu = time.perf_counter(), time.process_time()
        review = build_review(session, as_of=AS_OF, user="bench")
        accept_review_items(session, review.review_id, user="bench")
        times["assign"] = time.perf_counter() - start
        times["assign cpu"] = time.process_time() - cpu
    with registry.session() as session:
        start, cpu = time.perf_counter(), time.process_time()
        refresh_gaps(session, AS_OF)
        times["gaps"] = time.perf_counter() - start
        times["gaps cpu"] = time.process_time() - cpu
    registry.close()
    return times


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(*sys.argv[2:5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--legacy", action="store_true", help="also SQLCipher with the old 4 KiB pages")
    parser.add_argument("--same-sqlite", action="store_true",
                        help="also a plain registry on the SQLCipher build's SQLite (no key)")
    args = parser.parse_args(argv)
    kinds = ("plain", "encrypted") + (("encrypted-4k",) if args.legacy else ()) + (
        ("plain-sqlcipher",) if args.same_sqlite else ())
    from panelmanager.core.demo import generate_practice, write_pm_csvs

    with tempfile.TemporaryDirectory(prefix="pm-bench-enc-") as tmp:
        folder = Path(tmp) / "files"
        start = time.perf_counter()
        write_pm_csvs(generate_practice(args.patients, seed=1, as_of=AS_OF), folder)
        print(f"{args.patients:,} patients written as PM CSVs in {time.perf_counter() - start:.0f} s", flush=True)
        best: dict[str, dict[str, float]] = {kind: {} for kind in kinds}
        for round_ in range(args.rounds):
            # Alternate the order each round so neither kind always runs first.
            for kind in kinds if round_ % 2 == 0 else tuple(reversed(kinds)):
                db = Path(tmp) / f"{kind}-{round_}.sqlite3"
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(folder), str(db)],
                                     capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{kind} child failed:\n{out.stderr[-3000:]}")
                times = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"round {round_ + 1} {kind:<12} " + "  ".join(f"{k} {v:6.1f} s" for k, v in times.items()),
                      flush=True)
                for step, seconds in times.items():
                    best[kind][step] = min(best[kind].get(step, seconds), seconds)
                db.unlink(missing_ok=True)
        print("\n(best of each step; cost = encrypted / plain - 1)")
        print(f"{'step':<11} {'plain':>8}" + "".join(f" {k:>13} {'cost':>7}" for k in kinds[1:]))
        for step in best["plain"]:
            plain = best["plain"][step]
            line = f"{step:<11} {plain:6.1f} s"
            for kind in kinds[1:]:
                enc = best[kind][step]
                line += f" {enc:11.1f} s {100 * (enc - plain) / plain:+6.1f}%"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
