"""The empanelment commands: assign, review, confirm, reassign, history, panels, milestone, inactivate,
export-assignments."""

from __future__ import annotations

import argparse
import sys

from panelmanager.cli._common import (
    EXIT_OK,
    CommandError,
    LazyChoices,
    acting_user,
    as_of_for,
    find_provider_id,
    isna,
    parse_date,
    plain,
    print_json,
    refuse_user_option,
    registry_work,
)


def _add_assign(sub) -> None:
    p = sub.add_parser(
        "assign",
        help="assign every active patient to a panel (4-cut method) and build a review",
        description=(
            "Run the 4-cut assignment over the look-back window ending on --as-of and store the "
            "proposals (new assignments, changes, drops, patients needing assignment) as a review. "
            "Panels change only when the review is accepted: with --apply, or later with "
            "'panelmanager review ID --accept-all'. Confirmed assignments are kept unless a change is "
            "accepted item by item."
        ),
    )
    p.add_argument("--as-of", type=parse_date, help="the review date (default: today or the settings' as-of date)")
    p.add_argument("--lookback-months", type=int, help="look-back window in months (default: the setting, 18)")
    p.add_argument("--apply", action="store_true", help="accept the whole review at once")
    p.add_argument("--json", action="store_true", help="print one object per patient")
    refuse_user_option(p)


def _cmd_assign(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import accept_review_items, build_review
    from panelmanager.core.providers import panel_holder_problem
    from panelmanager.core.settings import load_settings

    if args.lookback_months is not None and args.lookback_months < 1:
        raise CommandError("--lookback-months must be at least 1")
    with registry_work(args, progress=not args.json, cancel=True) as work:
        settings = load_settings(work.session)
        user = acting_user(settings)
        summary = build_review(
            work.session,
            as_of=as_of_for(args, settings),
            lookback_months=args.lookback_months,
            user=user,
            progress=work.progress,
            cancel=work.cancel,
        )
        decision = accept_review_items(work.session, summary.review_id, user=user) if args.apply else None
        problem = panel_holder_problem(work.session)  # issue 9: say why no one could be assigned
    if problem:
        print(f"panelmanager assign: {problem}", file=sys.stderr)
    if args.json:
        print_json(summary.rows())
        return EXIT_OK
    print(
        f"Review {summary.review_id} as of {summary.as_of} (look-back {summary.lookback_months} months, "
        f"visits since {summary.window_start}):"
    )
    print(f"  new assignments   {summary.new:>8,}")
    print(f"  changes           {summary.changes:>8,}")
    print(f"  held changes      {summary.held:>8,}   (confirmed assignments kept unless accepted one by one)")
    print(f"  drops             {summary.drops:>8,}")
    print(f"  needs assignment  {summary.unassigned:>8,}")
    print(f"  unchanged         {summary.unchanged:>8,}")
    print(f"  kept              {summary.kept:>8,}")
    moves = summary.results[summary.results["change"].isin(["change", "drop"]) | summary.results["held"]]
    for row in moves.head(20).itertuples(index=False):
        target = row.proposed_provider if row.held else row.provider
        print(f"    {row.mrn}: {row.current_provider or '-'} -> {target or '-'}  {row.reason}")
    if len(moves) > 20:
        print(f"    ... and {len(moves) - 20:,} more (panelmanager review {summary.review_id})")
    if decision is not None:
        print(
            f"Accepted: {decision.accepted:,} applied, {decision.kept:,} confirmed assignments kept, "
            f"{decision.stale:,} skipped as stale; review {decision.status}."
        )
    else:
        print(f"Nothing changed yet. Accept with: panelmanager review {summary.review_id} --accept-all")
    return EXIT_OK


def _add_review(sub) -> None:
    p = sub.add_parser(
        "review",
        help="list a panel review's items and accept or reject them",
        description="Show a review (default: the latest) and accept or reject its items, one by one or all.",
    )
    p.add_argument("review_id", nargs="?", type=int, help="the review (default: the latest)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--accept", type=int, nargs="+", metavar="ITEM", help="accept these items")
    group.add_argument("--reject", type=int, nargs="+", metavar="ITEM", help="reject these items")
    group.add_argument("--accept-all", action="store_true", help="accept every pending item (held changes are kept)")
    group.add_argument("--reject-all", action="store_true", help="reject every pending item")
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    refuse_user_option(p)


def _cmd_review(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import accept_review_items, reject_review_items, review_items
    from panelmanager.core.reviews import get_review, latest_review_id
    from panelmanager.core.settings import load_settings

    with registry_work(args, write=True) as work:
        settings = load_settings(work.session)
        user = acting_user(settings)
        review_id = args.review_id
        if review_id is None:
            review_id = latest_review_id(work.session)
            if review_id is None:
                raise CommandError("There is no review yet; run 'panelmanager assign' first.")
        decision = None
        if args.accept or args.accept_all:
            decision = accept_review_items(work.session, review_id, args.accept, user=user)
        elif args.reject or args.reject_all:
            decision = reject_review_items(work.session, review_id, args.reject, user=user)
        items = review_items(work.session, review_id)
        info = get_review(work.session, review_id)
    if args.json:
        print_json(
            {
                "review": info,
                "decision": decision,
                "items": [
                    {k: (None if not isinstance(v, str) and v is not None and isna(v) else plain(v)) for k, v in row.items()}
                    for row in items.to_dict("records")
                ],
            }
        )
        return EXIT_OK
    print(
        f"Review {info.id} as of {info.as_of} by {info.created_by or '-'}: {info.status}; "
        f"{info.pending:,} pending, {info.new:,} new, {info.changes:,} changes, {info.drops:,} drops, "
        f"{info.unassigned:,} need assignment"
    )
    if decision is not None:
        print(
            f"  accepted {decision.accepted:,}, rejected {decision.rejected:,}, kept {decision.kept:,}, "
            f"stale {decision.stale:,}"
        )
    for row in items.itertuples(index=False):
        held = " (held: confirmed)" if row.held else ""
        print(
            f"  [{row.id}] {row.kind:<10} {row.decision:<10} {row.mrn}: "
            f"{row.old_provider if isinstance(row.old_provider, str) else '-'} -> "
            f"{row.new_provider if isinstance(row.new_provider, str) else '-'}{held}  {row.reason}"
        )
    return EXIT_OK


def _add_confirm(sub) -> None:
    p = sub.add_parser(
        "confirm",
        help="record a provider's or a patient's confirmation of the patient's panel",
        description=(
            "A provider reviewing their panel list marks a patient mine / not-mine; a patient at "
            "scheduling or check-in confirms their provider, changes to another (recorded as their "
            "preference and applied at once), or declines to answer."
        ),
    )
    p.add_argument("mrn", metavar="MRN", help="the patient's MRN")
    p.add_argument("--by", required=True, choices=["patient", "provider"], help="who confirms")
    p.add_argument(
        "--outcome",
        metavar="OUTCOME",
        choices=LazyChoices("panelmanager.core.empanelment", "PATIENT_OUTCOMES", "PROVIDER_OUTCOMES"),
        help="patient: confirmed (default), changed, declined; provider: mine (default), not-mine",
    )
    p.add_argument("--provider", metavar="ID", help="provider external id or NPI (default: the current provider)")
    p.add_argument(
        "--method",
        metavar="METHOD",
        choices=LazyChoices("panelmanager.core.empanelment", "METHODS"),
        help="how it was recorded: %(choices)s",
    )
    p.add_argument("--reason", help="why (e.g. for not-mine)")
    p.add_argument("--as-of", type=parse_date, help="the date recorded (default: today)")
    refuse_user_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _cmd_confirm(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import confirm_assignment
    from panelmanager.core.patients import find_patient
    from panelmanager.core.settings import load_settings

    with registry_work(args, write=True) as work:
        settings = load_settings(work.session)
        patient = find_patient(work.session, args.mrn)
        provider_id = find_provider_id(work.session, args.provider) if args.provider else None
        result = confirm_assignment(
            work.session,
            patient.id,
            by=args.by,
            outcome=args.outcome,
            provider_id=provider_id,
            method=args.method,
            reason=args.reason,
            user=acting_user(settings),
            as_of=as_of_for(args, settings),
        )
    if args.json:
        print_json(result)
    else:
        print(result.message)
    return EXIT_OK


def _add_reassign(sub) -> None:
    p = sub.add_parser("reassign", help="move a patient to another panel by hand (with a reason)")
    p.add_argument("mrn", metavar="MRN", help="the patient's MRN")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--provider", metavar="ID", help="provider external id or NPI")
    target.add_argument("--none", action="store_true", help="take the patient off any panel")
    p.add_argument("--reason", required=True, help="why (kept in the history)")
    p.add_argument("--as-of", type=parse_date, help="the date of the change (default: today)")
    refuse_user_option(p)


def _cmd_reassign(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import reassign_patient
    from panelmanager.core.patients import find_patient
    from panelmanager.core.providers import find_provider
    from panelmanager.core.settings import load_settings

    with registry_work(args, write=True) as work:
        settings = load_settings(work.session)
        patient = find_patient(work.session, args.mrn)
        provider = None if args.none else find_provider(work.session, args.provider, name_part=True)
        where = provider.display_name if provider else "no panel"
        change = reassign_patient(
            work.session,
            patient.id,
            provider.id if provider else None,
            reason=args.reason,
            user=acting_user(settings),
            as_of=as_of_for(args, settings),
        )
    print(f"Patient {args.mrn}: {'moved to' if change.changed else 'already on'} {where}.")
    return EXIT_OK


def _add_history(sub) -> None:
    p = sub.add_parser("history", help="every change of a patient's panel assignment")
    p.add_argument("mrn", metavar="MRN", help="the patient's MRN")
    p.add_argument("--json", action="store_true", help="print JSON")


def _cmd_history(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import assignment_history
    from panelmanager.core.patients import find_patient

    with registry_work(args) as work:
        entries = assignment_history(work.session, find_patient(work.session, args.mrn).id)
    if args.json:
        print_json(entries)
        return EXIT_OK
    if not entries:
        print(f"Patient {args.mrn} has never been on a panel.")
    for e in entries:
        print(
            f"{e.changed_at:%Y-%m-%d %H:%M} (effective {e.effective_on}) {e.from_provider or '-'} -> "
            f"{e.to_provider or '-'} by {e.user or '-'}: {e.reason}"
        )
    return EXIT_OK


def _add_panels(sub) -> None:
    p = sub.add_parser(
        "panels",
        help="panel sizes against targets, weighted sizes, continuity",
        description=(
            "Per provider: patients assigned, age/sex-weighted panel, target panel (visits per day x "
            "clinic days per year / the practice's visits per patient per year), percent of target, "
            "open or closed, and continuity. With --unassigned: patients who visit but are on no panel."
        ),
    )
    p.add_argument("--as-of", type=parse_date, help="the date (default: today or the settings' as-of date)")
    p.add_argument("--unassigned", action="store_true", help="list patients who visit but are on no panel")
    p.add_argument("--json", action="store_true", help="print JSON")


def _cmd_panels(args: argparse.Namespace) -> int:
    from panelmanager.core.capacity import panel_overview, unassigned_visiting
    from panelmanager.core.settings import load_settings

    with registry_work(args) as work:
        as_of = as_of_for(args, load_settings(work.session))
        if args.unassigned:
            visitors = unassigned_visiting(work.session, as_of)
        else:
            overview = panel_overview(work.session, as_of)
    if args.unassigned:
        if args.json:
            print_json(visitors)
        else:
            print(f"{len(visitors):,} patients visit but are on no panel (as of {as_of}):")
            for v in visitors:
                print(f"  {v.mrn:<20} {v.name[:30]:<30} {v.visits:>4} visits, last {v.last_visit}, most with {v.most_seen_provider}")
        return EXIT_OK
    rows, care, shares, visitors = overview.rows, overview.continuity, overview.shares, overview.unassigned or []
    per_visit, basis = overview.visits_per_patient_year, overview.basis
    if args.json:
        import dataclasses

        print_json([{**dataclasses.asdict(r), "continuity": shares.get(r.provider_id)} for r in rows])
        return EXIT_OK
    print(f"Panels as of {as_of}; target = visits/day x clinic days/year / {per_visit:.2f} visits per patient per year")
    print(f"  ({basis})")
    print(f"  {'Provider':<28} {'Assigned':>8} {'Weighted':>9} {'Target':>7} {'% target':>9} {'Continuity':>10}  Panel")
    empty = [r for r in rows if r.assigned == 0]
    for r in rows:
        if r.assigned == 0 and len(empty) > 10:
            continue  # e.g. every clinician of a Synthea export: summarised below
        pct = f"{r.percent_of_target:.1f}" if r.percent_of_target is not None else "-"
        share = shares.get(r.provider_id)
        cont = f"{100 * share:.1f}%" if share is not None else "-"
        state = ("open" if r.open else "closed") if r.holds_panel else "no panel"
        print(f"  {r.name[:28]:<28} {r.assigned:>8,} {r.weighted:>9,.1f} {r.target if r.target is not None else '-':>7} {pct:>9} {cont:>10}  {state}")
    if len(empty) > 10:
        print(f"  ... and {len(empty):,} panel providers with no patients (--json lists them)")
    total = sum(r.assigned for r in rows)
    overall = f"{100 * care.share:.1f}%" if care.share is not None else "-"
    print(f"  {'All panels':<28} {total:>8,}   continuity {overall} ({care.start} to {care.end})")
    print(f"Patients who visit but are on no panel: {len(visitors):,} (panelmanager panels --unassigned)")
    return EXIT_OK


def _add_milestone(sub) -> None:
    p = sub.add_parser("milestone", help="the practice's empanelment level (1-4) and why")
    p.add_argument("--as-of", type=parse_date, help="the date (default: today or the settings' as-of date)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _cmd_milestone(args: argparse.Namespace) -> int:
    from panelmanager.core.capacity import milestone
    from panelmanager.core.settings import load_settings

    with registry_work(args) as work:
        report = milestone(work.session, as_of_for(args, load_settings(work.session)))
    if args.json:
        print_json(report)
        return EXIT_OK
    print(f"Empanelment level {report.level} of 4 as of {report.as_of}: {report.label}")
    for reason in report.reasons:
        print(f"  {reason}")
    if report.missing:
        print(f"For level {report.level + 1}:")
        for item in report.missing:
            print(f"  - {item}")
    return EXIT_OK


def _add_inactivate(sub) -> None:
    p = sub.add_parser(
        "inactivate",
        help="suggest (and with --apply, make) inactive: died, moved, not seen for years",
        description=(
            "List patients who died, moved, or have not been seen for --years (default: the setting, 3). "
            "With --apply they are marked inactive (deceased / moved) and leave their panels; their "
            "history stays."
        ),
    )
    p.add_argument("--as-of", type=parse_date, help="the date (default: today or the settings' as-of date)")
    p.add_argument("--years", type=int, help="not seen for this many years (default: the setting, 3)")
    p.add_argument("--apply", action="store_true", help="inactivate every suggested patient")
    p.add_argument("--json", action="store_true", help="print JSON")
    refuse_user_option(p)


def _cmd_inactivate(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import inactivate_patients, suggest_inactivations
    from panelmanager.core.settings import load_settings

    with registry_work(args) as work:
        settings = load_settings(work.session)
        as_of = as_of_for(args, settings)
        suggestions = suggest_inactivations(work.session, as_of=as_of, years=args.years)
        result = None
        if args.apply and suggestions:
            result = inactivate_patients(
                work.session, [s.patient_id for s in suggestions], as_of=as_of, user=acting_user(settings)
            )
    if args.json:
        print_json({"suggestions": suggestions, "result": result})
        return EXIT_OK
    print(f"{len(suggestions):,} patients to inactivate as of {as_of}:")
    for s in suggestions:
        print(f"  {s.mrn:<20} {s.name[:30]:<30} {s.kind:<9} {s.reason}" + (f" (panel {s.provider})" if s.provider else ""))
    if result is not None:
        print(f"Inactivated {result.inactivated:,}; {result.dropped_from_panels:,} left their panels.")
    elif suggestions:
        print("Nothing changed; run again with --apply to inactivate them.")
    return EXIT_OK


def _add_export_assignments(sub) -> None:
    p = sub.add_parser(
        "export-assignments",
        help="write every active patient's panel to a CSV for the PM system",
        description="MRN, name, DOB, provider NPI and name, status, cut and the assigned and confirmed dates.",
    )
    p.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV to write (it holds patient data)")


def _cmd_export_assignments(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import export_assignments

    with registry_work(args) as work:
        try:
            count = export_assignments(work.session, args.out)
        except OSError as exc:
            raise CommandError(f"Cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {count:,} patients to {args.out}")
    return EXIT_OK



COMMANDS = [
    ("assign", _add_assign, _cmd_assign),
    ("review", _add_review, _cmd_review),
    ("confirm", _add_confirm, _cmd_confirm),
    ("reassign", _add_reassign, _cmd_reassign),
    ("history", _add_history, _cmd_history),
    ("panels", _add_panels, _cmd_panels),
    ("milestone", _add_milestone, _cmd_milestone),
    ("inactivate", _add_inactivate, _cmd_inactivate),
    ("export-assignments", _add_export_assignments, _cmd_export_assignments),
]
