"""The ``panelmanager`` command: thin argument parsing over the core services.

With no command it opens the desktop app. Every other command opens the registry
(``--db``, ``PANELMANAGER_DB`` or the default), calls one core service and prints the
result for people or, with ``--json``, for scripts. No business logic lives here, and
Qt is imported only to launch the GUI.

Each issue's commands live in their own section below: a ``_add_<name>`` function that
declares the sub-parser and a ``_cmd_<name>`` function that runs it; ``COMMANDS`` lists
them in the order ``--help`` shows them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from panelmanager import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A message for the user; the command exits with status 1 and no traceback."""


# --------------------------------------------------------------------------- shared helpers


def parse_date(text: str) -> dt.date:
    """argparse type for dates: ISO (2024-02-03) or US (02/03/2024)."""
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2024-02-03")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class TerminalProgress:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = ""

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        total = max(total, 1)
        width = 30
        filled = int(width * min(done, total) / total)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}% {message[:60]:<60}"
        if line != self._last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last = line

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextmanager
def cancellable():
    """A CancelToken that Ctrl+C sets, so a job stops cleanly and rolls back."""
    from panelmanager.core.jobs import CancelToken

    token = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def handler(_signum, _frame):
        if token.cancelled:  # a second Ctrl+C: give up waiting
            raise KeyboardInterrupt
        token.cancel()
        sys.stderr.write("\nCancelling... (the current file will be rolled back)\n")

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (tests)
        pass
    try:
        yield token
    finally:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


def open_registry_for(args: argparse.Namespace):
    from panelmanager.core.db import open_registry

    return open_registry(args.db)


def current_user(args: argparse.Namespace) -> str:
    from panelmanager.core.importers import default_user

    return getattr(args, "user", None) or default_user()


# --------------------------------------------------------------------------- import


def _add_import(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import PM exports (CSV/XLSX) or Synthea CSV folders",
        description=(
            "Import practice-management exports (patients, appointments; CSV or XLSX) or a Synthea "
            "CSV export folder. Each file is all or nothing; rejected rows are listed with their "
            "row number and reason and written to a rejects CSV beside the file. Re-importing the "
            "same file changes nothing."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a CSV/XLSX file or a Synthea folder")
    p.add_argument("--profile", help="column profile: generic, athenahealth, openemr (default: detect)")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="use COLUMN of the file for FIELD (repeatable), e.g. --map dob='Birth Dt'",
    )
    p.add_argument("--dry-run", action="store_true", help="show the counts, write nothing")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument("--user", help="who is importing (default: the operating-system user)")


def _cmd_import(args: argparse.Namespace) -> int:
    from panelmanager.core.importers import run_import

    mapping: dict[str, str] = {}
    for item in args.map:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise CommandError(f"--map {item!r}: write it as FIELD=COLUMN, e.g. --map dob='Birth Date'")
        mapping[field.strip()] = column.strip()
    registry = open_registry_for(args)
    bar = TerminalProgress(enabled=None if not args.json else False)
    try:
        with cancellable() as token:
            outcomes = run_import(
                registry,
                args.paths,
                profile=args.profile,
                mapping=mapping,
                dry_run=args.dry_run,
                user=current_user(args),
                progress=bar,
                cancel=token,
            )
    finally:
        bar.close()
        registry.close()
    if args.json:
        print_json([o.to_json() for o in outcomes])
    else:
        for o in outcomes:
            _print_outcome(o)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _print_outcome(o) -> None:
    if not o.ok:
        print(f"NOT IMPORTED  {o.error}", file=sys.stderr)
        return
    head = "Dry run (nothing written)" if o.dry_run else "Imported"
    profile = f", profile {o.profile}" if o.profile else ""
    print(f"{head}: {o.path} ({o.format}{profile})")
    print(f"  rows read {o.rows_read}: new {o.new}, updated {o.updated}, unchanged {o.unchanged}, rejected {o.rejected}")
    for name, counts in o.tables.items():
        print(f"    {name:<14} new {counts['new']:>8}  updated {counts['updated']:>8}  unchanged {counts['unchanged']:>8}")
    shown = o.rejections[:20]
    for r in shown:
        print(f"  rejected {os.path.basename(r.file_name)} row {r.source_row}: {r.reason}")
    if len(o.rejections) > len(shown):
        print(f"  ... and {len(o.rejections) - len(shown)} more rejected rows")
    if o.rejects_csv:
        print(f"  rejected rows written to {o.rejects_csv}")


# --------------------------------------------------------------------------- stats


def _add_stats(sub) -> None:
    p = sub.add_parser("stats", help="counts of what the registry holds")
    p.add_argument("--json", action="store_true", help="print a JSON object")


def _cmd_stats(args: argparse.Namespace) -> int:
    from panelmanager.core.stats import registry_stats

    registry = open_registry_for(args)
    try:
        with registry.session() as session:
            counts = registry_stats(session)
    finally:
        registry.close()
    if args.json:
        print_json(counts)
    else:
        print(f"Registry: {registry.location}")
        for key, value in counts.items():
            print(f"  {key:<16} {value:>10,}")
    return EXIT_OK


# --------------------------------------------------------------------------- demo


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="fill the registry with a deterministic synthetic practice",
        description=(
            "Generate a synthetic practice (providers, patients of all ages, visit histories, "
            "conditions, labs, vitals, immunizations, screenings, and appointments over the next "
            "two weeks) into the registry. The same --patients and --seed give the same practice."
        ),
    )
    p.add_argument("--patients", type=int, default=2000, help="how many patients (default 2000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--as-of", type=parse_date, default=None, help="the run date (default: today)")


def _cmd_demo(args: argparse.Namespace) -> int:
    from panelmanager.core.demo import load_demo

    if args.patients < 1:
        raise CommandError("--patients must be at least 1")
    registry = open_registry_for(args)
    bar = TerminalProgress()
    try:
        with cancellable() as token:
            summary = load_demo(
                registry,
                patients=args.patients,
                seed=args.seed,
                as_of=args.as_of or dt.date.today(),
                progress=bar,
                cancel=token,
            )
    finally:
        bar.close()
        registry.close()
    print(f"Demo practice loaded into {registry.location}: " + ", ".join(f"{v:,} {k}" for k, v in summary.items()))
    return EXIT_OK


# --------------------------------------------------------------------------- empanelment (issue 3)

# --------------------------------------------------------------------------- care gaps and risk (issue 4)

# --------------------------------------------------------------------------- printing and outreach (issue 6)


# --------------------------------------------------------------------------- the parser

COMMANDS: list[tuple[str, Callable[[Any], None], Callable[[argparse.Namespace], int]]] = [
    ("import", _add_import, _cmd_import),
    ("stats", _add_stats, _cmd_stats),
    ("demo", _add_demo, _cmd_demo),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panelmanager",
        description="Panel Manager: empanelment and panel management for primary care. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"panelmanager {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="registry file or SQLAlchemy URL (default: $PANELMANAGER_DB or the user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.set_defaults(handler=_cmd_gui)
    for _name, add, run in COMMANDS:
        before = set(sub.choices)
        add(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(handler=run)
    return parser


def _cmd_gui(args: argparse.Namespace) -> int:
    from panelmanager.ui.app import main as gui_main

    return gui_main(db=args.db)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or _cmd_gui
    from panelmanager.core.db import RegistryError
    from panelmanager.core.importers.errors import ImportFileError
    from panelmanager.core.jobs import Cancelled

    try:
        return handler(args)
    except (CommandError, RegistryError, ImportFileError) as exc:
        print(f"panelmanager {args.command or 'gui'}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Cancelled as exc:
        print(f"panelmanager {args.command}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head/less that closed early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
