"""Who may do what: the role x action matrix of ``resources/permissions.toml``, checked in the core.

``require(actor, action)`` refuses with ``PermissionDenied`` and a message written for the user
("Your role (front desk) cannot accept panel reviews. Ask a manager."). An action the file marks
``break_glass`` may still be done by another role when the user gives an emergency reason; the
audit entry (core.audit) is then flagged.

The acting user travels in a context variable set by ``acting_as(actor)`` (or, in the desktop
app, ``set_logged_in(actor)`` for the whole process) (``core.actions.perform``
sets it around every service it runs), so a service function deep in the core checks its action
with one line, ``require_current("settings")``, without a new parameter.

Calls with no actor set (the existing tests, internal maintenance, a registry opened before logins
existed) are PERMITTED by ``require_current``: the clients (CLI ``authenticate_cli``, GUI login)
always set one, and ``strict_permissions(True)`` turns the no-actor case into a refusal for
deployments and tests that want it. ``SYSTEM`` is the actor for internal work (the daily backup).
"""

from __future__ import annotations

import contextvars
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from panelmanager.core.resources import ResourceError, load_toml, resource_path

ROLES: tuple[str, ...] = ("front_desk", "ma_nurse", "provider", "manager", "admin")
ACTIONS: tuple[str, ...] = (
    "import", "assign", "review_accept", "confirm", "reassign", "risk_override", "print", "letters",
    "export", "outreach_log", "settings", "users", "audit_view", "backup", "restore", "view_patient",
    "search",
)
SYSTEM_ROLE = "system"


class PermissionDenied(Exception):
    """The acting user's role may not do this; the message says who can."""

    def __init__(self, message: str, *, action: str = "", role: str = "") -> None:
        super().__init__(message)
        self.action, self.role = action, role


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user (or ``SYSTEM``), on which workstation."""

    user_id: int | None
    username: str
    display_name: str
    role: str
    workstation: str = field(default_factory=lambda: default_workstation())

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE


def default_user() -> str:
    """The computer login: the acting user on a registry without accounts."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in some service environments
        return os.environ.get("USERNAME") or "unknown"


def acting_name(fallback: str | None = None) -> str:
    """Who acts, as a name for what is recorded: the logged-in user; on a registry without accounts
    (no one logged in) ``fallback`` (the settings' user name), else the computer login."""
    actor = current_actor()
    if actor is not None and not actor.is_system:
        return actor.username
    return fallback or default_user()


def default_workstation() -> str:
    return os.environ.get("PANELMANAGER_WORKSTATION") or socket.gethostname() or "unknown"


SYSTEM = Actor(user_id=None, username="system", display_name="Panel Manager", role=SYSTEM_ROLE, workstation="")


@dataclass(frozen=True)
class ActionRule:
    action: str
    refused: str
    roles: frozenset[str]
    break_glass: bool


@dataclass(frozen=True)
class PermissionMatrix:
    role_labels: dict[str, str]
    rules: dict[str, ActionRule]

    def allowed(self, role: str, action: str) -> bool:
        return role in self._rule(action).roles

    def break_glass(self, action: str) -> bool:
        return self._rule(action).break_glass

    def _rule(self, action: str) -> ActionRule:
        try:
            return self.rules[action]
        except KeyError:
            raise ValueError(f"'{action}' is not an action; the actions are {', '.join(ACTIONS)}.") from None

    def actions_for(self, role: str) -> list[str]:
        return [a for a in ACTIONS if role in self.rules[a].roles]

    def label(self, role: str) -> str:
        return self.role_labels.get(role, role.replace("_", " "))


def load_permissions(path: Path | None = None) -> PermissionMatrix:
    """Read and check permissions.toml; a mistake is a ResourceError naming the file and the action."""
    if path is None:  # every service call checks: the default file's path is looked up once
        return _load(_default_path())
    return _load(str(path))


@lru_cache(maxsize=1)
def _default_path() -> str:
    return str(resource_path("permissions.toml"))


@lru_cache(maxsize=4)
def _load(path_text: str) -> PermissionMatrix:
    path = Path(path_text)
    data = load_toml(path)
    labels = data.get("roles", {})
    if set(labels) != set(ROLES):
        raise ResourceError(f"{path}: [roles] must name exactly {', '.join(ROLES)}.")
    actions = data.get("actions", {})
    missing = [a for a in ACTIONS if a not in actions]
    unknown = [a for a in actions if a not in ACTIONS]
    if missing or unknown:
        raise ResourceError(f"{path}: [actions] is missing {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}.")
    rules: dict[str, ActionRule] = {}
    for name in ACTIONS:
        table = actions[name]
        roles = table.get("roles")
        if not isinstance(roles, list) or any(r not in ROLES for r in roles):
            raise ResourceError(f"{path}: [actions.{name}] roles must be a list of {', '.join(ROLES)}.")
        if "admin" not in roles and name in ("users", "restore"):
            raise ResourceError(f"{path}: [actions.{name}] the administrator must keep this action.")
        rules[name] = ActionRule(name, str(table.get("refused", name.replace("_", " "))), frozenset(roles),
                                 bool(table.get("break_glass", False)))
    return PermissionMatrix({k: str(v) for k, v in labels.items()}, rules)


def _who_can(matrix: PermissionMatrix, action: str) -> str:
    roles = [r for r in ROLES if matrix.allowed(r, action)]
    if not roles:
        return "No role may do this."
    first = matrix.label(roles[0])
    article = "an" if first[:1].lower() in "aeiou" else "a"
    return f"Ask {article} {first}."


def refusal_message(role: str, action: str, matrix: PermissionMatrix | None = None) -> str:
    matrix = matrix or load_permissions()
    rule = matrix._rule(action)
    message = f"Your role ({matrix.label(role)}) cannot {rule.refused}. {_who_can(matrix, action)}"
    if rule.break_glass:
        message += " In an emergency you can use emergency access and give a reason."
    return message


def is_allowed(actor: Actor, action: str) -> bool:
    return actor.is_system or load_permissions().allowed(actor.role, action)


def require(actor: Actor | None, action: str, *, emergency_reason: str | None = None) -> bool:
    """Refuse ``action`` for ``actor`` unless the role allows it; True when allowed only as break-glass.

    ``emergency_reason`` (non-empty) lets a role do a break-glass action it is not allowed;
    the caller audits that as an emergency. Never for users, restore, settings or audit.
    """
    matrix = load_permissions()
    matrix._rule(action)  # unknown action: ValueError, whoever asks
    if actor is None:
        raise PermissionDenied("Log in first: no user is logged in.", action=action)
    if actor.is_system or matrix.allowed(actor.role, action):
        return False
    reason = (emergency_reason or "").strip()
    if reason and matrix.break_glass(action):
        return True
    if reason:
        raise PermissionDenied(
            f"Your role ({matrix.label(actor.role)}) cannot {matrix.rules[action].refused}, "
            f"not even with emergency access. {_who_can(matrix, action)}", action=action, role=actor.role)
    raise PermissionDenied(refusal_message(actor.role, action, matrix), action=action, role=actor.role)


# --------------------------------------------------------------------------- the current actor

_CURRENT: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("panelmanager_actor", default=None)
_EMERGENCY: contextvars.ContextVar[str | None] = contextvars.ContextVar("panelmanager_emergency", default=None)
_STRICT = {"on": os.environ.get("PANELMANAGER_STRICT_PERMISSIONS", "") == "1"}


# The desktop app's logged-in user, for every thread (jobs run on a thread pool, where a context
# variable set on the GUI thread is not seen). A context variable set by ``acting_as`` wins.
_LOGGED_IN: dict[str, Actor | None] = {"actor": None}
_LOGGED_IN_EMERGENCY: dict[str, str | None] = {"reason": None}


def current_actor() -> Actor | None:
    return _CURRENT.get() or _LOGGED_IN["actor"]


def current_emergency_reason() -> str | None:
    """The break-glass reason the current actor gave (``acting_as``, or a CLI run's ``--emergency``)."""
    if _CURRENT.get() is not None:
        return _EMERGENCY.get()
    return _LOGGED_IN_EMERGENCY["reason"]


def set_logged_in(actor: Actor | None, *, emergency_reason: str | None = None) -> None:
    """The GUI's login (and logout with None): the actor of every service call in this process.
    ``emergency_reason``: a CLI run's ``--emergency``, for the services it calls (break-glass)."""
    _LOGGED_IN["actor"] = actor
    _LOGGED_IN_EMERGENCY["reason"] = emergency_reason if actor is not None else None


@contextmanager
def acting_as(actor: Actor, *, emergency_reason: str | None = None) -> Iterator[Actor]:
    """Services called inside run as ``actor`` (``require_current`` checks its role)."""
    token = _CURRENT.set(actor)
    reason_token = _EMERGENCY.set(emergency_reason)
    try:
        yield actor
    finally:
        _EMERGENCY.reset(reason_token)
        _CURRENT.reset(token)


def strict_permissions(on: bool) -> None:
    """With ``on``, ``require_current`` refuses when no actor is set (default: permits; see module doc)."""
    _STRICT["on"] = on


def require_current(action: str) -> None:
    """The one-line check a service starts with: the current actor may do ``action``."""
    actor = current_actor()
    if actor is None:
        if _STRICT["on"]:
            raise PermissionDenied("Log in first: no user is logged in.", action=action)
        load_permissions()._rule(action)
        return
    require(actor, action, emergency_reason=current_emergency_reason())
