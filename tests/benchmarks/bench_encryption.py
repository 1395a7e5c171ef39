"""The cost of an encrypted (SQLCipher) registry on import, assignment and care gaps.

Usage: python tests/benchmarks/bench_encryption.py [--patients 100000] [--rounds 2]

Writes the demo practice as athenahealth patient + appointment CSVs once, then for each
round and each kind (plain SQLite, then SQLCipher) in a fresh registry: imports the two
files (run_import), builds and accepts the assignment review, and refreshes every care
gap. Prints the best time of each step per kind and the encryption cost in percent
(goal: under 15%). Each kind runs in its own child process so caches do not carry over.
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
    from panelmanager.core import encryption
    from panelmanager.core.db import open_registry
    from panelmanager.core.empanelment import accept_review_items, build_review
    from panelmanager.core.importers import run_import
    from panelmanager.core.measures.gaps import refresh_gaps

    if kind == "encrypted":
        encryption.register_key(db, encryption.new_key_from_passphrase("benchmark passphrase"))
    registry = open_registry(db, create=True)
    times = {}
    files = sorted(str(p) for p in Path(folder).glob("*.csv"))
    patients_first = sorted(files, key=lambda p: "appoint" in p.lower())
    start = time.perf_counter()
    outcomes = run_import(registry, patients_first, write_rejects=False, user="bench")
    times["import"] = time.perf_counter() - start
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    with registry.session() as session:
        start = time.perf_counter()
        review = build_review(session, as_of=AS_OF, user="bench")
        accept_review_items(session, review.review_id, user="bench")
        times["assign"] = time.perf_counter() - start
    with registry.session() as session:
        start = time.perf_counter()
        refresh_gaps(session, AS_OF)
        times["gaps"] = time.perf_counter() - start
    registry.close()
    return times


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(*sys.argv[2:5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from panelmanager.core.demo import generate_practice, write_pm_csvs

    with tempfile.TemporaryDirectory(prefix="pm-bench-enc-") as tmp:
        folder = Path(tmp) / "files"
        start = time.perf_counter()
        write_pm_csvs(generate_practice(args.patients, seed=1, as_of=AS_OF), folder)
        print(f"{args.patients:,} patients written as PM CSVs in {time.perf_counter() - start:.0f} s", flush=True)
        best: dict[str, dict[str, float]] = {"plain": {}, "encrypted": {}}
        for round_ in range(args.rounds):
            for kind in ("plain", "encrypted"):
                db = Path(tmp) / f"{kind}-{round_}.sqlite3"
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(folder), str(db)],
                                     capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{kind} child failed:\n{out.stderr[-3000:]}")
                times = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"round {round_ + 1} {kind:<9} " + "  ".join(f"{k} {v:6.1f} s" for k, v in times.items()),
                      flush=True)
                for step, seconds in times.items():
                    best[kind][step] = min(best[kind].get(step, seconds), seconds)
                db.unlink(missing_ok=True)
        print("\nstep      plain  encrypted   cost")
        for step in best["plain"]:
            plain, enc = best["plain"][step], best["encrypted"][step]
            print(f"{step:<8} {plain:6.1f} s  {enc:6.1f} s  {100 * (enc - plain) / plain:+5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
