"""The printing commands: the huddle sheet and a provider's panel list to confirm on paper."""

from __future__ import annotations

import argparse

from panelmanager.cli._common import (
    EXIT_OK,
    as_of_for,
    check_suffix,
    find_provider_id,
    parse_date,
    print_json,
    registry_work,
    writing,
)


def _add_huddle(sub) -> None:
    p = sub.add_parser(
        "huddle",
        help="print the huddle sheet for a day (PDF)",
        description=(
            "Write the huddle sheet for DATE: for one provider, or every provider with visits that day "
            "(one section each, starting on a new page). Each row is a visit in time order with the "
            "patient's age/sex, visit type, PCP (flagged when another provider, unconfirmed or none), risk "
            "tier and open care gaps with tick boxes. Landscape Letter; the file contains PHI."
        ),
    )
    p.add_argument("--date", type=parse_date, required=True, help="the clinic day (YYYY-MM-DD)")
    p.add_argument("--provider", metavar="ID", help="registry id, NPI, external id or name (default: all)")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    p.add_argument("--open-only", action="store_true", help="leave out gaps that are met but due soon")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _cmd_huddle(args: argparse.Namespace) -> int:
    from panelmanager.core.printing import print_huddle_sheet

    check_suffix(args.out, "--out", (".pdf",))
    with registry_work(args) as work, writing():
        provider_id = find_provider_id(work.session, args.provider) if args.provider else None
        sheet, result = print_huddle_sheet(work.session, args.date, args.out, provider_id,
                                           include_due_soon=not args.open_only)
    sections = [
        {"provider_id": s.provider_id, "provider": s.provider_name, "patients": len(s.rows),
         "open_gaps": sum(len(r.gaps) for r in s.rows)}
        for s in sheet.sections
    ]
    if args.json:
        print_json({"date": args.date, "out": args.out, "pages": result.pages, "sections": sections})
        return EXIT_OK
    print(f"Huddle sheet for {args.date.isoformat()} written to {args.out} ({result.pages} pages).")
    if not sections:
        print("  No visits on the schedule that day.")
    for s in sections:
        print(f"  {s['provider']}: {s['patients']} visits, {s['open_gaps']} open gaps")
    return EXIT_OK


def _add_panel_review(sub) -> None:
    p = sub.add_parser(
        "panel-list",
        help="print a provider's panel to tick mine / not mine (PDF)",
        description="Write the provider's panel (every assigned active patient with the last visit and why "
        "assigned) with tick boxes Mine / Not mine, for the provider to confirm on paper.",
    )
    p.add_argument("--provider", required=True, metavar="ID", help="registry id, NPI, external id or name")
    p.add_argument("--as-of", type=parse_date, help="the list date (default: today)")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")


def _cmd_panel_review(args: argparse.Namespace) -> int:
    from panelmanager.core.printing import print_panel_list
    from panelmanager.core.reports.common import Letterhead
    from panelmanager.core.settings import load_settings

    check_suffix(args.out, "--out", (".pdf",))
    with registry_work(args) as work, writing():
        settings = load_settings(work.session)
        provider_id = find_provider_id(work.session, args.provider)
        panel, result = print_panel_list(work.session, provider_id, as_of_for(args, settings), args.out,
                                         letterhead=Letterhead.from_settings(settings))
    print(f"Panel review for {panel.provider_name}: {len(panel.rows)} patients in {result.pages} pages -> {args.out}")
    return EXIT_OK


COMMANDS = [
    ("huddle", _add_huddle, _cmd_huddle),
    ("panel-list", _add_panel_review, _cmd_panel_review),
]
