"""The settings commands: practice settings, and providers (list, merge PM user names, edit)."""

from __future__ import annotations

import argparse
from typing import Any

from panelmanager.cli._common import (
    EXIT_OK,
    CommandError,
    acting_user,
    print_json,
    refuse_user_option,
    registry_work,
)


def _add_settings(sub) -> None:
    p = sub.add_parser(
        "settings",
        help="show or change the practice settings (name, address, phone...)",
        description="Show every practice setting, or change one: panelmanager settings set practice_phone '(413) 555-0100'.",
    )
    actions = p.add_subparsers(dest="settings_action", metavar="ACTION")
    show = actions.add_parser("show", help="list every setting with its value and what it is for")
    show.add_argument("--json", action="store_true", help="print a JSON object")
    change = actions.add_parser("set", help="change one setting: set KEY VALUE (an empty VALUE clears it)")
    change.add_argument("key", metavar="KEY", help="the setting's name, as 'settings show' lists it")
    change.add_argument("value", metavar="VALUE", help="the new value")


def _cmd_settings(args: argparse.Namespace) -> int:
    from panelmanager.core.settings_service import display_value, set_setting, show_settings

    action = getattr(args, "settings_action", None) or "show"
    with registry_work(args) as work:
        if action == "show":
            rows = show_settings(work.session)
        else:
            change = set_setting(work.session, args.key, args.value)
    if action == "show":
        if getattr(args, "json", False):
            print_json({r.key: r.value for r in rows})
        else:
            width = max(len(r.key) for r in rows)
            for r in rows:
                text = r.text.replace("\n", " / ") if r.text else "(not set)"
                print(f"{r.key:<{width}}  {text}")
                print(f"{'':<{width}}    {r.kind}: {r.help}")
        return EXIT_OK
    if change.changed:
        print(f"{change.key}: {display_value(change.old) or '(not set)'} -> {display_value(change.new) or '(not set)'}")
    else:
        print(f"{change.key} is already {display_value(change.new) or '(not set)'}; nothing changed.")
    return EXIT_OK


def _add_providers(sub) -> None:
    p = sub.add_parser(
        "providers",
        help="list, merge and edit providers (map PM scheduler user names to clinicians)",
        description=(
            "PM appointment exports often name the scheduler user (GC_Klein_S) instead of the clinician. "
            "Merge each user name into the clinician it stands for (later imports remember it), and "
            "give that clinician a name, NPI, specialty, or 'can hold a panel'."
        ),
    )
    actions = p.add_subparsers(dest="providers_action", metavar="ACTION")
    listing = actions.add_parser("list", help="every provider: id, PM id, name, specialty, NPI, holds a panel")
    listing.add_argument("--all", action="store_true", help="also list providers merged into another")
    listing.add_argument("--json", action="store_true", help="print JSON")
    merge = actions.add_parser("merge", help="merge providers into the one kept: merge KEEP OTHER [OTHER...]")
    merge.add_argument("keep", metavar="KEEP", help="the provider kept (id, PM id, NPI or exact name)")
    merge.add_argument("others", nargs="+", metavar="OTHER", help="providers merged into it")
    refuse_user_option(merge)
    change = actions.add_parser("set", help="change a provider: set PROVIDER --name ... --npi ... --specialty ...")
    change.add_argument("provider", metavar="PROVIDER", help="id, PM id, NPI or exact name")
    change.add_argument("--name", help="the name shown everywhere, e.g. 'Sarah Klein, MD'")
    change.add_argument("--npi", help="the 10-digit NPI (empty to clear)")
    change.add_argument("--specialty", help="e.g. 'FAMILY PRACTICE' (empty to clear)")
    change.add_argument("--credentials", help="e.g. MD, DO, NP, PA")
    change.add_argument("--can-hold-panel", choices=("yes", "no", "default"),
                        help="holds a panel: yes, no, or default (decided by the specialty)")
    change.add_argument("--panel-open", choices=("yes", "no"), help="open to new patients")
    change.add_argument("--fte", type=float, help="full-time equivalent, e.g. 0.8")


def _cmd_providers(args: argparse.Namespace) -> int:
    from panelmanager.core.providers import (
        ProviderMergeError,
        find_provider,
        list_providers,
        merge_providers,
        panel_holder_problem,
        update_provider,
    )
    from panelmanager.core.settings import load_settings

    action = getattr(args, "providers_action", None) or "list"
    with registry_work(args) as work:
        try:
            if action == "list":
                rows = list_providers(work.session, include_merged=args.all if hasattr(args, "all") else False)
                problem = panel_holder_problem(work.session)
            elif action == "merge":
                keep = find_provider(work.session, args.keep)
                others = [find_provider(work.session, o).id for o in args.others]
                user = acting_user(load_settings(work.session))
                result = merge_providers(work.session, keep.id, others, user=user)
            else:
                provider = find_provider(work.session, args.provider)
                changes: dict[str, Any] = {}
                for option, field in (("name", "display_name"), ("npi", "npi"), ("specialty", "specialty"),
                                      ("credentials", "credentials"), ("fte", "fte")):
                    if getattr(args, option) is not None:
                        changes[field] = getattr(args, option)
                if args.can_hold_panel is not None:
                    changes["can_hold_panel"] = {"yes": True, "no": False, "default": None}[args.can_hold_panel]
                if args.panel_open is not None:
                    changes["panel_open"] = args.panel_open == "yes"
                if not changes:
                    raise CommandError("nothing to change: give --name, --npi, --specialty, --credentials, "
                                       "--can-hold-panel, --panel-open or --fte.")
                row = update_provider(work.session, provider.id, **changes)
        except (ValueError, ProviderMergeError) as exc:
            raise CommandError(str(exc)) from None
    if action == "list":
        if getattr(args, "json", False):
            print_json(rows)
            return EXIT_OK
        print(f"{'id':>5}  {'PM id':<18} {'name':<28} {'specialty':<20} {'NPI':<10}  panel")
        for r in rows:
            panel = "yes" if r.holds_panel else "no"
            if r.can_hold_panel is None:
                panel += " (by specialty)"
            if r.merged_into_id:
                panel = f"merged into {r.merged_into_name}"
            print(f"{r.id:>5}  {r.external_id[:18]:<18} {r.display_name[:28]:<28} {(r.specialty or '')[:20]:<20} "
                  f"{r.npi or '':<10}  {panel}")
            if r.also_known_as:
                print(f"{'':>5}  also imported as: {', '.join(r.also_known_as)}")
        if problem:
            print(f"\n{problem}")
        return EXIT_OK
    if action == "merge":
        names = ", ".join(name for _id, name in result.merged)
        moved = sum(result.moved.values())
        print(f"Merged {names} into {result.kept_name}: {moved:,} references moved, "
              f"{result.panels_moved:,} patients' panels moved (with history). Later imports of "
              f"{'these user names' if len(result.merged) > 1 else 'this user name'} land on {result.kept_name}.")
        return EXIT_OK
    panel = "yes" if row.holds_panel else "no"
    print(f"{row.display_name} (id {row.id}, PM id {row.external_id}): specialty {row.specialty or '-'}, "
          f"NPI {row.npi or '-'}, holds a panel: {panel}")
    return EXIT_OK



COMMANDS = [
    ("settings", _add_settings, _cmd_settings),
    ("providers", _add_providers, _cmd_providers),
]
