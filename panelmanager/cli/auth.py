"""Command-line logins, user accounts, tokens and the audit trail (issue 14).

Commands (registered in ``cli.COMMANDS`` through ``AUTH_COMMANDS``):

    panelmanager users init | add | list | disable | enable | reset-password | role
    panelmanager token create | revoke
    panelmanager audit [--user U] [--patient ID | --mrn MRN] [--action A] [--from D] [--to D]
                       [--emergency] [--format table|csv] [--output FILE]
    panelmanager audit verify

``authenticate_cli(args, registry)`` logs the person in for one run and returns their Actor: a
token from ``--token-env``/``PANELMANAGER_TOKEN`` or the OS keyring (scheduled imports), else a
password prompt for ``--login``/``PANELMANAGER_USER`` (default: the operating-system user name).
Nothing here is imported by ``panelmanager --help``: core modules load inside the functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TOKEN_ENV = "PANELMANAGER_TOKEN"
USER_ENV = "PANELMANAGER_USER"
KEYRING_SERVICE = "panelmanager-token"
ROLE_HELP = "front_desk, ma_nurse, provider, manager or admin"


def _cli():
    from panelmanager import cli

    return cli


def _fail(message: str):
    return _cli().CommandError(message)


# --------------------------------------------------------------------------- logging in


PASSWORD_ENV = "PANELMANAGER_PASSWORD"  # 'users init' only: a scripted first setup
NO_TERMINAL_LOGIN = ("no one is logged in: run it in a terminal to type your password, or give a token "
                     f"({TOKEN_ENV}, or 'panelmanager token create --keyring' on this computer).")
NO_TERMINAL_NEW = ("there is no terminal to type the new password in: pipe it with --password-stdin "
                   "(one line on standard input)")


def _ask_password(prompt: str, no_terminal: str = NO_TERMINAL_LOGIN) -> str:
    """Ask on the terminal, never echoed. Without one, getpass would read standard input after a
    warning (and may echo it): that is refused with ``no_terminal``, which says what to do instead."""
    import getpass
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)
            return getpass.getpass(prompt)
    except (EOFError, OSError, getpass.GetPassWarning):
        raise _fail(no_terminal) from None


def _piped_password() -> str:
    """``--password-stdin``: the first line of standard input (a pipe or a file, never a terminal)."""
    from panelmanager.core.auth import AuthError, check_password

    if sys.stdin is None or sys.stdin.isatty():
        raise _fail("--password-stdin reads the password from a pipe; on a terminal leave it out and "
                    "type the password when asked.")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _fail("--password-stdin: standard input held no password (give it as one line).")
    try:
        check_password(password)
    except AuthError as exc:
        raise _fail(f"--password-stdin: {exc}") from None
    return password


def _new_password(what: str, args: argparse.Namespace | None = None, *, env: bool = False) -> str:
    """A new password: from ``--password-stdin``, else (``env``: 'users init') once from
    $PANELMANAGER_PASSWORD, which is then removed from this process's environment; else typed
    twice on the terminal. Never echoed, printed or logged."""
    from panelmanager.core.auth import AuthError, check_password

    if getattr(args, "password_stdin", False):
        return _piped_password()
    if env and os.environ.get(PASSWORD_ENV):
        password = os.environ.pop(PASSWORD_ENV)
        try:
            check_password(password)
        except AuthError as exc:
            raise _fail(f"${PASSWORD_ENV}: {exc}") from None
        return password
    no_terminal = NO_TERMINAL_NEW + (f" or set ${PASSWORD_ENV}." if env else ".")
    for _attempt in range(3):
        first = _ask_password(f"{what}: ", no_terminal)
        try:
            check_password(first)
        except AuthError as exc:
            print(exc, file=sys.stderr)
            continue
        if _ask_password("Type it again: ", no_terminal) == first:
            return first
        print("The two passwords differ.", file=sys.stderr)
    raise _fail("no password was set.")


def keyring_token(registry) -> str | None:
    """The token this computer keeps for the registry (set by ``token create --keyring``)."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, registry.location)
    except Exception:  # noqa: BLE001 - no keyring backend on this machine: just no token
        return None


def authenticate_cli(args: argparse.Namespace, registry) -> Any:
    """Log in for this run; returns the Actor. A token wins over a password prompt."""
    from panelmanager.core import auth
    from panelmanager.core.permissions import default_user

    with registry.session() as session:
        has_users = auth.has_users(session)
    if not has_users:
        raise _fail("this registry has no users yet: create its administrator with 'panelmanager users init' "
                    "(or start the desktop app).")
    token = os.environ.get(TOKEN_ENV) or keyring_token(registry)
    try:
        if token:
            return auth.login_with_token(registry, token)
        username = getattr(args, "login", None) or os.environ.get(USER_ENV) or default_user()
        password = _ask_password(f"Password for {username}: ")
        return auth.login(registry, username, password)
    except auth.AuthError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[Any]:
    """The registry for a users/token/audit command (which logs in itself), always closed; a
    refused login, or a role that may not do it, is the command's message."""
    from panelmanager.core import auth
    from panelmanager.core.permissions import PermissionDenied

    registry = _cli().open_registry_for(args, login=False)
    try:
        yield registry
    except (auth.AuthError, PermissionDenied) as exc:
        raise _fail(str(exc)) from None
    finally:
        registry.close()


def _add_login_option(parser) -> None:
    parser.add_argument("--login", metavar="USER", help=f"who logs in (default: ${USER_ENV} or the computer login)",
                        default=argparse.SUPPRESS)


# --------------------------------------------------------------------------- users


def _add_users(sub) -> None:
    p = sub.add_parser("users", help="user accounts: init, add, list, disable, enable, reset-password, role",
                       description="Each person logs in as themselves. 'users init' creates the administrator of a "
                       "registry that has no users yet; after that an administrator manages the accounts.")
    actions = p.add_subparsers(dest="users_action", metavar="ACTION")
    init = actions.add_parser("init", help="create the administrator of a registry with no users",
                              description="Create the administrator of a registry that has no users yet. The "
                              "password is typed twice on the terminal; a setup script pipes it instead with "
                              f"--password-stdin, or sets ${PASSWORD_ENV} (read once, never shown).")
    init.add_argument("username")
    init.add_argument("--name", help="display name (default: the user name)")
    add = actions.add_parser("add", help="add a user: add USERNAME --role ROLE --name 'Display Name'")
    add.add_argument("username")
    add.add_argument("--role", required=True, metavar="ROLE", help=ROLE_HELP)
    add.add_argument("--name", help="display name (default: the user name)")
    listing = actions.add_parser("list", help="every user with their role and whether they are active")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    for name, text in (("disable", "stop a user from logging in (their history stays)"),
                       ("enable", "let a disabled user log in again"),
                       ("reset-password", "set a new password for a user (and lift a lockout)")):
        action = actions.add_parser(name, help=text)
        action.add_argument("username")
    role = actions.add_parser("role", help="change a user's role: role USERNAME ROLE")
    role.add_argument("username")
    role.add_argument("role", metavar="ROLE", help=ROLE_HELP)
    for action in actions.choices.values():
        _add_login_option(action)
    for name in ("init", "add", "reset-password"):
        actions.choices[name].add_argument(
            "--password-stdin", action="store_true",
            help="read the new password from standard input (one line, for scripts) instead of asking")


def _cmd_users(args: argparse.Namespace) -> int:
    from panelmanager.core import auth

    action = args.users_action
    if action is None:
        raise _fail("say what to do: users init, add, list, disable, enable, reset-password or role.")
    with _opened(args) as registry:
        if action == "init":
            with registry.session() as session:
                if auth.has_users(session):
                    raise _fail("this registry already has an administrator; ask them for an account.")
            password = _new_password(f"Password for the administrator {args.username}", args, env=True)
            with registry.write_session() as session:
                admin = auth.create_first_admin(session, args.username, args.name or args.username, password)
            print(f"Created the administrator {admin.username}. Log in as {admin.username} from now on.")
            return 0
        actor = authenticate_cli(args, registry)
        if action == "list":
            from panelmanager.core.actions import read

            users = read(registry, actor, "users", auth.list_users)
            if args.json:
                _cli().print_json(users)
                return 0
            for u in users:
                state = "active" if u.active else "disabled"
                if u.locked_until:
                    state += f", locked until {u.locked_until:%Y-%m-%d %H:%M}"
                print(f"  {u.username:<20} {u.display_name:<28} {u.role:<11} {state}")
            return 0
        if action == "add":
            password = _new_password(f"Password for {args.username}", args)
            with registry.write_session() as session:
                made = auth.create_user(session, actor, args.username, args.name or args.username, args.role, password)
            print(f"Added {made.username} ({made.role}).")
        elif action in ("disable", "enable"):
            with registry.write_session() as session:
                auth.set_active(session, actor, args.username, action == "enable")
            print(f"{args.username} is {action}d.")
        elif action == "reset-password":
            from panelmanager.core.permissions import require

            require(actor, "users")
            password = _new_password(f"New password for {args.username}", args)
            with registry.write_session() as session:
                auth.reset_password(session, actor, args.username, password)
            print(f"The password of {args.username} is reset.")
        elif action == "role":
            with registry.write_session() as session:
                auth.change_role(session, actor, args.username, args.role)
            print(f"{args.username} is now {args.role}.")
        return 0


# --------------------------------------------------------------------------- tokens


def _add_token(sub) -> None:
    p = sub.add_parser("token", help="tokens for scheduled imports and scripts: create, revoke",
                       description="An administrator creates a token for a user; a scheduled job logs in with it "
                       f"from ${TOKEN_ENV} or from this computer's keyring (--keyring). Only its hash is stored "
                       "in the registry; the token is shown once.")
    actions = p.add_subparsers(dest="token_action", metavar="ACTION")
    create = actions.add_parser("create", help="create a token: create --for USER --name 'nightly import'")
    create.add_argument("--for", dest="for_user", required=True, metavar="USER", help="whose token it is")
    create.add_argument("--name", default="scheduled import", help="what it is for (to revoke it by name)")
    create.add_argument("--keyring", action="store_true",
                        help="keep it in this computer's keyring for this registry instead of printing it")
    revoke = actions.add_parser("revoke", help="revoke a token by name: revoke NAME [--for USER]")
    revoke.add_argument("name")
    revoke.add_argument("--for", dest="for_user", metavar="USER")
    for action in actions.choices.values():
        _add_login_option(action)


def _cmd_token(args: argparse.Namespace) -> int:
    from panelmanager.core import auth

    if args.token_action is None:
        raise _fail("say what to do: token create or token revoke.")
    with _opened(args) as registry:
        actor = authenticate_cli(args, registry)
        if args.token_action == "create":
            with registry.write_session() as session:
                token = auth.create_token(session, actor, args.for_user, args.name)
            if args.keyring:
                try:
                    import keyring

                    keyring.set_password(KEYRING_SERVICE, registry.location, token)
                except Exception as exc:  # noqa: BLE001 - no keyring backend
                    raise _fail(f"the keyring of this computer cannot keep it ({type(exc).__name__}); "
                                f"create it without --keyring and put it in {TOKEN_ENV}.") from None
                print(f"Created the token '{args.name}' for {args.for_user} and kept it in this computer's keyring.")
            else:
                print(token)
                print(f"Created the token '{args.name}' for {args.for_user}. It is shown only now: keep it in "
                      f"{TOKEN_ENV} for the scheduled job.", file=sys.stderr)
        else:
            with registry.write_session() as session:
                count = auth.revoke_token(session, actor, args.name, args.for_user)
            print(f"Revoked {count} token{'s' if count != 1 else ''} called '{args.name}'.")
        return 0


# --------------------------------------------------------------------------- audit


def _add_audit(sub) -> None:
    cli = _cli()
    p = sub.add_parser("audit", help="the audit trail: who did what, when, to which patients; 'audit verify'",
                       description="List audit entries, newest first (managers and administrators). "
                       "'audit verify' walks the hash chain and names the first altered, deleted or inserted entry.")
    p.add_argument("audit_action", nargs="?", choices=["verify"], metavar="verify",
                   help="check the hash chain instead of listing")
    p.add_argument("--user", help="only this user's entries")
    p.add_argument("--patient", type=int, metavar="ID", help="only entries about this patient (registry id)")
    p.add_argument("--mrn", help="only entries about the patient with this MRN")
    p.add_argument("--action", action="append", help="only this action (repeat for several)")
    p.add_argument("--from", dest="date_from", type=cli.parse_date, metavar="DATE", help="from this day")
    p.add_argument("--to", dest="date_to", type=cli.parse_date, metavar="DATE", help="up to this day")
    p.add_argument("--emergency", action="store_true", help="only emergency (break-glass) entries")
    p.add_argument("--limit", type=int, default=1000, help="at most this many entries (0: all; default 1000)")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.add_argument("--output", metavar="FILE", help="write the CSV to FILE (owner-only) instead of the screen")
    _add_login_option(p)


def _cmd_audit(args: argparse.Namespace) -> int:
    from panelmanager.core import audit
    from panelmanager.core.actions import read
    from panelmanager.core.patients import find_patient

    with _opened(args) as registry:
        actor = authenticate_cli(args, registry)
        if args.audit_action == "verify":
            result = read(registry, actor, "audit_view", audit.verify, details={"check": "verify"})
            print(result.message(), file=sys.stdout if result.ok else sys.stderr)
            if result.ok:
                print(f"Head hash: {result.head_hash}")
            return 0 if result.ok else 1
        patient = args.patient
        if args.mrn:  # the one MRN lookup (core.patients); an unknown MRN is a user message
            with registry.session() as session:
                patient = find_patient(session, args.mrn).id
        exporting = args.format == "csv"  # an export is audited with the patients its entries name
        rows = read(registry, actor, "audit_view", audit.list_entries, user=args.user, patient_id=patient,
                    action=args.action, date_from=args.date_from, date_to=args.date_to,
                    emergency_only=args.emergency, limit=args.limit or None,
                    patient_ids=audit.patient_ids_of if exporting else None,
                    details={"format": args.format, "filtered": bool(args.user or patient or args.action),
                             **({"export": "csv"} if exporting else {})})
        if args.format == "csv":
            audit.write_entries_csv(rows, args.output or sys.stdout)
            if args.output:
                print(f"Wrote {len(rows):,} audit entries to {args.output}.", file=sys.stderr)
            return 0
        if not rows:
            print("No audit entries match.")
        for r in rows:
            flag = "!" if r.emergency else " "
            ids = ",".join(str(p) for p in r.patient_ids[:6]) + ("..." if len(r.patient_ids) > 6 else "")
            print(f"{flag}{r.seq:>7}  {r.at:%Y-%m-%d %H:%M:%S}  {r.user_name:<14} {(r.workstation or '')[:14]:<14} "
                  f"{r.action:<15} {r.outcome:<8} {ids}"
                  + (f"  emergency: {r.emergency_reason}" if r.emergency else ""))
        return 0


AUTH_COMMANDS = [
    ("users", _add_users, _cmd_users),
    ("token", _add_token, _cmd_token),
    ("audit", _add_audit, _cmd_audit),
]
