"""User accounts and logging in: argon2id passwords, lockout, disabled users, tokens for scripts.

Each person has their own account (45 CFR 164.312(a)(2)(i) unique user identification). The
first account of a new registry is its administrator (``create_first_admin``, allowed only while
the registry has no users); after that only an administrator manages users. Passwords are hashed
with argon2id (argon2-cffi) and must be at least ``MIN_PASSWORD_LENGTH`` characters. After
``MAX_FAILURES`` wrong passwords in a row an account is locked for ``LOCKOUT_MINUTES``; the
lockout and every failed login are audited. A disabled user cannot log in; their history stays.

Scheduled imports and scripts log in with a token an administrator created for a user: only its
SHA-256 is stored; the CLI keeps the token in the OS keyring or reads ``PANELMANAGER_TOKEN``.

Failed logins change the account (the failure count), so ``authenticate`` must run in a
transaction that is committed even when it raises: use ``login(registry, ...)``, which does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import audit
from panelmanager.core import models as m
from panelmanager.core.permissions import ROLES, Actor, default_workstation, load_permissions, require

MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
LOCKOUT_MINUTES = 15
TOKEN_PREFIX = "pmt_"
# argon2-cffi's defaults are argon2id (RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4).
# Tests swap in a cheaper hasher; every hash records its own parameters, so both verify.
HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,79}$")


class AuthError(Exception):
    """Logging in or managing an account failed; the message is for the user (never a password)."""


class LockedOut(AuthError):
    pass


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now()).replace(tzinfo=None)


def normal_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not _USERNAME.match(name):
        raise AuthError("A user name is 1-80 letters, digits, dots, dashes or underscores, e.g. jsmith.")
    return name


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AuthError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if password != password.strip():
        raise AuthError("A password cannot start or end with a space.")


def _check_role(role: str) -> str:
    if role not in ROLES:
        labels = load_permissions().role_labels
        raise AuthError(f"'{role}' is not a role; the roles are "
                        + ", ".join(f"{r} ({labels[r]})" for r in ROLES) + ".")
    return role


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify_password(stored: str | None, password: str) -> bool:
    try:
        return bool(stored) and HASHER.verify(stored, password)  # type: ignore[arg-type]
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY: dict[str, str] = {}


def _equal_time_miss(password: str) -> None:
    """A wrong user name costs what a wrong password costs (no user-name probing by timing)."""
    if "hash" not in _DUMMY:
        _DUMMY["hash"] = HASHER.hash(secrets.token_hex(16))
    _verify_password(_DUMMY["hash"], password)


def actor_for(user: m.User, workstation: str | None = None) -> Actor:
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                 workstation=workstation or default_workstation())


def _user(session: Session, username: str) -> m.User | None:
    return session.scalar(select(m.User).where(m.User.username == (username or "").strip().lower()))


def _target(session: Session, username: str) -> m.User:
    user = _user(session, username)
    if user is None:
        raise AuthError(f"There is no user '{username}'.")
    return user


def has_users(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(m.User)))


def list_users(session: Session) -> list[UserInfo]:
    return [UserInfo(u.id, u.username, u.display_name, u.role, bool(u.active), u.locked_until, u.created_at)
            for u in session.scalars(select(m.User).order_by(m.User.username))]


def _new_user(session: Session, username: str, display_name: str, role: str, password: str,
              now: dt.datetime) -> m.User:
    name = normal_username(username)
    _check_role(role)
    check_password(password)
    if _user(session, name) is not None:
        raise AuthError(f"The user name '{name}' is taken; choose another.")
    user = m.User(username=name, display_name=(display_name or "").strip() or name, role=role, active=True,
                  password_hash=hash_password(password), failed_logins=0, created_at=now, updated_at=now)
    session.add(user)
    session.flush()
    return user


# --------------------------------------------------------------------------- administration


def create_first_admin(session: Session, username: str, display_name: str, password: str, *,
                       workstation: str | None = None, now: dt.datetime | None = None) -> Actor:
    """The administrator of a new registry; refused once the registry has any user."""
    now = _now(now)
    audit._lock_chain(session)
    if has_users(session):
        raise AuthError("This registry already has an administrator; log in, or ask them for an account.")
    user = _new_user(session, username, display_name, "admin", password, now)
    actor = actor_for(user, workstation)
    audit.record(session, actor, "first_admin", details={"user": user.username, "role": "admin"}, at=now)
    return actor


def create_user(session: Session, actor: Actor, username: str, display_name: str, role: str, password: str,
                *, now: dt.datetime | None = None) -> UserInfo:
    require(actor, "users")
    now = _now(now)
    user = _new_user(session, username, display_name, role, password, now)
    audit.record(session, actor, "user_created", details={"user": user.username, "role": role}, at=now)
    return list_users_by_id(session, user.id)


def list_users_by_id(session: Session, user_id: int) -> UserInfo:
    return next(u for u in list_users(session) if u.id == user_id)


def set_active(session: Session, actor: Actor, username: str, active: bool, *, now: dt.datetime | None = None) -> None:
    """Disable (``active=False``) or enable an account. An administrator cannot disable themselves."""
    require(actor, "users")
    now = _now(now)
    user = _target(session, username)
    if not active and user.id == actor.user_id:
        raise AuthError("You cannot disable your own account; another administrator can.")
    if not active and user.role == "admin" and _active_admins(session) <= 1 and user.active:
        raise AuthError("This is the last active administrator; make someone else an administrator first.")
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    user.updated_at = now
    audit.record(session, actor, "user_enabled" if active else "user_disabled", details={"user": user.username},
                 at=now)


def disable_user(session: Session, actor: Actor, username: str, **kw) -> None:
    set_active(session, actor, username, False, **kw)


def enable_user(session: Session, actor: Actor, username: str, **kw) -> None:
    set_active(session, actor, username, True, **kw)


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(m.User).where(m.User.role == "admin",
                                                                         m.User.active.is_(True))) or 0


def reset_password(session: Session, actor: Actor, username: str, new_password: str, *,
                   now: dt.datetime | None = None) -> None:
    """An administrator sets a new password (and lifts a lockout)."""
    require(actor, "users")
    now = _now(now)
    check_password(new_password)
    user = _target(session, username)
    user.password_hash = hash_password(new_password)
    user.failed_logins, user.locked_until, user.updated_at = 0, None, now
    audit.record(session, actor, "password_reset", details={"user": user.username}, at=now)


def change_own_password(session: Session, actor: Actor, old_password: str, new_password: str, *,
                        now: dt.datetime | None = None) -> None:
    now = _now(now)
    user = session.get(m.User, actor.user_id) if actor.user_id else None
    if user is None or not _verify_password(user.password_hash, old_password):
        raise AuthError("The current password is wrong.")
    check_password(new_password)
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    audit.record(session, actor, "password_changed", at=now)


def change_role(session: Session, actor: Actor, username: str, role: str, *, now: dt.datetime | None = None) -> None:
    require(actor, "users")
    now = _now(now)
    _check_role(role)
    user = _target(session, username)
    if user.role == "admin" and role != "admin" and _active_admins(session) <= 1 and user.active:
        raise AuthError("This is the last active administrator; make someone else an administrator first.")
    old, user.role, user.updated_at = user.role, role, now
    audit.record(session, actor, "role_changed", details={"user": user.username, "from": old, "to": role}, at=now)


# --------------------------------------------------------------------------- logging in


def authenticate(session: Session, username: str, password: str, workstation: str | None = None, *,
                 now: dt.datetime | None = None) -> Actor:
    """The user's Actor when the password is right; AuthError otherwise (audited either way).

    Commit the session even when this raises (``login`` does): the failure count must stick.
    """
    now = _now(now)
    station = workstation or default_workstation()
    tried = (username or "").strip().lower()[:80]
    user = _user(session, tried)
    if user is None:
        _equal_time_miss(password)
        audit.record(session, None, "login_failed", user_name=tried or "(empty)", outcome="failed",
                     details={"reason": "unknown user", "workstation": station}, at=now)
        raise AuthError("Wrong user name or password.")
    actor = actor_for(user, station)
    if user.locked_until and user.locked_until > now:
        audit.record(session, actor, "login_failed", outcome="failed", details={"reason": "locked"}, at=now)
        raise LockedOut(f"This account is locked after {MAX_FAILURES} wrong passwords; try again after "
                        f"{user.locked_until:%H:%M}, or ask an administrator to reset the password.")
    if not _verify_password(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + dt.timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
            audit.record(session, actor, "lockout", outcome="failed",
                         details={"failures": MAX_FAILURES, "minutes": LOCKOUT_MINUTES}, at=now)
            raise LockedOut(f"Wrong password {MAX_FAILURES} times: this account is locked for {LOCKOUT_MINUTES} "
                            "minutes. An administrator can reset the password.")
        audit.record(session, actor, "login_failed", outcome="failed",
                     details={"reason": "wrong password", "failures": user.failed_logins}, at=now)
        raise AuthError("Wrong user name or password.")
    if not user.active:
        audit.record(session, actor, "login_failed", outcome="failed", details={"reason": "disabled"}, at=now)
        raise AuthError("This account is disabled. Ask an administrator.")
    if HASHER.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, actor, "login", details={"method": "password"}, at=now)
    return actor


def login(registry, username: str, password: str, workstation: str | None = None, *,
          now: dt.datetime | None = None) -> Actor:
    """``authenticate`` in its own write transaction, committed also when the login fails."""
    failure: AuthError | None = None
    with registry.write_session() as session:
        try:
            return authenticate(session, username, password, workstation, now=now)
        except AuthError as exc:
            failure = exc
    raise failure


def logout(session: Session, actor: Actor, *, reason: str | None = None) -> None:
    audit.record(session, actor, "logout", details={"reason": reason} if reason else None)


def verify_password(session: Session, actor: Actor, password: str) -> bool:
    """The idle lock: the same user re-enters their password (audited as unlock, ok or failed)."""
    user = session.get(m.User, actor.user_id) if actor.user_id else None
    ok = bool(user is not None and user.active and _verify_password(user.password_hash, password))
    audit.record(session, actor, "unlock", outcome="ok" if ok else "failed")
    return ok


# --------------------------------------------------------------------------- tokens


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def create_token(session: Session, actor: Actor, username: str, name: str, *, now: dt.datetime | None = None) -> str:
    """A new token for ``username`` (shown once; only its hash is stored). Administrators only."""
    require(actor, "users")
    now = _now(now)
    user = _target(session, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    label = (name or "").strip()[:80] or "scheduled import"
    session.add(m.ApiToken(user_id=user.id, name=label, token_hash=_token_hash(token), created_at=now,
                           created_by=actor.user_id))
    session.flush()
    audit.record(session, actor, "token_created", details={"user": user.username, "token": label}, at=now)
    return token


def revoke_token(session: Session, actor: Actor, name: str, username: str | None = None, *,
                 now: dt.datetime | None = None) -> int:
    """Revoke every live token called ``name`` (of ``username`` when given); returns how many."""
    require(actor, "users")
    now = _now(now)
    query = select(m.ApiToken).where(m.ApiToken.name == name.strip(), m.ApiToken.revoked_at.is_(None))
    if username:
        query = query.where(m.ApiToken.user_id == _target(session, username).id)
    tokens = list(session.scalars(query))
    if not tokens:
        raise AuthError(f"There is no live token called '{name}'.")
    for token in tokens:
        token.revoked_at = now
    audit.record(session, actor, "token_revoked", details={"token": name.strip(), "count": len(tokens)}, at=now)
    return len(tokens)


def authenticate_token(session: Session, token: str, workstation: str | None = None, *,
                       now: dt.datetime | None = None) -> Actor:
    now = _now(now)
    row = session.scalar(select(m.ApiToken).where(m.ApiToken.token_hash == _token_hash(token or "")))
    user = session.get(m.User, row.user_id) if row is not None else None
    if row is None or user is None or row.revoked_at is not None or not user.active:
        why = "unknown token" if row is None else ("revoked token" if row.revoked_at else "disabled user")
        audit.record(session, actor_for(user, workstation) if user else None, "login_failed", outcome="failed",
                     user_name="(token)", details={"reason": why, "method": "token"}, at=now)
        raise AuthError("The token was not accepted (unknown, revoked, or its user is disabled). "
                        "Ask an administrator for a new one.")
    actor = actor_for(user, workstation)
    audit.record(session, actor, "login", details={"method": "token", "token": row.name}, at=now)
    return actor


def login_with_token(registry, token: str, workstation: str | None = None) -> Actor:
    failure: AuthError | None = None
    with registry.write_session() as session:
        try:
            return authenticate_token(session, token, workstation)
        except AuthError as exc:
            failure = exc
    raise failure
