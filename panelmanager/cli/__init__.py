"""The ``panelmanager`` command: thin argument parsing over the core services.

With no command it opens the desktop app. Every other command opens the registry
(``--db``, ``PANELMANAGER_DB`` or the default), calls one core service and prints the
result for people or, with ``--json``, for scripts. No business logic and no SQL live
here, and Qt is imported only to launch the GUI.

One module per command group (``registry``, ``panels``, ``gaps``, ``printing``,
``outreach``, ``settings``); each declares its sub-parsers in ``_add_<name>`` functions and
runs them in ``_cmd_<name>`` functions, listed in its ``COMMANDS``. ``_common`` opens the
registry, shows progress and cancels on Ctrl+C for all of them. Only the standard library
loads until a command runs: ``--help`` and ``--version`` import no pandas or SQLAlchemy, and
``panelmanager`` alone (the desktop app) loads no command module at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

# The names scripts and tests used from panelmanager.cli (cli._common's), found on first use.
_COMMON_NAMES = frozenset({
    "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CommandError", "LazyChoices", "TerminalProgress", "cancellable",
    "current_user", "is_user_error", "open_registry_for", "parse_date", "print_json", "unlock_registry_for",
})

Command = tuple[str, Callable[[Any], None], Callable[[argparse.Namespace], int]]


def commands() -> list[Command]:
    """Every command: (name, add its sub-parser, run it), in the order ``--help`` lists them."""
    from panelmanager.cli import auth, gaps, outreach, panels, printing, registry, settings

    return [
        *registry.COMMANDS,
        *panels.COMMANDS,
        *gaps.COMMANDS,
        *printing.COMMANDS[:1],  # huddle
        *outreach.COMMANDS,
        *printing.COMMANDS[1:],  # panel-list
        *settings.COMMANDS,
        *registry.AT_REST_COMMANDS,
        *registry.COPY_COMMANDS,
        *auth.AUTH_COMMANDS,  # issue 14: users, token, audit
    ]


def __getattr__(name: str) -> Any:
    # Issue 16: ``panelmanager`` with no argument opens the desktop app without compiling the
    # command modules (2,600 lines: 50-60 ms of CPU when no bytecode may be written).
    if name == "COMMANDS":
        return commands()
    if name in _COMMON_NAMES:
        from panelmanager.cli import _common

        return getattr(_common, name)
    raise AttributeError(f"module 'panelmanager.cli' has no attribute {name!r}")


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
    parser.add_argument("--login", metavar="USER",
                        help="who logs in, on a registry with user accounts (default: $PANELMANAGER_USER or the "
                        "computer login; scheduled jobs use a token: 'panelmanager token create')")
    parser.add_argument("--emergency", metavar="REASON",
                        help="break-glass: do an action above your role, giving the reason (flagged in the audit trail)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.set_defaults(handler=_cmd_gui)
    for _name, add, run in commands():
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


def _run(handler, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    finally:  # the person logged in for this run (cli._common.log_in_for) is logged out
        if "panelmanager.core.permissions" in sys.modules:
            sys.modules["panelmanager.core.permissions"].set_logged_in(None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv:
        args = build_parser().parse_args(argv)
    else:  # no command and no option: the desktop app, without building every command's parser
        args = argparse.Namespace(command=None, db=None)
    handler = getattr(args, "handler", None) or _cmd_gui
    from panelmanager.core.jobs import Cancelled

    name = args.command or "gui"
    try:
        return _run(handler, args)
    except Cancelled as exc:
        print(f"panelmanager {name}: {exc}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head/less that closed early
        from panelmanager.cli._common import EXIT_OK

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # A core error written for people, or another workstation's change or lock: a message
        # for the user, never a traceback, SQL or parameters.
        from panelmanager.cli._common import EXIT_FAILED, is_user_error

        message = str(exc) if is_user_error(exc) else _concurrency_message(exc)
        if message is None:
            raise
        print(f"panelmanager {name}: {message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
