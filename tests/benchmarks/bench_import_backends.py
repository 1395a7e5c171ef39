"""Synthea-shaped import on SQLite vs PostgreSQL, interleaved rounds (issue 13).

Run by hand (never collected by pytest)::

    python -m tests.benchmarks.bench_import_backends [--sizes 10000,25000] [--rounds 1] [--profile]

For each size a Synthea-shaped folder is written (``synthea_shaped.py``: the real sample
export copied with fresh ids, ~56 rows a patient), then each round imports it with
``run_import`` (the service the CLI and GUI call) into a fresh plain SQLite registry and into
a fresh database of a throwaway PostgreSQL cluster (``tests/pg_cluster.py``), alternating
which backend goes first, and the unchanged folder again into each. Seconds are wall-clock
time of ``run_import`` only (registry creation and migration are outside the timing).
``--before`` adds a third backend, "postgresql-executemany": PostgreSQL with the COPY path
switched off (``pg_copy.uses_copy`` patched to False), i.e. the bulk writes as before issue 13's
COPY. ``--profile`` prints the top of a cProfile of each PostgreSQL first import.
No patient data is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _import(url: str, folder: Path, profile: bool = False, copy: bool = True) -> tuple[float, str]:
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import pg_copy, run_import

    pg_copy.uses_copy = _uses_copy if copy else (lambda conn: False)

    registry = open_registry(url, create=True)
    profiler = cProfile.Profile() if profile else None
    try:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        outcomes = run_import(registry, [str(folder)], write_rejects=False, user="benchmark")
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        if not all(o.ok for o in outcomes):
            raise SystemExit(f"import failed: {[o.error for o in outcomes if o.error]}")
    finally:
        registry.close()
    report = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        report = out.getvalue()
    return seconds, report


_uses_copy = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,25000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--before", action="store_true")
    args = parser.parse_args(argv)
    global _uses_copy
    from panelmanager.core.importers import pg_copy

    _uses_copy = pg_copy.uses_copy
    from pg_cluster import find_server_binaries, prepare_template, start_cluster
    from synthea_shaped import write_folder

    bindir = find_server_binaries()
    cluster = None
    if bindir is not None and args.only != "sqlite":
        cluster = start_cluster(bindir)
        prepare_template(cluster)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="pm-bench-import-") as scratch:
                folder = Path(scratch) / "synthea"
                counts = write_folder(folder, size, seed=1)
                print(f"== {size:,} patients, {sum(counts.values()):,} rows", flush=True)
                times: dict[str, list[float]] = {}
                for round_ in range(args.rounds):
                    backends = ["sqlite", "postgresql"] + (["postgresql-executemany"] if args.before else [])
                    if round_ % 2:
                        backends.reverse()
                    for backend in backends:
                        if args.only and not backend.startswith(args.only):
                            continue
                        if backend.startswith("postgresql"):
                            if cluster is None:
                                continue
                            name = cluster.create_database()
                            url = cluster.url(name)
                        else:
                            url = str(Path(scratch) / f"r{round_}.sqlite3")
                        copy = backend != "postgresql-executemany"
                        first, report = _import(url, folder, args.profile and backend == "postgresql", copy)
                        again, _ = _import(url, folder, copy=copy)
                        times.setdefault(f"{backend} first", []).append(first)
                        times.setdefault(f"{backend} unchanged", []).append(again)
                        print(f"  round {round_ + 1} {backend}: first {first:7.1f} s, unchanged {again:6.1f} s",
                              flush=True)
                        if report:
                            print(report)
                        if backend.startswith("postgresql"):
                            cluster.drop_database(name)
                for label, values in times.items():
                    print(f"  {label}: median {statistics.median(values):7.1f} s over {len(values)}", flush=True)
                if "sqlite first" in times and "postgresql first" in times:
                    ratio = statistics.median(times["postgresql first"]) / statistics.median(times["sqlite first"])
                    print(f"  PostgreSQL / SQLite first import: {ratio:.2f}x", flush=True)
                if "postgresql-executemany first" in times and "sqlite first" in times:
                    ratio = statistics.median(times["postgresql-executemany first"]) / statistics.median(
                        times["sqlite first"])
                    print(f"  PostgreSQL without COPY / SQLite first import: {ratio:.2f}x", flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
