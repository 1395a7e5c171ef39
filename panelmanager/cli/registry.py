"""The registry commands: import, stats, demo, copy-registry, and the data at rest (rejects, backup, restore,
encrypt / decrypt)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from panelmanager.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    TerminalProgress,
    cancellable,
    check_suffix,
    current_user,
    is_user_error,
    log_in_for,
    open_registry_for,
    parse_date,
    print_json,
    refuse_user_option,
    registry_work,
    unlock_registry_for,
)


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
    p.add_argument("--force", action="store_true",
                   help="read a file again even when it is exactly the one last imported and nothing changed since")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    refuse_user_option(p)


def _cmd_import(args: argparse.Namespace) -> int:
    from panelmanager.core.importers import run_import

    check_suffix(args.rejects, "--rejects", (".csv",))
    mapping: dict[str, str] = {}
    for item in args.map:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise CommandError(f"--map {item!r}: write it as FIELD=COLUMN, e.g. --map dob='Birth Date'")
        mapping[field.strip()] = column.strip()
    with registry_work(args, session=False, progress=not args.json, cancel=True) as work:
        outcomes = run_import(
            work.registry,
            args.paths,
            profile=args.profile,
            mapping=mapping,
            dry_run=args.dry_run,
            user=current_user(),
            progress=work.progress,
            cancel=work.cancel,
            encoding=args.encoding,
            force=args.force,
        )
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
    if o.same_file_skipped:
        head = "Unchanged since its last import (not read again; --force reads it)"
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


def _add_stats(sub) -> None:
    p = sub.add_parser("stats", help="counts of what the registry holds")
    p.add_argument("--json", action="store_true", help="print a JSON object")


def _cmd_stats(args: argparse.Namespace) -> int:
    from panelmanager.core.stats import registry_stats

    with registry_work(args) as work:
        counts = registry_stats(work.session)
    if args.json:
        print_json(counts)
    else:
        print(f"Registry: {work.registry.location}")
        for key, value in counts.items():
            print(f"  {key:<16} {value:>10,}")
    return EXIT_OK


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
    # not a terminal (a log, a pipe): one line per step instead of a bar
    with registry_work(args, session=False, progress=True, steps=True, cancel=True) as work:
        print(f"Making a demo practice of {args.patients:,} patients (Ctrl+C cancels; nothing is kept)...",
              file=sys.stderr, flush=True)
        summary = load_demo(
            work.registry,
            patients=args.patients,
            seed=args.seed,
            as_of=args.as_of or dt.date.today(),
            progress=work.progress,
            cancel=work.cancel,
        )
    print(f"Demo practice loaded into {work.registry.location}: " + ", ".join(f"{v:,} {k}" for k, v in summary.items()))
    return EXIT_OK


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

    with registry_work(args, session=False) as work:
        if resolve_registry_url(args.to) == work.registry.url:
            raise CommandError("--to names the registry being copied; give a new, empty one.")
        target = open_registry(args.to, create=True)  # a new, empty registry (copy_registry refuses a used one)
        try:
            result = copy_registry(work.registry, target)
        finally:
            target.close()
    for table in result.tables:
        print(f"  {table.name:<24} {table.rows:>10,} rows  sha256 {table.checksum[:16]}")
    where = describe_url(resolve_registry_url(args.to))
    print(f"Copied {result.rows:,} rows; every table's count and checksum match.")
    print(f"Point every workstation at the new registry: panelmanager --db \"{where}\" (or set PANELMANAGER_DB "
          "to it), and stop using the old one so that no change is made to it.")
    return EXIT_OK


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
        check_suffix(args.out, "--out", (".csv",))
    with registry_work(args) as work:
        if args.action == "list":
            batches = [b for b in list_batches(work.session) if b.rejected]
            if not batches:
                print("No import rejected any rows.")
            for b in batches:
                print(f"  batch {b.id:>5}  {b.started_at:%Y-%m-%d %H:%M}  {os.path.basename(b.file_name):<40} "
                      f"rejected {b.rejected}")
            return EXIT_OK
        batch = args.batch or latest_batch_with_rejections(work.session)
        if batch is None:
            raise CommandError("no import rejected any rows; there is nothing to export.")
        try:
            count = export_rejections(work.session, batch, args.out)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
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
    from panelmanager.core.db import is_sqlite, resolve_registry_url

    url = resolve_registry_url(args.db)
    try:
        path = sqlite_path(url) if is_sqlite(url) or args.list else None  # PostgreSQL: pg_dump (core.pg_backup)
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
    # Refuses what is not a registry, applies pending upgrades, and logs the person in (a registry
    # with accounts: only a role allowed to back up may; audited).
    open_registry_for(args).close()
    bar = TerminalProgress(enabled=None if not args.json else False)
    try:
        with cancellable() as token:
            result = backup_registry(url, args.to, progress=bar, cancel=token)
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
        "put the backup in its place with one atomic rename. --check only reports on the backup. With --db "
        "postgresql://... a pg_dump backup is loaded into that EMPTY database and its row counts verified.",
    )
    p.add_argument("backup", metavar="FILE", help="the backup to restore")
    p.add_argument("--check", action="store_true", help="only check the backup; change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _cmd_restore(args: argparse.Namespace) -> int:
    from panelmanager.core.backup import BackupError, check_backup, restore_registry, sqlite_path
    from panelmanager.core.db import is_sqlite, resolve_registry_url

    url = resolve_registry_url(args.db)
    if not is_sqlite(url):  # a pg_dump backup, into an empty database, verified (core.pg_backup)
        from panelmanager.core.pg_backup import restore_postgres

        try:
            pg = restore_postgres(args.backup, url)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        _attest_pg_restore(args, url, pg)
        if args.json:
            print_json(pg)
        else:
            print(f"Restored {pg.restored_from} into {pg.database}: schema {pg.version}, "
                  f"{pg.counts.get('patients', 0):,} patients; row counts "
                  + ("match the backup." if pg.verified else "not compared (the backup's .counts.json is missing)."))
        return EXIT_OK
    try:
        path = sqlite_path(url)
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
        _log_in_to_replace(args)
        result = restore_registry(args.backup, path)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"the restore stopped ({exc.strerror or exc}); the registry is as it was.") from None
    from panelmanager.core.backup import audit_restore
    from panelmanager.core.db import open_registry

    restored = open_registry(path)  # upgraded now if the backup is older; its trail gets the restore
    try:
        audit_restore(restored, result)
    finally:
        restored.close()
    if args.json:
        print_json(result)
    else:
        print(f"Restored {result.restored_from} into {path}.")
        if result.replaced_kept_at:
            print(f"  the registry it replaced is kept at {result.replaced_kept_at}")
    return EXIT_OK


def _attest_pg_restore(args: argparse.Namespace, url, pg) -> None:
    """After a PostgreSQL restore (into a database that was empty, so no one could log in before it):
    with accounts in the restored registry, only one of its administrators may keep it. The person
    logs in there; the restore is the last entry of its trail. A failed or refused login (audited
    there, then gone with the rest) empties the database again: nothing was restored."""
    from panelmanager.core.backup import audit_restore
    from panelmanager.core.db import open_registry
    from panelmanager.core.pg_backup import empty_restored_database

    try:
        restored = open_registry(url)
        try:
            if log_in_for(args, restored, entry=False) is not None:
                audit_restore(restored, pg)
        finally:
            restored.close()
    except BaseException as exc:
        empty_restored_database(url, pg.counts)
        why = str(exc) if is_user_error(exc) else ("Interrupted" if isinstance(exc, KeyboardInterrupt)
                                                   else f"The login stopped ({type(exc).__name__})")
        raise CommandError(f"{why.rstrip('.')}. The database {pg.database} was emptied again: nothing was "
                           "restored.") from None


def _log_in_to_replace(args: argparse.Namespace) -> None:
    """Before a restore replaces the registry: log the person in (with accounts, only an administrator
    may restore; the refusal is audited). A registry that no longer opens (damaged, or not a registry)
    cannot say who may: it is replaced as it is, the reason a restore exists."""
    from panelmanager.core.db import RegistryError

    try:
        registry = open_registry_for(args)
    except RegistryError:
        return
    registry.close()


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
    from panelmanager.core.db import resolve_registry_url
    from panelmanager.core.encryption import PASSPHRASE_ENV, EncryptionError, decrypt_registry, encrypt_registry

    url = resolve_registry_url(args.db)
    try:
        path = sqlite_path(url)
        if args.command == "decrypt":
            open_registry_for(args).close()  # unlocked, and the person logged in: only an administrator may
            decrypt_registry(path)
            print(f"The registry {path} and its backups are no longer encrypted.")
            return EXIT_OK
        open_registry_for(args).close()  # a registry, migrated, before it is rewritten; logged in: an administrator
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



COMMANDS = [
    ("import", _add_import, _cmd_import),
    ("stats", _add_stats, _cmd_stats),
    ("demo", _add_demo, _cmd_demo),
]
AT_REST_COMMANDS = [
    ("rejects", _add_rejects, _cmd_rejects),
    ("backup", _add_backup, _cmd_backup),
    ("restore", _add_restore, _cmd_restore),
    ("encrypt", _add_encrypt, _cmd_encrypt),
]
COPY_COMMANDS = [("copy-registry", _add_copy_registry, _cmd_copy_registry)]
