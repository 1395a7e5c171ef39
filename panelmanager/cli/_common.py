"""What every command shares: opening the registry (``--db`` / ``--create``, the passphrase of an
encrypted registry, the daily backup), a progress bar and Ctrl+C cancel, date and JSON helpers,
and turning a core error into a message for the user.

Only the standard library is imported here at module level: ``panelmanager --help`` and
``--version`` must not load pandas, SQLAlchemy or Qt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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


# --------------------------------------------------------------------------- values in and out


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


def isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    """numpy scalars and pandas timestamps as plain JSON values."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def check_suffix(path: str | None, option: str, suffixes: tuple[str, ...]) -> None:
    if path and not path.lower().endswith(suffixes):
        raise CommandError(f"{option} {path!r}: give a {' or '.join(suffixes)} file name.")


@contextmanager
def writing(what: str | None = None) -> Iterator[None]:
    """An output file that cannot be written (no such folder, open elsewhere) is a message."""
    try:
        yield
    except OSError as exc:
        raise CommandError(f"cannot write {exc.filename or what or 'the file'}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- progress and cancel


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


class StepLines:
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


# --------------------------------------------------------------------------- the registry


def open_registry_for(args: argparse.Namespace, *, login: bool = True):
    """Open the registry for a command; with accounts on it, log the person in first (log_in_for)."""
    from panelmanager.core.db import open_registry

    unlock_registry_for(args)
    registry = open_registry(args.db, create=bool(getattr(args, "create", False)))
    if login:
        try:
            log_in_for(args, registry)
        except BaseException:
            registry.close()
            raise
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


class Work:
    """What a command works with: the open registry, a session (unless asked for none), the
    progress callback and the Ctrl+C cancel token, for ``fn(session, ..., progress=, cancel=)``.
    (A plain class: ``dataclasses`` costs ``--help`` start-up time.)"""

    __slots__ = ("registry", "session", "progress", "cancel")

    def __init__(self, registry: Any, session: Any, progress: Any, cancel: Any) -> None:
        self.registry, self.session, self.progress, self.cancel = registry, session, progress, cancel


@contextmanager
def registry_work(
    args: argparse.Namespace,
    *,
    write: bool = False,
    session: bool = True,
    progress: bool | None = False,
    steps: bool = False,
    cancel: bool = False,
) -> Iterator[Work]:
    """Open the registry for one command and always close it (and the progress bar).

    ``write``: a session that refuses a concurrent change (``registry.write_session``);
    ``session=False``: the core job takes the registry itself; ``progress``: a bar on a
    terminal (True or None: on a terminal, False: never); ``steps``: plain progress lines
    when stderr is no terminal; ``cancel``: Ctrl+C sets ``work.cancel`` and the job rolls back
    (without it, Ctrl+C interrupts at once).
    """
    registry = open_registry_for(args)
    bar: Any = TerminalProgress(enabled=None if progress else False)
    if steps and not bar.enabled:
        bar = StepLines()
    try:
        with cancellable() if cancel else nullcontext() as token:
            if not session:
                yield Work(registry, None, bar, token)
            else:
                with (registry.write_session() if write else registry.session()) as open_session:
                    yield Work(registry, open_session, bar, token)
    finally:
        bar.close()
        registry.close()


class _UserIsGone(argparse.Action):
    """``--user NAME`` on a command that acts: refused with the reason (issue 14). Who acted is the
    person logged in, never a name typed on the command line."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--user is no longer accepted: the acting user is the one logged in. Log in as that "
                     "person with --login USER (a scheduled job with its token: 'panelmanager token create').")


def refuse_user_option(parser: argparse.ArgumentParser) -> None:
    """Commands that once took ``--user NAME`` for who acted: a script still passing it gets a clear
    refusal instead of argparse's bare 'unrecognized arguments' (hidden from --help)."""
    parser.add_argument("--user", action=_UserIsGone, help=argparse.SUPPRESS)


def current_user() -> str:
    """The logged-in user (registry with accounts), else the operating-system user."""
    from panelmanager.core.permissions import acting_name

    return acting_name()


def acting_user(settings) -> str:
    """The logged-in user; on a registry without accounts the settings' user name, else the
    operating-system user."""
    from panelmanager.core.permissions import acting_name

    return acting_name(settings.user_name)


def as_of_for(args: argparse.Namespace, settings) -> dt.date:
    """--as-of, else the settings' as-of date, else today."""
    from panelmanager.core.settings import effective_as_of

    return getattr(args, "as_of", None) or effective_as_of(settings)


def find_provider_id(session, text: str) -> int:
    """``--provider``: registry id, PM id, NPI, or a part of the name only one provider has."""
    from panelmanager.core.providers import find_provider

    return find_provider(session, text, name_part=True).id


# Core errors written for people: ``main`` prints them as the command's message (exit status 1).
# Named by module so that a command that never loads a module never imports it for this list.
USER_ERRORS = (
    ("panelmanager.core.empanelment", "EmpanelmentError"),
    ("panelmanager.core.outreach", "OutreachError"),
    ("panelmanager.core.reports.letters", "LetterError"),
    ("panelmanager.core.providers", "ProviderNotFound"),
    ("panelmanager.core.provider_merge", "ProviderMergeError"),
    ("panelmanager.core.patients", "PatientNotFound"),
    ("panelmanager.core.settings_service", "SettingError"),
    ("panelmanager.core.resources", "ResourceError"),
    ("panelmanager.core.db", "RegistryError"),
    ("panelmanager.core.importers.errors", "ImportFileError"),
    ("panelmanager.core.backup", "BackupError"),
    ("panelmanager.core.encryption", "EncryptionError"),
    ("panelmanager.core.auth", "AuthError"),
    ("panelmanager.core.permissions", "PermissionDenied"),
)


def is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, CommandError):
        return True
    for module_name, name in USER_ERRORS:
        module = sys.modules.get(module_name)
        kind = getattr(module, name, None) if module is not None else None
        if kind is not None and isinstance(exc, kind):
            return True
    return False


# --------------------------------------------------------------------------- logins (issue 14)
# Once a registry has user accounts, every command that opens it logs the person in (a token for
# scheduled jobs, else a password prompt: cli/auth.authenticate_cli), checks their role may run
# it (resources/permissions.toml) and writes an audit entry; a refusal is audited too. The
# actor is set for the whole run, so the core services' own checks (require_current) see them.
# A registry with no accounts yet (made by a script before 'users init') runs without a login:
# the desktop app's first start, or 'panelmanager users init', creates its administrator.

READ_ONLY = None  # any logged-in user (counts and settings without patient data)


def command_action(args: argparse.Namespace) -> str | None:
    """The permissions-matrix action a command line needs (None: any logged-in user)."""
    command = getattr(args, "command", None)
    if command == "review":
        deciding = any(getattr(args, name, None) for name in ("accept", "reject", "accept_all", "reject_all"))
        return "review_accept" if deciding else "view_patient"
    if command == "assign":
        return "review_accept" if getattr(args, "apply", False) else "assign"
    if command == "risk":
        return "risk_override" if getattr(args, "override", None) else "view_patient"
    if command == "settings":
        return "settings" if getattr(args, "settings_action", None) == "set" else READ_ONLY
    if command == "providers":
        return "settings" if getattr(args, "providers_action", None) in ("set", "merge") else READ_ONLY
    return {
        "import": "import", "demo": "import", "rejects": "import",
        "backup": "backup", "copy-registry": "backup",
        "restore": "restore", "encrypt": "restore", "decrypt": "restore",
        "confirm": "confirm", "reassign": "reassign", "inactivate": "assign",
        "history": "view_patient", "export-assignments": "export", "gaps": "export",
        "huddle": "print", "panel-list": "print", "letters": "letters", "outreach-log": "outreach_log",
    }.get(command or "", READ_ONLY)


# Commands whose core services write their audit entries themselves: a print or an export names the
# patients on the document (core.printing, outreach_run.run_outreach, export_assignments, the gaps
# export); a change names the patients it changed, with its outcome, in the change's own transaction
# (core.actions.audited_service: confirm, reassign, review decisions, inactivation, outreach logs,
# risk overrides, settings and providers; audited_job: imports and the demo practice). Logging in
# checks the role (a refusal is audited) but adds no entry of its own, so one action is one entry.
SELF_AUDITED = frozenset({"huddle", "panel-list", "letters", "export-assignments", "gaps", "confirm", "reassign",
                          "inactivate", "outreach-log", "import", "demo", "assign", "history"})
SELF_AUDITED_ACTIONS = frozenset({"review_accept", "risk_override", "settings"})


def self_audited(args: argparse.Namespace) -> bool:
    """The command's core services audit what it does (the login adds no entry of its own)."""
    return getattr(args, "command", None) in SELF_AUDITED or command_action(args) in SELF_AUDITED_ACTIONS


def log_in_for(args: argparse.Namespace, registry, *, entry: bool = True) -> Any:
    """Log the person in for this run (when the registry has accounts); returns the Actor or None.
    ``entry=False``: the caller writes the command's audit entry itself (a refusal is still audited)."""
    from panelmanager.core import auth
    from panelmanager.core.actions import _audit_alone, _check
    from panelmanager.core.permissions import set_logged_in

    with registry.session() as session:
        if not auth.has_users(session):
            return None
    from panelmanager.cli.auth import authenticate_cli

    actor = authenticate_cli(args, registry)
    action = command_action(args)
    details = {"command": getattr(args, "command", None)}
    given = getattr(args, "emergency", None)
    emergency = given
    if action is not None:
        emergency = _check(registry, actor, action, emergency, details, None)
    if entry and not self_audited(args):
        _audit_alone(registry, actor, action or "command", details=details, emergency_reason=emergency)
    set_logged_in(actor, emergency_reason=given)
    return actor
