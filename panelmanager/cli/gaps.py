"""The care-gap and risk commands: measures, gaps, risk."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panelmanager.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    as_of_for,
    current_user,
    find_provider_id,
    parse_date,
    print_json,
    registry_work,
)

_GAP_STATUSES = ("open", "due-soon", "met", "excluded")


_GAP_COLUMNS = ["patient", "measure", "status", "due_date", "last_date", "last_code", "last_value", "provider", "finding"]


SOURCE_DATA_ABSENT = "source data absent"


def _add_measures(sub) -> None:
    p = sub.add_parser(
        "measures",
        help="list the care-gap measures and their sources",
        description="List the measures in resources/measures with their source (eCQM id and version, or "
        "guideline). A measure file that fails to load is reported with its file and key; the others "
        "still load (exit status 1 when any failed).",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")


def _cmd_measures(args: argparse.Namespace) -> int:
    from panelmanager.core.measures import load_measures

    measures, errors = load_measures()
    if args.json:
        print_json(
            {
                "measures": [
                    {
                        "id": m.id,
                        "title": m.title,
                        "letter_phrase": m.letter_phrase,
                        "source": m.source.describe(),
                        "ecqm": m.source.ecqm,
                        "version": m.source.version,
                        "guideline": m.source.guideline,
                        "url": m.source.url,
                        "inverse": m.inverse,
                        "description": m.description,
                    }
                    for m in measures
                ],
                "errors": errors,
            }
        )
    else:
        width = max((len(m.id) for m in measures), default=10)
        for m in measures:
            source = m.source.describe()
            if len(source) > 40:
                source = source[:37] + "..."
            inverse = "  (inverse: lower is better)" if m.inverse else ""
            print(f"{m.id:<{width}}  {source:<40}  {m.title}{inverse}")
    for error in errors:
        print(f"panelmanager measures: {error}", file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _add_gaps(sub) -> None:
    p = sub.add_parser(
        "gaps",
        help="care gaps: who is overdue, for what",
        description="One row per eligible patient and measure as of a date: patient (MRN), measure, status "
        "(open, due-soon, met, excluded), due date, the most recent qualifying event, the provider (the 4-cut "
        "proposal, marked proposed, until a panel review is accepted) and the finding in staff words (\"A1c above "
        "9\"; \"source data absent\" when the registry holds none of the data the measure reads). Results are "
        "cached per as-of date and recomputed when the registry or the measure files changed.",
    )
    p.add_argument("--as-of", type=parse_date, default=None, help="the date to evaluate on (default: today)")
    p.add_argument("--measure", action="append", default=[], metavar="ID", help="only this measure (repeatable)")
    p.add_argument("--provider", metavar="ID", help="only this provider's panel: registry id, NPI or name")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="STATUS",
        help="only these statuses (repeatable or comma-separated): open, due-soon, met, excluded",
    )
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    p.add_argument("--refresh", action="store_true", help="recompute even if the cached results are current")


def _cmd_gaps(args: argparse.Namespace) -> int:
    from panelmanager.core.actions import audited
    from panelmanager.core.measures import absent_source_data, gaps, load_measures, staff_status_column
    from panelmanager.core.settings import load_settings

    statuses = [s.strip() for item in args.status for s in item.split(",") if s.strip()]
    bad = [s for s in statuses if s not in _GAP_STATUSES]
    if bad:
        raise CommandError(f"--status {bad[0]!r}: use {', '.join(_GAP_STATUSES)}.")
    measures, errors = load_measures()
    known = {m.id for m in measures}
    for measure in args.measure:
        if measure not in known:
            raise CommandError(f"--measure {measure!r}: no such measure. Known: {', '.join(sorted(known))}.")
    for error in errors:
        print(f"panelmanager gaps: warning: {error}", file=sys.stderr)
    with registry_work(args, progress=True, cancel=True) as work, audited(
            work.session, "export", details={"document": "gaps", "format": args.format}) as note:  # issue 14
        as_of = as_of_for(args, load_settings(work.session))
        provider = find_provider_id(work.session, args.provider) if args.provider else None
        frame = gaps(
            work.session,
            as_of,
            measure=args.measure or None,
            provider=provider,
            status=statuses or None,
            refresh=True if args.refresh else None,
            progress=work.progress,
            cancel=work.cancel,
        )
        absent = absent_source_data(work.session, measures, as_of=as_of)
        note.patients(frame["patient_id"])
        note.details.update(as_of=as_of.isoformat(), rows=len(frame))
    # "finding": the status in staff words ("A1c above 9"); "source data absent" when the
    # registry holds none of the data the measure reads (a missing import, not the patient).
    frame["finding"] = staff_status_column(frame)
    frame.loc[frame["measure"].isin(list(absent)), "finding"] = SOURCE_DATA_ABSENT
    shown = set(frame["measure"]) | set(args.measure)
    for measure_id, info in absent.items():
        if measure_id in shown or not args.measure:
            print(f"panelmanager gaps: warning: {info.message}", file=sys.stderr)
    out = frame.rename(columns={"mrn": "patient"})[_GAP_COLUMNS].copy()
    for column in ("due_date", "last_date"):
        out[column] = out[column].dt.strftime("%Y-%m-%d").astype(object).where(out[column].notna(), None)
    if args.format == "json":
        records = out.astype(object).where(out.notna(), None).to_dict(orient="records")
        print_json(
            {
                "as_of": as_of.isoformat(),
                "source_data_absent": {m: info.message for m, info in absent.items()},
                "rows": records,
            }
        )
    else:
        from panelmanager.core.safe_export import write_frame_csv

        write_frame_csv(out, sys.stdout, lineterminator="\n")
    return EXIT_OK


def _add_risk(sub) -> None:
    p = sub.add_parser(
        "risk",
        help="risk tiers 1 (low) to 4 (complex), and overrides",
        description="Risk stratification as of a date from chronic conditions, emergency and hospital use, "
        "uncontrolled HbA1c or blood pressure, and age (rules in resources/risk_tiers.toml). Shows how many "
        "patients are in each tier; --list shows the patients. --override sets a patient's tier by hand "
        "with a reason (the computed tier is kept).",
    )
    p.add_argument("--as-of", type=parse_date, default=None, help="the date to evaluate on (default: today)")
    p.add_argument("--json", action="store_true", help="print JSON (summary and every patient's tier)")
    p.add_argument("--list", action="store_true", help="list patients (MRN, tier, computed tier, points, reasons)")
    p.add_argument("--tier", type=int, action="append", default=[], choices=(1, 2, 3, 4), help="only this tier (repeatable)")
    p.add_argument("--override", nargs=2, metavar=("MRN", "TIER"), help="set a patient's tier (1-4, or 'none' to clear)")
    p.add_argument("--reason", help="why (required with --override)")
    p.add_argument("--user", help="who decided (default: the operating-system user)")


def _cmd_risk(args: argparse.Namespace) -> int:
    from panelmanager.core.patients import PatientNotFound, find_patient
    from panelmanager.core.risk import current_tiers, override_risk_tier
    from panelmanager.core.settings import load_settings

    if args.override:
        mrn, tier_text = args.override
        if not args.reason:
            raise CommandError("--override needs --reason: say why the tier is changed.")
        tier = None if tier_text.lower() in ("none", "clear", "-") else tier_text
        if tier is not None and tier not in ("1", "2", "3", "4"):
            raise CommandError(f"--override {mrn} {tier_text}: the tier is 1, 2, 3, 4 or 'none'.")
        with registry_work(args) as work:
            try:
                patient_id = find_patient(work.session, mrn).id
            except PatientNotFound:
                raise CommandError(f"--override: no patient with MRN {mrn!r}.") from None
            done = override_risk_tier(work.session, patient_id, None if tier is None else int(tier), args.reason,
                                      current_user())
        what = f"tier {done.tier}" if done.tier is not None else "the computed tier (override cleared)"
        print(f"Patient {mrn} now uses {what}.")
        return EXIT_OK
    with registry_work(args, progress=not args.json, cancel=True) as work:
        as_of = as_of_for(args, load_settings(work.session))
        tiers = current_tiers(work.session, as_of, progress=work.progress, cancel=work.cancel)
    shown = tiers[tiers["tier"].isin(args.tier)] if args.tier else tiers
    summary = {
        "as_of": as_of.isoformat(),
        "patients": int(len(tiers)),
        "tiers": {str(t): int((tiers["tier"] == t).sum()) for t in (1, 2, 3, 4)},
        "computed_tiers": {str(t): int((tiers["computed_tier"] == t).sum()) for t in (1, 2, 3, 4)},
        "overrides": int(tiers["override_tier"].notna().sum()),
    }
    if args.json:
        patients = shown.rename(columns={"mrn": "patient"}).drop(columns=["patient_id"])
        patients = patients.astype(object).where(patients.notna(), None)
        print_json({**summary, "rows": patients.to_dict(orient="records")})
        return EXIT_OK
    labels = {1: "low", 2: "rising", 3: "high", 4: "complex"}
    print(f"Risk tiers as of {as_of.isoformat()}: {summary['patients']:,} active patients")
    for t in (1, 2, 3, 4):
        print(f"  tier {t} ({labels[t]:<7}) {summary['tiers'][str(t)]:>8,}   computed {summary['computed_tiers'][str(t)]:>8,}")
    print(f"  overrides in force: {summary['overrides']:,}")
    if args.list:
        ordered = shown.sort_values(["tier", "score"], ascending=False)
        for row in ordered.itertuples(index=False):
            override = f" (override of {row.computed_tier}: {row.override_reason})" if _notna(row.override_tier) else ""
            print(f"{row.mrn}\ttier {row.tier}{override}\t{row.score:g} points\t{row.reasons}")
    return EXIT_OK


def _notna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.notna(value))



COMMANDS = [
    ("measures", _add_measures, _cmd_measures),
    ("gaps", _add_gaps, _cmd_gaps),
    ("risk", _add_risk, _cmd_risk),
]
