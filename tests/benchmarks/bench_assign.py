"""Benchmark: assignment and panel sizes on a 100,000-patient demo practice (~1M visits).

Run by hand (never in CI, never collected by pytest):

    python tests/benchmarks/bench_assign.py                 # builds the demo registry once
    python tests/benchmarks/bench_assign.py --db /tmp/demo.sqlite3 --patients 100000

The demo registry is generated with ``panelmanager demo`` (``load_demo``) the first time
and reused afterwards. Targets on the reference machine (2 cores): building the review
(the 4-cut assignment of every patient) under 3 s, panel sizes under 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.capacity import continuity, milestone, panel_capacity
from panelmanager.core.db import open_registry
from panelmanager.core.empanelment import accept_review_items, build_review

AS_OF = dt.date(2024, 2, 3)


def timed(label: str, fn, results: dict[str, float]):
    """Wall-clock seconds (the target) and this process's CPU seconds (the same work on an idle machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    results[label] = time.perf_counter() - start
    print(f"  {label:<42} {results[label]:7.2f} s wall  {time.process_time() - cpu:7.2f} s cpu", flush=True)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "panelmanager-bench-assign.sqlite3")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    registry = open_registry(args.db, create=True)
    with registry.session() as session:
        patients = session.scalar(select(func.count()).select_from(m.Patient))
    if not patients:
        from panelmanager.core.demo import load_demo

        print(f"Generating a demo practice of {args.patients:,} patients into {args.db} (once) ...", flush=True)
        start = time.perf_counter()
        load_demo(registry, patients=args.patients, seed=args.seed, as_of=AS_OF)
        print(f"  generated in {time.perf_counter() - start:.0f} s", flush=True)
    with registry.session() as session:
        patients = session.scalar(select(func.count()).select_from(m.Patient))
        visits = session.scalar(select(func.count()).select_from(m.Visit))
        # Start from empty panels so every run measures the same work.
        for table in (m.AssignmentHistory, m.Assignment, m.PanelReviewItem, m.PanelReview, m.Confirmation):
            session.execute(table.__table__.delete())
    print(f"Registry {args.db}: {patients:,} patients, {visits:,} visits; as of {AS_OF}")

    results: dict[str, float] = {}
    with registry.session() as session:
        summary = timed("assignment (build_review, first run)", lambda: build_review(session, as_of=AS_OF, user="bench"), results)
        print(
            f"    new {summary.new:,}, needs assignment {summary.unassigned:,}, drops {summary.drops:,}",
            flush=True,
        )
        timed("accept the whole review", lambda: accept_review_items(session, summary.review_id, user="bench"), results)
    with registry.session() as session:
        again = timed("assignment (re-run, unchanged data)", lambda: build_review(session, as_of=AS_OF, user="bench"), results)
        print(f"    changes proposed {again.new + again.changes + again.held + again.drops:,}", flush=True)
        rows = timed("panel sizes (panel_capacity)", lambda: panel_capacity(session, AS_OF), results)
        print(f"    {len(rows)} providers, {sum(r.assigned for r in rows):,} patients on panels", flush=True)
        timed("continuity", lambda: continuity(session, AS_OF), results)
        timed("milestone", lambda: milestone(session, AS_OF), results)
    registry.close()

    ok = results["assignment (build_review, first run)"] < 3.0 and results["panel sizes (panel_capacity)"] < 1.0
    print("Targets (assignment < 3 s, panel sizes < 1 s, wall clock):", "met" if ok else "NOT met")
    if not ok:
        print("  (if the cpu column is under the targets, the machine was busy: run it again when idle)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
