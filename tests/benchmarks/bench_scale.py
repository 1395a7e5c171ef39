"""Does the work grow linearly with the practice? Demo, assignment and care gaps at several sizes.

Run by hand (never collected by pytest)::

    python tests/benchmarks/bench_scale.py --sizes 10000,30000,100000,300000 --dir /work/bench-main/scale

Issue 16 asks for the curve of import, assignment and care gaps at 10,000, 30,000, 100,000
and 300,000 patients; the import's curve is ``bench_import.py --sizes``. Here, for each
size, each phase runs in a child process of its own (its peak memory is the kernel's
figure for that phase), on a registry that holds the demo practice of that size (seed 1,
as of 2025-01-15; built by the first phase, kept in ``--dir`` for later runs):

``demo``     ``load_demo``: the practice written into a fresh registry (what a user waits
             for in ``panelmanager demo``);
``assign``   ``build_review`` (the 4-cut assignment of every patient) and ``accept_review``
             of its proposals: assigning the whole practice to panels;
``gaps``     ``refresh_gaps``: all 13 measures for every active patient plus the cache write.

It prints wall and CPU seconds, peak memory, and CPU microseconds per patient: a linear
curve keeps the last column flat. The demo practice is synthetic: no real patient data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

AS_OF = dt.date(2025, 1, 15)
SEED = 1
PHASES = ("demo", "assign", "gaps")


def _registry(folder: Path, patients: int) -> Path:
    return folder / f"scale-{patients}.sqlite3"


def _child(phase: str, path: Path, patients: int) -> None:
    from panelmanager.core.db import open_registry

    if phase == "demo":
        from panelmanager.core.demo import load_demo

        path.unlink(missing_ok=True)
        registry = open_registry(path, create=True)
        started, cpu = time.perf_counter(), time.process_time()
        load_demo(registry, patients=patients, seed=SEED, as_of=AS_OF)
    else:
        registry = open_registry(path)
        if phase == "assign":
            from panelmanager.core import models as m
            from panelmanager.core.empanelment.reviews import accept_review_items, build_review

            with registry.session() as session:  # empty panels: every run does the same work
                for table in (m.AssignmentHistory, m.Assignment, m.PanelReviewItem, m.PanelReview, m.Confirmation):
                    session.execute(table.__table__.delete())
        started, cpu = time.perf_counter(), time.process_time()
        with registry.session() as session:  # commits at the end of the block
            if phase == "assign":
                summary = build_review(session, as_of=AS_OF, user="bench")
                accept_review_items(session, summary.review_id, user="bench")
            else:
                from panelmanager.core.measures.gaps import refresh_gaps

                refresh_gaps(session, AS_OF)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    registry.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(f"RESULT {wall:.3f} {cpu:.3f} {peak:.0f}", flush=True)


def _run(phase: str, path: Path, patients: int) -> tuple[float, float, float]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, __file__, "--child", phase, str(path), str(patients)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{phase} at {patients:,} failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    wall, cpu, peak = (float(v) for v in line.split()[1:4])
    return wall, cpu, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000,300000")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/panelmanager-bench-scale"))
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--reuse", action="store_true", help="keep a registry already in --dir (skip the demo phase)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        phase, path, patients = args.child
        _child(phase, Path(path), int(patients))
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    phases = [p for p in args.phases.split(",") if p]
    rows = []
    for patients in (int(s) for s in args.sizes.split(",")):
        path = _registry(args.dir, patients)
        for phase in phases:
            if phase == "demo" and args.reuse and path.exists():
                continue
            wall, cpu, peak = _run(phase, path, patients)
            load = os.getloadavg()[0]
            rows.append((patients, phase, wall, cpu, peak, load))
            print(f"{patients:>8,} {phase:7s} {wall:8.1f} s wall {cpu:8.1f} s CPU  peak {peak:6,.0f} MB  "
                  f"{cpu / patients * 1e6:6.1f} us CPU/patient  (load {load:.1f})", flush=True)
    print("\n| patients | phase | wall s | CPU s | peak MB | CPU us / patient |\n| ---: | --- | ---: | ---: | ---: | ---: |")
    for patients, phase, wall, cpu, peak, _load in rows:
        print(f"| {patients:,} | {phase} | {wall:.1f} | {cpu:.1f} | {peak:,.0f} | {cpu / patients * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
