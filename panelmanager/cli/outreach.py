"""The outreach commands: letters (with labels, call list, portal and text exports), outreach-log, outreach-report."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from panelmanager.cli._common import (
    EXIT_OK,
    CommandError,
    LazyChoices,
    acting_user,
    as_of_for,
    check_suffix,
    find_provider_id,
    parse_date,
    print_json,
    refuse_user_option,
    registry_work,
    writing,
)


def _print_skipped(skipped, what: str) -> None:
    if not skipped:
        return
    print(f"{len(skipped)} patient{'s' if len(skipped) != 1 else ''} {what}:")
    for _pid, mrn, name, reason in skipped:
        print(f"  {mrn:<14} {name:<32} {reason}")


def _add_letters(sub) -> None:
    p = sub.add_parser(
        "letters",
        help="print outreach letters (and labels, call list, portal export) for open gaps",
        description=(
            "Build the outreach list for the measure(s) (patients with an open gap, filtered as asked) and "
            "write one letter per patient (or per patient and gap) in the patient's language, English "
            "when there is no template for it. Optionally also mailing labels (Avery 5160), a call list "
            "(.csv, .xlsx or .pdf) and portal / text-message exports. Patients without a usable address are "
            "listed, not dropped silently. Letters and exports are logged as outreach unless --no-log. "
            "With --calibration-page alone, writes the envelope-window check page."
        ),
    )
    p.add_argument("--measure", action="append", default=[], metavar="ID",
                   help="measure id (repeatable, or comma-separated)")
    p.add_argument("--provider", metavar="ID", help="only this provider's patients (id, NPI or name)")
    p.add_argument("--as-of", type=parse_date, help="the date of the gaps and the letters (default: today)")
    p.add_argument("--language", metavar="CODE", help="only patients whose letters are in this language (en, es)")
    p.add_argument("--age-min", type=int, help="only patients at least this old")
    p.add_argument("--age-max", type=int, help="only patients at most this old")
    p.add_argument("--no-upcoming", action="store_true", help="only patients with no appointment booked")
    p.add_argument("--quiet-days", type=int, metavar="N",
                   help="leave out patients contacted in the last N days (default: the practice setting; 0: nobody)")
    per = p.add_mutually_exclusive_group()
    per.add_argument("--one-per-gap", dest="one_per_gap", action="store_true", default=None,
                     help="one single-topic letter per patient and gap")
    per.add_argument("--one-per-patient", dest="one_per_gap", action="store_false",
                     help="one letter per patient listing every gap")
    p.add_argument("--out", metavar="FILE.pdf", help="where to write the letters")
    p.add_argument("--labels", metavar="FILE.pdf", help="also write Avery 5160 mailing labels")
    p.add_argument("--label-start", type=int, metavar="N", help="first free label on the sheet, 1-30")
    p.add_argument("--calls", metavar="FILE", help="also write a call list (.csv, .xlsx or .pdf)")
    p.add_argument("--portal", metavar="FILE.csv", help="also write a patient-portal message export")
    p.add_argument("--texts", metavar="FILE.csv", help="also write a text-message export")
    p.add_argument("--calibration-page", metavar="FILE.pdf", help="write the envelope-window check page")
    p.add_argument("--no-log", action="store_true", help="do not record the letters and exports as outreach")
    refuse_user_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _measure_list(values: list[str]) -> list[str]:
    return [m.strip() for value in values for m in value.split(",") if m.strip()]


def _cmd_letters(args: argparse.Namespace) -> int:
    from panelmanager.core import outreach_run
    from panelmanager.core.outreach import OutreachFilters
    from panelmanager.core.settings import load_settings

    measures = _measure_list(args.measure)
    check_suffix(args.out, "--out", (".pdf",))
    check_suffix(args.labels, "--labels", (".pdf",))
    check_suffix(args.calibration_page, "--calibration-page", (".pdf",))
    check_suffix(args.calls, "--calls", (".csv", ".xlsx", ".pdf"))
    check_suffix(args.portal, "--portal", (".csv",))
    check_suffix(args.texts, "--texts", (".csv",))
    producing = any((args.out, args.labels, args.calls, args.portal, args.texts))
    if not producing and not args.calibration_page:
        raise CommandError("give --out FILE.pdf (and/or --labels, --calls, --portal, --texts), or --calibration-page.")
    if producing and not measures:
        raise CommandError("give --measure ID (repeatable): which gaps the letters are about.")
    run = None
    with registry_work(args, progress=not args.json, cancel=True) as work, writing():
        settings = load_settings(work.session)
        if args.calibration_page:
            outreach_run.write_calibration_page(work.session, args.calibration_page, settings=settings)
        if producing:
            filters = OutreachFilters(
                measure_ids=tuple(measures),
                provider_id=find_provider_id(work.session, args.provider) if args.provider else None,
                age_min=args.age_min,
                age_max=args.age_max,
                language=args.language,
                no_upcoming_appointment=args.no_upcoming,
                quiet_days=args.quiet_days,
            )
            run = outreach_run.run_outreach(
                work.session, as_of_for(args, settings), filters,
                letters=args.out, labels=args.labels, calls=args.calls, portal=args.portal, texts=args.texts,
                one_per_gap=args.one_per_gap, label_start=args.label_start, log=not args.no_log,
                user=acting_user(settings), settings=settings, progress=work.progress, cancel=work.cancel,
            )
    summary = _letters_summary(args, run)
    if args.json:
        print_json(summary)
    else:
        _print_letters(summary)
    return EXIT_OK


def _letters_summary(args: argparse.Namespace, run) -> dict[str, Any]:
    """What ``letters`` made, as printed and as ``--json`` gives it."""
    summary: dict[str, Any] = {}
    if args.calibration_page:
        summary["calibration_page"] = args.calibration_page
    if run is None:
        return summary
    logged = run.logged
    summary.update({"as_of": run.as_of, "patients": run.patients, "gaps": run.gaps, "left_out": run.left_out,
                    "batch": logged.batch if logged else None})
    if run.letters is not None:
        summary["letters"] = {"out": args.out, "letters": run.letters.letters, "pages": run.letters.pages,
                              "languages": dict(run.letters.languages),
                              "no_address": [list(s) for s in run.letters.skipped]}
    if run.labels is not None:
        summary["labels"] = {"out": args.labels, "labels": run.labels.items, "pages": run.labels.pages,
                             "start_position": run.label_start}
    if run.calls is not None:
        summary["calls"] = {"out": args.calls, "patients": run.calls.items,
                            "no_phone": [list(s) for s in run.calls.skipped]}
    for channel, path in (("portal", args.portal), ("text", args.texts)):
        export = getattr(run, channel)
        if export is not None:
            summary[channel] = {"out": path, "patients": export.items,
                                "unreachable": [list(s) for s in export.skipped]}
    summary["logged"] = logged.rows if logged else 0
    return summary


def _print_letters(summary: dict[str, Any]) -> None:
    if "calibration_page" in summary:
        print(f"Envelope calibration page written to {summary['calibration_page']}.")
    if "patients" not in summary:
        return
    print(f"Outreach list as of {summary['as_of'].isoformat()}: {summary['patients']} patients, "
          f"{summary['gaps']} open gaps.")
    for reason, count in summary["left_out"].items():
        print(f"  left out: {count} ({reason})")
    if "letters" in summary:
        info = summary["letters"]
        languages = ", ".join(f"{n} {lang}" for lang, n in sorted(info["languages"].items()))
        print(f"Letters: {info['letters']} ({languages or 'none'}) in {info['pages']} pages -> {info['out']}")
        _print_skipped(info["no_address"], "got no letter")
    if "labels" in summary:
        info = summary["labels"]
        print(f"Labels: {info['labels']} on {info['pages']} sheets from position {info['start_position']} "
              f"-> {info['out']}")
    if "calls" in summary:
        info = summary["calls"]
        print(f"Call list: {info['patients']} patients -> {info['out']}")
        _print_skipped(info["no_phone"], "are not on the call list")
    for channel in ("portal", "text"):
        if channel in summary:
            info = summary[channel]
            print(f"{channel.capitalize()} export: {info['patients']} patients -> {info['out']}")
            _print_skipped(info["unreachable"], f"are not in the {channel} export")
    if summary.get("batch") and summary.get("logged"):
        print(f"Logged {summary['logged']} outreach rows (batch {summary['batch']}).")


def _add_outreach_log(sub) -> None:
    p = sub.add_parser(
        "outreach-log",
        help="record a call, message or conversation with a patient",
        description="Record one outreach contact with the patient whose MRN is given: how, with what result, "
        "about which gap. With --withdraw BATCH, withdraw a mailing logged by mistake instead (same day, by "
        "the user who logged it; the log keeps that it was withdrawn, by whom and when).",
    )
    p.add_argument("mrn", metavar="MRN", nargs="?", help="the patient's MRN")
    p.add_argument("--withdraw", metavar="BATCH", help="withdraw the logged batch BATCH (printed when it was logged)")
    p.add_argument(
        "--method",
        metavar="METHOD",
        choices=LazyChoices("panelmanager.core.outreach", "METHODS"),
        help="how the patient was contacted (required with MRN): %(choices)s",
    )
    p.add_argument(
        "--outcome",
        metavar="OUTCOME",
        choices=LazyChoices("panelmanager.core.outreach", "OUTCOMES"),
        help="what came of it: %(choices)s",
    )
    p.add_argument("--measure", metavar="ID", help="the gap it was about (measure id)")
    p.add_argument("--note", help="a short note")
    p.add_argument("--when", metavar="DATE[THH:MM]", help="when it happened (default: now)")
    refuse_user_option(p)
    p.add_argument("--json", action="store_true", help="print the logged entry as JSON")


def _parse_when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    if "T" in text or ":" in text:
        try:
            return dt.datetime.fromisoformat(text.strip())
        except ValueError:
            pass
    try:
        return dt.datetime.combine(parse_date(text), dt.time(12, 0))
    except argparse.ArgumentTypeError:
        raise CommandError(
            f"--when {text!r}: write a date (2024-03-04) or a date and time (2024-03-04T14:30)."
        ) from None


def _cmd_outreach_log(args: argparse.Namespace) -> int:
    from panelmanager.core.outreach import log_outreach
    from panelmanager.core.patients import find_patient
    from panelmanager.core.settings import load_settings

    if args.withdraw:
        return _withdraw_outreach(args)
    if not args.mrn or not args.method:
        raise CommandError("give the patient's MRN and --method (or --withdraw BATCH to withdraw a logged mailing).")
    when = _parse_when(args.when)
    with registry_work(args, write=True) as work:
        patient = find_patient(work.session, args.mrn)
        settings = load_settings(work.session)
        entry = log_outreach(work.session, patient.id, args.method, args.outcome, measure=args.measure,
                             note=args.note, user=acting_user(settings), when=when)
    if args.json:
        print_json(entry)
    else:
        about = f" about {entry.measure_id}" if entry.measure_id else ""
        outcome = f": {entry.outcome}" if entry.outcome else ""
        print(f"Logged {entry.method}{about}{outcome} for MRN {args.mrn} at {entry.logged_at:%Y-%m-%d %H:%M}.")
    return EXIT_OK


def _withdraw_outreach(args: argparse.Namespace) -> int:
    from panelmanager.core.outreach import withdraw_outreach_batch
    from panelmanager.core.settings import load_settings

    if args.mrn or args.method or args.outcome or args.measure or args.note:
        raise CommandError("--withdraw BATCH takes no MRN, --method, --outcome, --measure or --note.")
    when = _parse_when(args.when) if args.when else None
    with registry_work(args) as work:
        user = acting_user(load_settings(work.session))
        done = withdraw_outreach_batch(work.session, args.withdraw, user=user, when=when)
    if args.json:
        print_json(done)
    else:
        print(f"Withdrew batch {done.batch}: {done.rows} outreach entries for {done.patients} patients "
              f"(kept in the log as withdrawn by {done.withdrawn_by or '-'} at {done.withdrawn_at:%Y-%m-%d %H:%M}).")
    return EXIT_OK


def _add_outreach_report(sub) -> None:
    p = sub.add_parser(
        "outreach-report",
        help="how many gaps closed within 90 days of outreach, per method and measure",
        description="Per outreach method and measure: patients' gaps contacted, closed within --days of a "
        "contact, not closed, still pending (contacted less than --days ago), and the closed rate.",
    )
    p.add_argument("--as-of", type=parse_date, help="the report date (default: today)")
    p.add_argument("--days", type=int, default=90, help="days after the outreach a closure counts (default 90)")
    p.add_argument("--since", type=parse_date, help="only outreach on or after this date")
    p.add_argument("--json", action="store_true", help="print JSON rows")


def _cmd_outreach_report(args: argparse.Namespace) -> int:
    from panelmanager.core.outreach import gaps_closed_after_outreach
    from panelmanager.core.settings import load_settings

    if args.days < 1:
        raise CommandError("--days must be at least 1")
    with registry_work(args) as work:
        as_of = as_of_for(args, load_settings(work.session))
        table = gaps_closed_after_outreach(work.session, as_of, days=args.days, since=args.since)
    records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    if args.json:
        print_json({"as_of": as_of, "days": args.days, "rows": records})
        return EXIT_OK
    print(f"Gaps closed within {args.days} days of outreach, as of {as_of.isoformat()}")
    if not records:
        print("  No outreach about a measure has been logged yet.")
        return EXIT_OK
    print(f"  {'method':<10} {'measure':<32} {'contacted':>9} {'closed':>7} {'not':>6} {'pending':>8} {'rate':>6}")
    for r in records:
        rate = "-" if r["closed_rate"] is None else f"{100 * r['closed_rate']:.0f}%"
        print(f"  {r['method']:<10} {r['measure']:<32} {r['contacted']:>9} {r['closed']:>7} {r['not_closed']:>6} "
              f"{r['pending']:>8} {rate:>6}")
    return EXIT_OK



COMMANDS = [
    ("letters", _add_letters, _cmd_letters),
    ("outreach-log", _add_outreach_log, _cmd_outreach_log),
    ("outreach-report", _add_outreach_report, _cmd_outreach_report),
]
