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

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A message for the user; the command exits with status 1 and no traceback."""


class LazyChoices:
    """argparse ``choices`` kept in a core module, imported only when a value is checked or a
    command's own help is shown: ``panelmanager --help`` must not load pandas or SQLAlchemy.
    Give the argument a ``metavar`` and put ``%(choices)s`` in its help."""

    def __init__(self, module: str, *names: str) -> None:
        self._module, self._names = module, names

    def _values(self) -> tuple[str, ...]:
        import importlib

        module = importlib.import_module(self._module)
        return tuple(value for name in self._names for value in getattr(module, name))

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self):
        return iter(self._values())


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
    if isinstance(value, os.PathLike):
        return os.fspath(value)
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

    unlock_registry_for(args)
    registry = open_registry(args.db, create=bool(getattr(args, "create", False)))
    _daily_backup(registry)
    return registry


def unlock_registry_for(args: argparse.Namespace) -> None:
    """An encrypted SQLite registry without a key at hand: ask for its passphrase on a terminal."""
    from panelmanager.core.db import is_sqlite, resolve_registry_url
    from panelmanager.core.encryption import EncryptionError, needs_unlock, unlock_registry

    url = resolve_registry_url(args.db)
    if not is_sqlite(url) or not url.database or not needs_unlock(url.database):
        return
    if not sys.stdin.isatty():
        return  # open_registry says how to give the passphrase
    import getpass

    for _attempt in range(3):
        try:
            unlock_registry(url.database, getpass.getpass(f"Passphrase for {url.database}: "))
            return
        except EncryptionError as exc:
            print(exc, file=sys.stderr)
    raise CommandError("the registry stays locked.")


def _daily_backup(registry) -> None:
    """The automatic daily backup; a failure is a warning, never a reason not to work."""
    from panelmanager.core.backup import auto_backup

    try:
        auto_backup(registry)
    except Exception as exc:  # noqa: BLE001 - disk full, folder read-only...
        print(f"panelmanager: warning: the daily backup could not be made ({type(exc).__name__}: "
              f"{getattr(exc, 'strerror', None) or exc}).", file=sys.stderr)


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
            "row number and reason and kept in the registry's import history (write them to a file "
            "with --rejects FILE or 'panelmanager rejects export'). Re-importing the same file changes nothing."
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
    p.add_argument(
        "--encoding",
        metavar="CODEC",
        help="text encoding of CSV exports, e.g. cp1252 or utf-8 (default: UTF-8 when the file is valid "
        "UTF-8, else the profile's encoding, else Windows-1252)",
    )
    p.add_argument("--dry-run", action="store_true", help="show the counts and a few sample names, write nothing")
    p.add_argument("--rejects", metavar="FILE.csv",
                   help="also write the rejected rows (they hold patient data) to this CSV")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument("--user", help="who is importing (default: the operating-system user)")


def _cmd_import(args: argparse.Namespace) -> int:
    from panelmanager.core.importers import run_import

    _check_suffix(args.rejects, "--rejects", (".csv",))
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
                encoding=args.encoding,
            )
    finally:
        bar.close()
        registry.close()
    rejects_error = _write_import_rejects(args, outcomes)
    if args.json:
        print_json([o.to_json() for o in outcomes])
    else:
        for o in outcomes:
            _print_outcome(o)
    if rejects_error:
        raise CommandError(rejects_error)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _write_import_rejects(args: argparse.Namespace, outcomes) -> str | None:
    """``import --rejects FILE``: every rejected row in one CSV, only when asked."""
    rejected = [r for o in outcomes for r in o.rejections]
    if not args.rejects or args.dry_run or not rejected:
        return None
    from pathlib import Path

    from panelmanager.core.importers import write_rejects_csv

    try:
        written = str(write_rejects_csv(Path(args.rejects), rejected))
    except OSError as exc:
        return (f"cannot write {args.rejects}: {exc.strerror or exc}. The import itself is kept; its rejected "
                "rows are in the import history ('panelmanager rejects export --out FILE').")
    for o in outcomes:
        if o.rejections:
            o.rejects_csv = written
    return None


def _print_outcome(o) -> None:
    if not o.ok:
        print(f"NOT IMPORTED  {o.error}", file=sys.stderr)
        return
    head = "Dry run (nothing written)" if o.dry_run else "Imported"
    profile = f", profile {o.profile}" if o.profile else ""
    encoding = f", read as {o.encoding}" if o.encoding else ""
    print(f"{head}: {o.path} ({o.format}{profile}{encoding})")
    print(f"  {o.rows_summary()}")
    if len(o.files) > 1:
        for name, f in o.files.items():
            extra = "".join(
                f", {f[key]:,} {label}" for key, label in (("duplicates", "exact duplicates"), ("skipped", "skipped")) if f.get(key)
            )
            print(f"    {os.path.basename(name):<22} {f['read']:>8,} read: {f['imported']:,} imported, {f['rejected']:,} rejected{extra}")
    for name, counts in o.tables.items():
        print(f"    {name:<14} new {counts['new']:>8}  updated {counts['updated']:>8}  unchanged {counts['unchanged']:>8}")
    if o.sample_names:
        print(f"  sample names (check the accents): {', '.join(o.sample_names)}")
    shown = o.rejections[:20]
    for r in shown:
        print(f"  rejected {os.path.basename(r.file_name)} row {r.source_row}: {r.reason}")
    if len(o.rejections) > len(shown):
        print(f"  ... and {len(o.rejections) - len(shown)} more rejected rows")
    dupes = o.duplicate_rows[:20]
    for d in dupes:
        print(f"  exact duplicate {os.path.basename(d.file_name)} row {d.source_row}: {d.reason}")
    if len(o.duplicate_rows) > len(dupes):
        print(f"  ... and {len(o.duplicate_rows) - len(dupes)} more exact duplicates")
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


class _StepLines:
    """Progress as plain lines on stderr (every 10%, or a new step), for a log or a pipe."""

    def __init__(self) -> None:
        self._last = (-1, "")

    def __call__(self, done: int, total: int, message: str = "") -> None:
        percent = 100 * min(done, total) // max(total, 1)
        key = (percent // 10, message)
        if key != self._last:
            self._last = key
            print(f"  {percent:3d}% {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def _cmd_demo(args: argparse.Namespace) -> int:
    from panelmanager.core.demo import load_demo

    if args.patients < 1:
        raise CommandError("--patients must be at least 1")
    registry = open_registry_for(args)
    bar = TerminalProgress()
    if not bar.enabled:  # not a terminal (a log, a pipe): one line per step instead of a bar
        bar = _StepLines()
    print(f"Making a demo practice of {args.patients:,} patients (Ctrl+C cancels; nothing is kept)...",
          file=sys.stderr, flush=True)
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


@contextmanager
def _empanelment_errors():
    """Empanelment and resource-file errors are messages for the user, not tracebacks."""
    from panelmanager.core.empanelment import EmpanelmentError
    from panelmanager.core.resources import ResourceError

    try:
        yield
    except (EmpanelmentError, ResourceError) as exc:
        raise CommandError(str(exc)) from None


def _empanelment_user(args: argparse.Namespace, settings) -> str:
    """--user, else the user name in the practice settings, else the operating-system user."""
    return getattr(args, "user", None) or settings.user_name or current_user(args)


def _as_of(args: argparse.Namespace, settings) -> dt.date:
    from panelmanager.core.settings import effective_as_of

    return getattr(args, "as_of", None) or effective_as_of(settings)


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
    p.add_argument("--user", help="who runs the review (default: the settings' user or the operating-system user)")


def _cmd_assign(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import accept_review_items, build_review
    from panelmanager.core.settings import load_settings

    if args.lookback_months is not None and args.lookback_months < 1:
        raise CommandError("--lookback-months must be at least 1")
    registry = open_registry_for(args)
    bar = TerminalProgress(enabled=None if not args.json else False)
    try:
        with _empanelment_errors(), cancellable() as token, registry.session() as session:
            settings = load_settings(session)
            user = _empanelment_user(args, settings)
            summary = build_review(
                session,
                as_of=_as_of(args, settings),
                lookback_months=args.lookback_months,
                user=user,
                progress=bar,
                cancel=token,
            )
            decision = accept_review_items(session, summary.review_id, user=user) if args.apply else None
            from panelmanager.core.providers import panel_holder_problem

            problem = panel_holder_problem(session)  # issue 9: say why no one could be assigned
    finally:
        bar.close()
        registry.close()
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
    p.add_argument("--user", help="who decides (default: the settings' user or the operating-system user)")


def _cmd_review(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import accept_review_items, list_reviews, reject_review_items, review_items
    from panelmanager.core.settings import load_settings

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.write_session() as session:
            settings = load_settings(session)
            user = _empanelment_user(args, settings)
            review_id = args.review_id
            if review_id is None:
                reviews = list_reviews(session, limit=1)
                if not reviews:
                    raise CommandError("There is no review yet; run 'panelmanager assign' first.")
                review_id = reviews[0].id
            decision = None
            if args.accept or args.accept_all:
                decision = accept_review_items(session, review_id, args.accept, user=user)
            elif args.reject or args.reject_all:
                decision = reject_review_items(session, review_id, args.reject, user=user)
            items = review_items(session, review_id)
            info = next(r for r in list_reviews(session, limit=1_000_000) if r.id == review_id)
    finally:
        registry.close()
    if args.json:
        print_json(
            {
                "review": info,
                "decision": decision,
                "items": [
                    {k: (None if not isinstance(v, str) and v is not None and _isna(v) else _plain(v)) for k, v in row.items()}
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


def _isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """numpy scalars and pandas timestamps as plain JSON values."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


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
    p.add_argument("--user", help="who records it (default: the settings' user or the operating-system user)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _cmd_confirm(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import confirm_assignment, find_patient, find_provider
    from panelmanager.core.settings import load_settings

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.write_session() as session:
            settings = load_settings(session)
            patient = find_patient(session, args.mrn)
            provider_id = find_provider(session, args.provider).id if args.provider else None
            result = confirm_assignment(
                session,
                patient.id,
                by=args.by,
                outcome=args.outcome,
                provider_id=provider_id,
                method=args.method,
                reason=args.reason,
                user=_empanelment_user(args, settings),
                as_of=_as_of(args, settings),
            )
    finally:
        registry.close()
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
    p.add_argument("--user", help="who changes it (default: the settings' user or the operating-system user)")


def _cmd_reassign(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import find_patient, find_provider, reassign_patient
    from panelmanager.core.settings import load_settings

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.write_session() as session:
            settings = load_settings(session)
            patient = find_patient(session, args.mrn)
            provider = None if args.none else find_provider(session, args.provider)
            where = provider.display_name if provider else "no panel"
            change = reassign_patient(
                session,
                patient.id,
                provider.id if provider else None,
                reason=args.reason,
                user=_empanelment_user(args, settings),
                as_of=_as_of(args, settings),
            )
    finally:
        registry.close()
    print(f"Patient {args.mrn}: {'moved to' if change.changed else 'already on'} {where}.")
    return EXIT_OK


def _add_history(sub) -> None:
    p = sub.add_parser("history", help="every change of a patient's panel assignment")
    p.add_argument("mrn", metavar="MRN", help="the patient's MRN")
    p.add_argument("--json", action="store_true", help="print JSON")


def _cmd_history(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import assignment_history, find_patient

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.session() as session:
            entries = assignment_history(session, find_patient(session, args.mrn).id)
    finally:
        registry.close()
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
    from panelmanager.core.capacity import continuity, panel_capacity, practice_visits_per_patient_year, unassigned_visiting
    from panelmanager.core.settings import load_settings

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.session() as session:
            as_of = _as_of(args, load_settings(session))
            if args.unassigned:
                visitors = unassigned_visiting(session, as_of)
            else:
                rows = panel_capacity(session, as_of)
                care = continuity(session, as_of)
                per_visit, basis = practice_visits_per_patient_year(session, as_of)
                visitors = unassigned_visiting(session, as_of)
    finally:
        registry.close()
    if args.unassigned:
        if args.json:
            print_json(visitors)
        else:
            print(f"{len(visitors):,} patients visit but are on no panel (as of {as_of}):")
            for v in visitors:
                print(f"  {v.mrn:<20} {v.name[:30]:<30} {v.visits:>4} visits, last {v.last_visit}, most with {v.most_seen_provider}")
        return EXIT_OK
    shares = {r.provider_id: r.share for r in care.rows}
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

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.session() as session:
            report = milestone(session, _as_of(args, load_settings(session)))
    finally:
        registry.close()
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
    p.add_argument("--user", help="who inactivates (default: the settings' user or the operating-system user)")


def _cmd_inactivate(args: argparse.Namespace) -> int:
    from panelmanager.core.empanelment import inactivate_patients, suggest_inactivations
    from panelmanager.core.settings import load_settings

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.session() as session:
            settings = load_settings(session)
            as_of = _as_of(args, settings)
            suggestions = suggest_inactivations(session, as_of=as_of, years=args.years)
            result = None
            if args.apply and suggestions:
                result = inactivate_patients(
                    session, [s.patient_id for s in suggestions], as_of=as_of, user=_empanelment_user(args, settings)
                )
    finally:
        registry.close()
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

    registry = open_registry_for(args)
    try:
        with _empanelment_errors(), registry.session() as session:
            try:
                count = export_assignments(session, args.out)
            except OSError as exc:
                raise CommandError(f"Cannot write {args.out}: {exc.strerror or exc}") from None
    finally:
        registry.close()
    print(f"Wrote {count:,} patients to {args.out}")
    return EXIT_OK


EMPANELMENT_COMMANDS = [
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


# --------------------------------------------------------------------------- care gaps and risk (issue 4)

_GAP_STATUSES = ("open", "due-soon", "met", "excluded")
_GAP_COLUMNS = ["patient", "measure", "status", "due_date", "last_date", "last_code", "last_value", "provider", "finding"]
SOURCE_DATA_ABSENT = "source data absent"


def _as_of_for(args: argparse.Namespace, session) -> dt.date:
    from panelmanager.core.settings import effective_as_of, load_settings

    return args.as_of or effective_as_of(load_settings(session))


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


def _resolve_provider(session, text: str) -> int:
    from sqlalchemy import func, or_, select

    from panelmanager.core.models import Provider

    text = text.strip()
    if text.isdigit() and session.get(Provider, int(text)) is not None and len(text) != 10:
        return int(text)
    exact = session.scalars(select(Provider.id).where(or_(Provider.npi == text, Provider.external_id == text))).all()
    if len(set(exact)) == 1:
        return exact[0]
    named = session.scalars(select(Provider.id).where(func.lower(Provider.display_name).contains(text.lower()))).all()
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise CommandError(f"--provider {text!r} matches {len(named)} providers; give the registry id or the NPI.")
    raise CommandError(f"--provider {text!r}: no provider with that id, NPI or name.")


def _cmd_gaps(args: argparse.Namespace) -> int:
    from panelmanager.core.measures import absent_source_data, gaps, load_measures, staff_status_column

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
    registry = open_registry_for(args)
    bar = TerminalProgress()
    try:
        with cancellable() as token, registry.session() as session:
            as_of = _as_of_for(args, session)
            provider = _resolve_provider(session, args.provider) if args.provider else None
            frame = gaps(
                session,
                as_of,
                measure=args.measure or None,
                provider=provider,
                status=statuses or None,
                refresh=True if args.refresh else None,
                progress=bar,
                cancel=token,
            )
            absent = absent_source_data(session, measures, as_of=as_of)
    finally:
        bar.close()
        registry.close()
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
    from sqlalchemy import select

    from panelmanager.core.models import Patient
    from panelmanager.core.risk import current_tiers, override_risk_tier

    registry = open_registry_for(args)
    bar = TerminalProgress(enabled=None if not args.json else False)
    try:
        if args.override:
            mrn, tier_text = args.override
            if not args.reason:
                raise CommandError("--override needs --reason: say why the tier is changed.")
            tier = None if tier_text.lower() in ("none", "clear", "-") else tier_text
            if tier is not None and tier not in ("1", "2", "3", "4"):
                raise CommandError(f"--override {mrn} {tier_text}: the tier is 1, 2, 3, 4 or 'none'.")
            with registry.session() as session:
                patient_id = session.scalar(select(Patient.id).where(Patient.mrn == mrn))
                if patient_id is None:
                    raise CommandError(f"--override: no patient with MRN {mrn!r}.")
                done = override_risk_tier(session, patient_id, None if tier is None else int(tier), args.reason, current_user(args))
            what = f"tier {done.tier}" if done.tier is not None else "the computed tier (override cleared)"
            print(f"Patient {mrn} now uses {what}.")
            return EXIT_OK
        with cancellable() as token, registry.session() as session:
            as_of = _as_of_for(args, session)
            tiers = current_tiers(session, as_of, progress=bar, cancel=token)
    finally:
        bar.close()
        registry.close()
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


# --------------------------------------------------------------------------- printing and outreach (issue 6)


def _outreach_provider(session, text: str) -> int:
    """A provider by registry id, external id, NPI, or a unique part of the name."""
    from sqlalchemy import func, select

    from panelmanager.core.empanelment import EmpanelmentError, find_provider
    from panelmanager.core.models import Provider

    try:
        return find_provider(session, text).id
    except EmpanelmentError:
        pass
    named = session.scalars(select(Provider.id).where(func.lower(Provider.display_name).contains(text.strip().lower())))
    named = list(named)
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise CommandError(f"--provider {text!r} matches {len(named)} providers; give the registry id or the NPI.")
    raise CommandError(f"--provider {text!r}: no provider with that id, NPI or name.")


def _outreach_settings(session):
    from panelmanager.core.settings import load_settings

    return load_settings(session)


def _outreach_user(args: argparse.Namespace, settings) -> str:
    return getattr(args, "user", None) or settings.user_name or current_user(args)


@contextmanager
def _outreach_errors():
    """Bad input and broken resource files are messages, not tracebacks."""
    from panelmanager.core.outreach import OutreachError
    from panelmanager.core.reports.letters import LetterError
    from panelmanager.core.resources import ResourceError

    try:
        yield
    except (OutreachError, LetterError, ResourceError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:  # the output folder does not exist, the file is open elsewhere...
        raise CommandError(f"cannot write {exc.filename or 'the file'}: {exc.strerror}") from None


def _check_suffix(path: str | None, option: str, suffixes: tuple[str, ...]) -> None:
    if path and not path.lower().endswith(suffixes):
        raise CommandError(f"{option} {path!r}: give a {' or '.join(suffixes)} file name.")


def _print_skipped(skipped, what: str) -> None:
    if not skipped:
        return
    print(f"{len(skipped)} patient{'s' if len(skipped) != 1 else ''} {what}:")
    for _pid, mrn, name, reason in skipped:
        print(f"  {mrn:<14} {name:<32} {reason}")


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
    from panelmanager.core.huddle import huddle_data
    from panelmanager.core.reports.huddle import build_huddle_sheet

    _check_suffix(args.out, "--out", (".pdf",))
    registry = open_registry_for(args)
    try:
        with _outreach_errors(), registry.session() as session:
            provider_id = _outreach_provider(session, args.provider) if args.provider else None
            sheet = huddle_data(session, args.date, provider_id, include_due_soon=not args.open_only)
            result = build_huddle_sheet(sheet, args.out)
    finally:
        registry.close()
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
    p.add_argument("--user", help="who is sending (default: the settings' user, else the OS user)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _measure_list(values: list[str]) -> list[str]:
    return [m.strip() for value in values for m in value.split(",") if m.strip()]


def _cmd_letters(args: argparse.Namespace) -> int:
    from panelmanager.core.outreach import (
        OutreachFilters,
        build_outreach_list,
        log_outreach_bulk,
        measure_info,
        new_batch_ref,
    )
    from panelmanager.core.reports.calllist import write_call_list
    from panelmanager.core.reports.common import Letterhead
    from panelmanager.core.reports.labels import build_labels
    from panelmanager.core.reports.letters import EnvelopeWindow, build_calibration_page, build_letters
    from panelmanager.core.reports.portal_export import write_portal_export
    from panelmanager.core.settings import effective_as_of

    measures = _measure_list(args.measure)
    _check_suffix(args.out, "--out", (".pdf",))
    _check_suffix(args.labels, "--labels", (".pdf",))
    _check_suffix(args.calibration_page, "--calibration-page", (".pdf",))
    _check_suffix(args.calls, "--calls", (".csv", ".xlsx", ".pdf"))
    _check_suffix(args.portal, "--portal", (".csv",))
    _check_suffix(args.texts, "--texts", (".csv",))
    producing = any((args.out, args.labels, args.calls, args.portal, args.texts))
    if not producing and not args.calibration_page:
        raise CommandError("give --out FILE.pdf (and/or --labels, --calls, --portal, --texts), or --calibration-page.")
    if producing and not measures:
        raise CommandError("give --measure ID (repeatable): which gaps the letters are about.")
    registry = open_registry_for(args)
    bar = TerminalProgress(enabled=None if not args.json else False)
    summary: dict[str, Any] = {}
    try:
        with _outreach_errors(), cancellable() as token, registry.session() as session:
            settings = _outreach_settings(session)
            letterhead = Letterhead.from_settings(settings)
            try:
                window = EnvelopeWindow.from_offsets(settings.letter_offsets_in)
            except ValueError as exc:
                raise CommandError(f"the letter window offsets in Settings are wrong: {exc}") from None
            if args.calibration_page:
                build_calibration_page(args.calibration_page, letterhead=letterhead, window=window)
                summary["calibration_page"] = args.calibration_page
            if producing:
                if args.language:
                    from panelmanager.core.reports.letters import load_letter_templates

                    languages = sorted(load_letter_templates())
                    if args.language not in languages:
                        raise CommandError(f"--language {args.language!r}: letters exist in {', '.join(languages)}.")
                as_of = args.as_of or effective_as_of(settings)
                filters = OutreachFilters(
                    measure_ids=tuple(measures),
                    provider_id=_outreach_provider(session, args.provider) if args.provider else None,
                    age_min=args.age_min,
                    age_max=args.age_max,
                    language=args.language,
                    no_upcoming_appointment=args.no_upcoming,
                    quiet_days=args.quiet_days,
                )
                outreach = build_outreach_list(session, as_of, filters, progress=bar, cancel=token)
                contacts = outreach.contacts()
                one_per_gap = settings.letters_one_per_gap if args.one_per_gap is None else args.one_per_gap
                user = _outreach_user(args, settings)
                # Outreach is logged on the letters' date (a back-dated run is logged as of that day).
                when = dt.datetime.combine(as_of, dt.datetime.now().time().replace(microsecond=0))
                batch = new_batch_ref(when)
                summary.update({"as_of": as_of, "patients": outreach.patients, "gaps": outreach.gaps,
                                "left_out": outreach.left_out, "batch": None if args.no_log else batch})
                logged = 0
                if args.out:
                    letters = build_letters(contacts, args.out, letterhead=letterhead, date=as_of,
                                            one_per_gap=one_per_gap, window=window, progress=bar, cancel=token)
                    summary["letters"] = {"out": args.out, "letters": letters.letters, "pages": letters.pages,
                                          "languages": dict(letters.languages),
                                          "no_address": [list(s) for s in letters.skipped]}
                    if not args.no_log:
                        document = "letters+labels" if args.labels else "letters"
                        logged += log_outreach_bulk(session, letters.pairs, method="letter", document=document,
                                                    user=user, when=when, batch=batch).rows
                if args.labels:
                    start = args.label_start or settings.label_start_position
                    try:
                        labels = build_labels(contacts, args.labels, on=as_of, start_position=start,
                                              progress=bar, cancel=token)
                    except ValueError as exc:
                        raise CommandError(f"--label-start: {exc}") from None
                    summary["labels"] = {"out": args.labels, "labels": labels.items, "pages": labels.pages,
                                         "start_position": start}
                    if not args.out and not args.no_log:
                        logged += log_outreach_bulk(session, labels.pairs, method="letter", document="labels",
                                                    user=user, when=when, batch=batch).rows
                if args.calls:
                    known = measure_info()
                    titles = ", ".join(known[m].title if m in known else m for m in measures)
                    calls = write_call_list(contacts, args.calls, on=as_of, letterhead=letterhead,
                                            title=f"Call list: {titles}")
                    summary["calls"] = {"out": args.calls, "patients": calls.items,
                                        "no_phone": [list(s) for s in calls.skipped]}
                for channel, path in (("portal", args.portal), ("text", args.texts)):
                    if not path:
                        continue
                    export = write_portal_export(contacts, path, channel=channel, letterhead=letterhead, on=as_of)
                    summary[channel] = {"out": path, "patients": export.items,
                                        "unreachable": [list(s) for s in export.skipped]}
                    if not args.no_log:
                        logged += log_outreach_bulk(session, export.pairs, method=channel,
                                                    document=f"{channel}-export", user=user, when=when,
                                                    batch=batch).rows
                summary["logged"] = logged
    finally:
        bar.close()
        registry.close()
    if args.json:
        print_json(summary)
        return EXIT_OK
    if "calibration_page" in summary:
        print(f"Envelope calibration page written to {summary['calibration_page']}.")
    if "patients" not in summary:
        return EXIT_OK
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
    return EXIT_OK


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
    p.add_argument("--user", help="who made the contact (default: the settings' user, else the OS user)")
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
    from panelmanager.core.empanelment import EmpanelmentError, find_patient
    from panelmanager.core.outreach import log_outreach

    if args.withdraw:
        return _withdraw_outreach(args)
    if not args.mrn or not args.method:
        raise CommandError("give the patient's MRN and --method (or --withdraw BATCH to withdraw a logged mailing).")
    when = _parse_when(args.when)
    registry = open_registry_for(args)
    try:
        with _outreach_errors(), registry.write_session() as session:
            try:
                patient = find_patient(session, args.mrn)
            except EmpanelmentError as exc:
                raise CommandError(str(exc)) from None
            settings = _outreach_settings(session)
            entry = log_outreach(session, patient.id, args.method, args.outcome, measure=args.measure,
                                 note=args.note, user=_outreach_user(args, settings), when=when)
    finally:
        registry.close()
    if args.json:
        print_json(entry)
    else:
        about = f" about {entry.measure_id}" if entry.measure_id else ""
        outcome = f": {entry.outcome}" if entry.outcome else ""
        print(f"Logged {entry.method}{about}{outcome} for MRN {args.mrn} at {entry.logged_at:%Y-%m-%d %H:%M}.")
    return EXIT_OK


def _withdraw_outreach(args: argparse.Namespace) -> int:
    from panelmanager.core.outreach import withdraw_outreach_batch

    if args.mrn or args.method or args.outcome or args.measure or args.note:
        raise CommandError("--withdraw BATCH takes no MRN, --method, --outcome, --measure or --note.")
    when = _parse_when(args.when) if args.when else None
    registry = open_registry_for(args)
    try:
        with _outreach_errors(), registry.session() as session:
            done = withdraw_outreach_batch(session, args.withdraw, user=_outreach_user(args, _outreach_settings(session)),
                                           when=when)
    finally:
        registry.close()
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
    from panelmanager.core.settings import effective_as_of

    if args.days < 1:
        raise CommandError("--days must be at least 1")
    registry = open_registry_for(args)
    try:
        with _outreach_errors(), registry.session() as session:
            as_of = args.as_of or effective_as_of(_outreach_settings(session))
            table = gaps_closed_after_outreach(session, as_of, days=args.days, since=args.since)
    finally:
        registry.close()
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
    from panelmanager.core.reports.common import Letterhead
    from panelmanager.core.reports.panel_review import build_panel_review_pdf, load_panel_review
    from panelmanager.core.settings import effective_as_of

    _check_suffix(args.out, "--out", (".pdf",))
    registry = open_registry_for(args)
    try:
        with _outreach_errors(), registry.session() as session:
            settings = _outreach_settings(session)
            provider_id = _outreach_provider(session, args.provider)
            panel = load_panel_review(session, provider_id, args.as_of or effective_as_of(settings))
            result = build_panel_review_pdf(panel, args.out, letterhead=Letterhead.from_settings(settings))
    finally:
        registry.close()
    print(f"Panel review for {panel.provider_name}: {len(panel.rows)} patients in {result.pages} pages -> {args.out}")
    return EXIT_OK


OUTREACH_COMMANDS = [
    ("huddle", _add_huddle, _cmd_huddle),
    ("letters", _add_letters, _cmd_letters),
    ("outreach-log", _add_outreach_log, _cmd_outreach_log),
    ("outreach-report", _add_outreach_report, _cmd_outreach_report),
    ("panel-list", _add_panel_review, _cmd_panel_review),
]


# --------------------------------------------------------------------------- settings (issue 9)


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
    from panelmanager.core.settings_service import SettingError, display_value, set_setting, show_settings

    action = getattr(args, "settings_action", None) or "show"
    registry = open_registry_for(args)
    try:
        with registry.session() as session:
            if action == "show":
                rows = show_settings(session)
            else:
                try:
                    change = set_setting(session, args.key, args.value)
                except SettingError as exc:
                    raise CommandError(str(exc)) from None
    finally:
        registry.close()
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


# --------------------------------------------------------------------------- providers (issue 9)


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
    merge.add_argument("--user", help="who is merging (default: the settings' user, else the OS user)")
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
    registry = open_registry_for(args)
    try:
        with registry.session() as session:
            try:
                if action == "list":
                    rows = list_providers(session, include_merged=args.all if hasattr(args, "all") else False)
                    problem = panel_holder_problem(session)
                elif action == "merge":
                    keep = find_provider(session, args.keep)
                    others = [find_provider(session, o).id for o in args.others]
                    user = args.user or load_settings(session).user_name or current_user(args)
                    result = merge_providers(session, keep.id, others, user=user)
                else:
                    provider = find_provider(session, args.provider)
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
                    row = update_provider(session, provider.id, **changes)
            except (ValueError, ProviderMergeError) as exc:
                raise CommandError(str(exc)) from None
    finally:
        registry.close()
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


# --------------------------------------------------------------------------- data at rest: rejects, backups


def _add_rejects(sub) -> None:
    p = sub.add_parser(
        "rejects",
        help="list imports with rejected rows, or export one import's rejected rows",
        description="Rejected rows are kept in the registry's import history. 'rejects' lists the imports that "
        "rejected rows; 'rejects export --out FILE.csv' writes one import's rejected rows (the newest by "
        "default) to the file you name. The file holds patient data.",
    )
    p.add_argument("action", nargs="?", choices=("list", "export"), default="list")
    p.add_argument("--batch", type=int, metavar="ID", help="the import (from 'rejects list'; default: the newest)")
    p.add_argument("--out", metavar="FILE.csv", help="where to write the rejected rows (export)")


def _cmd_rejects(args: argparse.Namespace) -> int:
    from panelmanager.core.importers.history import export_rejections, latest_batch_with_rejections, list_batches

    if args.action == "export":
        if not args.out:
            raise CommandError("give --out FILE.csv: where to write the rejected rows.")
        _check_suffix(args.out, "--out", (".csv",))
    registry = open_registry_for(args)
    try:
        with registry.session() as session:
            if args.action == "list":
                batches = [b for b in list_batches(session) if b.rejected]
                if not batches:
                    print("No import rejected any rows.")
                for b in batches:
                    print(f"  batch {b.id:>5}  {b.started_at:%Y-%m-%d %H:%M}  {os.path.basename(b.file_name):<40} "
                          f"rejected {b.rejected}")
                return EXIT_OK
            batch = args.batch or latest_batch_with_rejections(session)
            if batch is None:
                raise CommandError("no import rejected any rows; there is nothing to export.")
            try:
                count = export_rejections(session, batch, args.out)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            except OSError as exc:
                raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    finally:
        registry.close()
    print(f"Wrote {count:,} rejected rows of import {batch} to {args.out}")
    return EXIT_OK


def _add_backup(sub) -> None:
    p = sub.add_parser(
        "backup",
        help="make a consistent copy of the registry (also made daily and before upgrades)",
        description="Copy the registry while it may be in use (SQLite online backup), check the copy and "
        "write it owner-only to --to FILE or to a dated file in the backups folder beside the registry. "
        "A copy of an encrypted registry stays encrypted. 'backup --list' shows the backups kept.",
    )
    p.add_argument("--to", metavar="FILE", help="where to write the backup (default: backups/ beside the registry)")
    p.add_argument("--list", action="store_true", help="list the backups in the backups folder")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _cmd_backup(args: argparse.Namespace) -> int:
    from panelmanager.core.backup import BackupError, backup_registry, list_backups, sqlite_path
    from panelmanager.core.db import open_registry, resolve_registry_url

    url = resolve_registry_url(args.db)
    try:
        path = sqlite_path(url)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    if args.list:
        backups = list_backups(path)
        if args.json:
            print_json([{"made_at": w, "reason": r, "path": str(p), "size": p.stat().st_size} for w, r, p in backups])
            return EXIT_OK
        if not backups:
            print(f"No backups in {path.parent / 'backups'}.")
        for when, reason, item in backups:
            print(f"  {when:%Y-%m-%d %H:%M:%S}  {reason:<15} {item.stat().st_size / 1e6:8.1f} MB  {item}")
        return EXIT_OK
    unlock_registry_for(args)
    open_registry(url, create=False).close()  # refuses what is not a registry; applies pending upgrades
    bar = TerminalProgress(enabled=None if not args.json else False)
    try:
        with cancellable() as token:
            result = backup_registry(url, args.to, progress=bar, cancel=token)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.to or 'the backup'}: {exc.strerror or exc}") from None
    finally:
        bar.close()
    if args.json:
        print_json({"path": str(result.path), "size": result.size, "counts": result.counts})
    else:
        shown = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in result.counts.items() if n)
        print(f"Backed up the registry to {result.path} ({result.size / 1e6:.1f} MB{'; ' + shown if shown else ''}).")
    return EXIT_OK


def _add_restore(sub) -> None:
    p = sub.add_parser(
        "restore",
        help="replace the registry with a backup, after checking the backup",
        description="Check the backup (integrity check, schema version this Panel Manager can open, row "
        "counts) before anything is replaced, keep the current registry aside in the backups folder, then "
        "put the backup in its place with one atomic rename. --check only reports on the backup.",
    )
    p.add_argument("backup", metavar="FILE", help="the backup to restore")
    p.add_argument("--check", action="store_true", help="only check the backup; change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _cmd_restore(args: argparse.Namespace) -> int:
    from panelmanager.core.backup import BackupError, check_backup, restore_registry, sqlite_path
    from panelmanager.core.db import resolve_registry_url

    try:
        path = sqlite_path(resolve_registry_url(args.db))
        unlock_registry_for(args)
        if args.check:
            check = check_backup(args.backup)
            if args.json:
                print_json(check)
            elif check.ok:
                print(f"{args.backup}: can be restored (schema {check.version}"
                      f"{', will be upgraded' if check.upgradable else ''}; "
                      + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in check.counts.items()) + ").")
            else:
                print(f"{args.backup}: cannot be restored: {'; '.join(check.problems)}.")
            return EXIT_OK if check.ok else EXIT_FAILED
        result = restore_registry(args.backup, path)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"the restore stopped ({exc.strerror or exc}); the registry is as it was.") from None
    if args.json:
        print_json(result)
    else:
        print(f"Restored {result.restored_from} into {path}.")
        if result.replaced_kept_at:
            print(f"  the registry it replaced is kept at {result.replaced_kept_at}")
    return EXIT_OK


def _add_encrypt(sub) -> None:
    for name, text in (
        ("encrypt", "Convert the registry (and the backups beside it) to an encrypted SQLCipher database. The key "
                    "comes from a passphrase (asked twice, or PANELMANAGER_PASSPHRASE) that Panel Manager never "
                    "stores, or with --keyring a random key is kept in the operating system's keyring."),
        ("decrypt", "Convert an encrypted registry (and its backups) back to a plain SQLite file."),
    ):
        p = sub.add_parser(name, help=f"{name} the registry at rest (SQLCipher)", description=text)
        if name == "encrypt":
            p.add_argument("--keyring", action="store_true",
                           help="keep a random key in the OS keyring instead of using a passphrase")


def _cmd_encrypt(args: argparse.Namespace) -> int:
    from panelmanager.core.backup import BackupError, sqlite_path
    from panelmanager.core.db import open_registry, resolve_registry_url
    from panelmanager.core.encryption import PASSPHRASE_ENV, EncryptionError, decrypt_registry, encrypt_registry

    url = resolve_registry_url(args.db)
    try:
        path = sqlite_path(url)
        if args.command == "decrypt":
            unlock_registry_for(args)
            decrypt_registry(path)
            print(f"The registry {path} and its backups are no longer encrypted.")
            return EXIT_OK
        open_registry(url, create=False).close()  # a registry, migrated, before it is rewritten
        passphrase = None
        if not args.keyring:
            passphrase = os.environ.get(PASSPHRASE_ENV)
            if not passphrase:
                if not sys.stdin.isatty():
                    raise CommandError(f"give the passphrase on a terminal or in {PASSPHRASE_ENV}, or use --keyring.")
                import getpass

                passphrase = getpass.getpass("New passphrase (8 characters or more): ")
                if getpass.getpass("The same passphrase again: ") != passphrase:
                    raise CommandError("the two passphrases differ; nothing was changed.")
        kept = encrypt_registry(path, passphrase=passphrase, use_keyring=args.keyring)
    except (BackupError, EncryptionError) as exc:
        raise CommandError(str(exc)) from None
    print(f"The registry {path} and its backups are encrypted; {kept}.")
    return EXIT_OK


AT_REST_COMMANDS = [
    ("rejects", _add_rejects, _cmd_rejects),
    ("backup", _add_backup, _cmd_backup),
    ("restore", _add_restore, _cmd_restore),
    ("encrypt", _add_encrypt, _cmd_encrypt),
]


# --------------------------------------------------------------------------- the parser

from panelmanager.auth_cli import AUTH_COMMANDS  # noqa: E402 - argparse only, no core imports

COMMANDS: list[tuple[str, Callable[[Any], None], Callable[[argparse.Namespace], int]]] = [
    ("import", _add_import, _cmd_import),
    ("stats", _add_stats, _cmd_stats),
    ("demo", _add_demo, _cmd_demo),
    *EMPANELMENT_COMMANDS,
    ("measures", _add_measures, _cmd_measures),
    ("gaps", _add_gaps, _cmd_gaps),
    ("risk", _add_risk, _cmd_risk),
    *OUTREACH_COMMANDS,
    ("settings", _add_settings, _cmd_settings),
    ("providers", _add_providers, _cmd_providers),
    *AT_REST_COMMANDS,
    ("copy-registry", lambda sub: _add_copy_registry(sub), lambda args: _cmd_copy_registry(args)),
    *AUTH_COMMANDS,  # issue 14: users, token, audit (panelmanager/auth_cli.py)
]


class _VersionAction(argparse.Action):
    """``--version``, reading the installed version only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from panelmanager import __version__

        print(f"panelmanager {__version__}")
        parser.exit()


_CREATE_FLAG = ("--create",)
_CREATE_OPTIONS = {
    "action": "store_true",
    "help": "create a new registry at --db if there is none there yet (without it, a missing registry is an error)",
}


# --------------------------------------------------------------------------- copy-registry


def _add_copy_registry(sub) -> None:
    p = sub.add_parser(
        "copy-registry",
        help="copy this registry into a new, empty one (SQLite to PostgreSQL or back)",
        description="Copies every table of the registry given by --db (or the default) into an empty "
        "target, verifies row counts and a checksum per table, and prints how to point workstations at it.",
    )
    p.add_argument("--to", required=True, metavar="PATH_OR_URL", help="the new registry: a file path or postgresql://...")


def _cmd_copy_registry(args: argparse.Namespace) -> int:
    from panelmanager.core.copy_registry import copy_registry
    from panelmanager.core.db import describe_url, open_registry, resolve_registry_url

    source = open_registry_for(args)
    try:
        if resolve_registry_url(args.to) == source.url:
            raise CommandError("--to names the registry being copied; give a new, empty one.")
        target = open_registry(args.to, create=True)  # a new, empty registry (copy_registry refuses a used one)
        try:
            result = copy_registry(source, target)
        finally:
            target.close()
    finally:
        source.close()
    for table in result.tables:
        print(f"  {table.name:<24} {table.rows:>10,} rows  sha256 {table.checksum[:16]}")
    where = describe_url(resolve_registry_url(args.to))
    print(f"Copied {result.rows:,} rows; every table's count and checksum match.")
    print(f"Point every workstation at the new registry: panelmanager --db \"{where}\" (or set PANELMANAGER_DB "
          "to it), and stop using the old one so that no change is made to it.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panelmanager",
        description="Panel Manager: empanelment and panel management for primary care. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="registry file or SQLAlchemy URL (default: $PANELMANAGER_DB or the user data folder)",
    )
    parser.add_argument(*_CREATE_FLAG, **_CREATE_OPTIONS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.set_defaults(handler=_cmd_gui)
    for _name, add, run in COMMANDS:
        before = set(sub.choices)
        add(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(handler=run)
            # Also after the command ("panelmanager demo --create"); SUPPRESS keeps a flag
            # given before the command from being reset by the sub-parser's default.
            sub.choices[name].add_argument(*_CREATE_FLAG, **{**_CREATE_OPTIONS, "default": argparse.SUPPRESS})
    return parser


def _cmd_gui(args: argparse.Namespace) -> int:
    from panelmanager.ui.platform_check import exit_unless_qt_can_start

    exit_unless_qt_can_start()  # before any Qt GUI library loads: Qt would abort
    from panelmanager.ui.app import main as gui_main

    return gui_main(db=args.db)


def _concurrency_message(exc: BaseException) -> str | None:
    from panelmanager.core.concurrency import BUSY_MESSAGE, ConcurrencyError, is_busy

    if isinstance(exc, ConcurrencyError):
        return str(exc)
    return BUSY_MESSAGE if is_busy(exc) else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or _cmd_gui
    from panelmanager.core.backup import BackupError
    from panelmanager.core.db import RegistryError
    from panelmanager.core.encryption import EncryptionError
    from panelmanager.core.importers.errors import ImportFileError
    from panelmanager.core.jobs import Cancelled
    from panelmanager.core.resources import ResourceError

    try:
        return handler(args)
    except (CommandError, RegistryError, ImportFileError, ResourceError, BackupError, EncryptionError) as exc:
        print(f"panelmanager {args.command or 'gui'}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        # Another workstation's change or lock: a message for the user, never SQL or parameters.
        message = _concurrency_message(exc)
        if message is None:
            raise
        print(f"panelmanager {args.command or 'gui'}: {message}", file=sys.stderr)
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
