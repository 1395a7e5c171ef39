"""Benchmark: 5,000 letters with labels, and a 200-patient huddle sheet (run by hand, not collected by pytest).

    python tests/benchmarks/bench_print.py [--patients 100000] [--db PATH] [--fresh] [--without-risk]

Loads the deterministic demo practice (``load_demo``, seed 1, as of 2025-01-15) into a
registry in the temporary folder (the same file bench_gaps.py uses, kept between runs;
``--fresh`` rebuilds it), then times what a user waits for:

* the care gaps for influenza and colorectal screening, the outreach list built from
  them, and turning it into contacts;
* 5,000 letters in one PDF plus their Avery 5160 labels; the headline figure includes
  building the outreach list and its contacts (target: under 30 s together);
* the huddle sheet for the busiest clinic day, trimmed to 200 patients: gathering the
  data the first time (visits, PCP flags, gaps evaluated for those patients, risk
  tiers unless ``--without-risk``) and the PDF (target: under 2 s); the warm second
  run is printed too, but the headline is the first.

The PDFs are written to a temporary folder and removed; the demo practice is synthetic,
no real patient data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2025, 1, 15)  # bench_gaps.py's date: one 100,000-patient registry serves both
SEED = 1
LETTERS = 5_000
HUDDLE_PATIENTS = 200
TARGET_LETTERS_S = 30.0
TARGET_HUDDLE_S = 2.0


def timed(label: str, fn, results: dict[str, float]):
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    print(f"  {label:<58} {results[label]:7.2f} s", flush=True)
    return value


def registry_for(patients: int, fresh: bool, path: Path | None = None):
    from sqlalchemy import func, select

    from panelmanager.core import models as m
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo

    # The same file as bench_gaps.py's registry_file(): generated once for both benchmarks.
    path = path or Path(tempfile.gettempdir()) / f"panelmanager-bench-gaps-{patients}-{SEED}-{AS_OF:%Y%m%d}.sqlite3"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    registry = open_registry(path, create=True)
    with registry.session() as session:
        have = session.scalar(select(func.count()).select_from(m.Patient))
    if not have:
        print(f"Generating a demo practice of {patients:,} patients into {path} (once) ...", flush=True)
        start = time.perf_counter()
        load_demo(registry, patients=patients, seed=SEED, as_of=AS_OF)
        print(f"  generated in {time.perf_counter() - start:.0f} s", flush=True)
    return registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="an existing demo registry (as of 2025-01-15) to use")
    parser.add_argument("--fresh", action="store_true", help="rebuild the demo registry")
    parser.add_argument("--without-risk", action="store_true",
                        help="leave risk tiers out of the huddle (the app shows them)")
    args = parser.parse_args(argv)

    from sqlalchemy import func, select

    from panelmanager.core import models as m
    from panelmanager.core.huddle import huddle_data
    from panelmanager.core.measures import evaluate_measures
    from panelmanager.core.outreach import build_outreach_list
    from panelmanager.core.reports.common import Letterhead
    from panelmanager.core.reports.huddle import build_huddle_sheet
    from panelmanager.core.reports.labels import build_labels
    from panelmanager.core.reports.letters import build_letters
    from panelmanager.core.settings import load_settings

    registry = registry_for(args.patients, args.fresh, args.db)
    with_risk = not args.without_risk
    results: dict[str, float] = {}
    out = Path(tempfile.mkdtemp(prefix="panelmanager-bench-print-"))
    try:
        print(f"Letters and labels ({args.patients:,}-patient demo practice, as of {AS_OF}):")
        with registry.session() as session:
            letterhead = Letterhead.from_settings(load_settings(session))
            measures = ["influenza-immunization", "colorectal-cancer-screening"]
            # The two measures evaluated directly (the letters command reads the same rows from the
            # care-gap cache, which a full refresh fills; that refresh is bench_gaps.py's business).
            gaps = timed("care gaps for the two measures (evaluate_measures)",
                         lambda: evaluate_measures(session, AS_OF, measure_ids=measures), results)
            outreach = timed("outreach list (filters, contact details, last outreach)",
                             lambda: build_outreach_list(session, AS_OF, measure_ids=measures, quiet_days=0,
                                                         gaps=gaps), results)
            contacts = timed("contacts for the documents", outreach.contacts, results)
        print(f"    {outreach.patients:,} patients with {outreach.gaps:,} open gaps on the list")
        if len(contacts) < LETTERS:
            print(f"  only {len(contacts):,} patients on the list; run with more --patients", file=sys.stderr)
            return 1
        # The first 5,000 patients with a usable address make 5,000 letters.
        from panelmanager.core.reports.letters import mailing_problem

        chosen = [c for c in contacts if mailing_problem(c) is None][:LETTERS]
        letters = timed(f"{len(chosen):,} letters (one PDF)",
                        lambda: build_letters(chosen, out / "letters.pdf", letterhead=letterhead, date=AS_OF), results)
        labels = timed(f"{len(chosen):,} Avery 5160 labels",
                       lambda: build_labels(chosen, out / "labels.pdf", on=AS_OF), results)
        together = sum(results.values())  # the gaps, the list, its contacts, the letters and the labels
        size = (out / "letters.pdf").stat().st_size / 2**20
        print(f"    {letters.letters:,} letters on {letters.pages:,} pages ({size:.1f} MB), "
              f"{labels.items:,} labels on {labels.pages} sheets")
        print(f"  list + letters + labels: {together:.2f} s (target < {TARGET_LETTERS_S:.0f} s) "
              f"{'OK' if together < TARGET_LETTERS_S else 'TOO SLOW'}")

        print("Huddle sheet:")
        with registry.session() as session:
            v = m.Visit
            day_text = session.execute(
                select(func.date(v.start)).where(v.status == "scheduled").group_by(func.date(v.start))
                .order_by(func.count().desc()).limit(1)
            ).scalar()
            day = dt.date.fromisoformat(str(day_text))
            # Risk tiers are read from the stored scores (a registry never scored is scored once,
            # which is compute_risk's cost, timed in bench_gaps.py); --with-risk includes that.
            sheet = timed(f"huddle data for {day} (first run)",
                          lambda: huddle_data(session, day, with_risk=with_risk), results)
            sheet = timed(f"huddle data for {day} (warm)",
                          lambda: huddle_data(session, day, with_risk=with_risk), results)
        print(f"    {sheet.patients} visits with {len(sheet.sections)} providers, {sheet.open_gaps} open gaps")
        # Trim to 200 patients, keeping whole providers' schedules where possible.
        kept, total = [], 0
        for section in sheet.sections:
            room = HUDDLE_PATIENTS - total
            if room <= 0:
                break
            section.rows = section.rows[:room]
            kept.append(section)
            total += len(section.rows)
        sheet.sections = kept
        result = timed(f"huddle PDF, {total} patients, {len(kept)} providers",
                       lambda: build_huddle_sheet(sheet, out / "huddle.pdf"), results)
        print(f"    {result.pages} pages")
        pdf_seconds = results[f"huddle PDF, {total} patients, {len(kept)} providers"]
        first = results[f"huddle data for {day} (first run)"] + pdf_seconds
        warm = results[f"huddle data for {day} (warm)"] + pdf_seconds
        print(f"  huddle data (first run{', with risk tiers' if with_risk else ''}) + PDF: {first:.2f} s "
              f"(warm {warm:.2f} s; PDF alone {pdf_seconds:.2f} s) "
              f"(target < {TARGET_HUDDLE_S:.0f} s) {'OK' if first < TARGET_HUDDLE_S else 'TOO SLOW'}")
    finally:
        for path in out.glob("*"):
            path.unlink()
        out.rmdir()
        registry.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
