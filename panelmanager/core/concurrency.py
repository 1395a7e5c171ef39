"""Several workstations writing one registry: conflicts, a busy registry, and retries.

Every write is one short transaction that holds the write lock from its start
(``Registry.write_session``: BEGIN IMMEDIATE on SQLite) and whose first statement,
``begin_write``, bumps the registry's change counter, which serializes write services on
both backends before they read what they decide on. What a user
edits carries a version (assignments, review items, risk overrides, settings); a service
given the version its user saw refuses to overwrite a newer one and says who changed it
and when (``Conflict``). A registry locked by another workstation for longer than a brief
retry gives ``RegistryBusy``. Both messages are written for the user and never carry SQL,
parameters or patient data, so the CLI and GUI show them as they are.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from panelmanager.core.db import Registry

T = TypeVar("T")

BUSY_MESSAGE = "The registry is busy: another workstation is importing; try again in a minute."
RETRY_ATTEMPTS = 4
RETRY_BASE_DELAY_S = 0.05


class ConcurrencyError(Exception):
    """A write could not be done because of another workstation; the message is for the user."""


class RegistryBusy(ConcurrencyError):
    def __init__(self, message: str = BUSY_MESSAGE) -> None:
        super().__init__(message)


class Conflict(ConcurrencyError):
    """Someone else changed what this user was editing; reload and try again."""


# --------------------------------------------------------------------------- errors


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked/busy", PostgreSQL's serialization failure, deadlock or lock timeout."""
    if not isinstance(exc, DBAPIError):
        return False
    state = _sqlstate(exc)
    if state in ("40001", "40P01", "55P03"):
        return True
    if isinstance(exc, OperationalError):
        text = str(getattr(exc, "orig", "")).lower()
        return "database is locked" in text or "database is busy" in text or "database table is locked" in text
    return False


def is_duplicate(exc: BaseException) -> bool:
    """A unique key taken by a concurrent writer (two users assigning one unassigned patient)."""
    if not isinstance(exc, IntegrityError):
        return False
    state = _sqlstate(exc)
    return state == "23505" or "unique constraint failed" in str(getattr(exc, "orig", "")).lower()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors of concurrent work into messages without SQL or parameters."""
    try:
        yield
    except (DBAPIError) as exc:
        if is_busy(exc):
            raise RegistryBusy() from None
        if is_duplicate(exc):
            raise Conflict("Another workstation saved the same record a moment ago - reload and try again.") from None
        raise


def run_write(registry: Registry, fn: Callable[..., T], *args: Any, attempts: int = RETRY_ATTEMPTS, **kwargs: Any) -> T:
    """``fn(session, *args, **kwargs)`` in one write transaction, retried briefly while the registry is busy.

    A ``Conflict`` is not retried: the user must see the newer state first.
    """
    for attempt in range(attempts):
        try:
            with registry.write_session() as session:
                return fn(session, *args, **kwargs)
        except RegistryBusy:
            if attempt == attempts - 1:
                raise
            time.sleep(RETRY_BASE_DELAY_S * (2**attempt) * (1 + random.random()))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- locks and versions


def begin_write(session: Session) -> None:
    """First statement of every write service: bump the registry's change counter.

    Updating the one counter row takes the write lock on SQLite and that row's lock on
    PostgreSQL until commit, so write services run one after another and each reads
    what it decides on with no other writer in between; other workstations see the new
    counter (``change_counter``) and refresh. Imports bump it when they finish, so a long
    import does not hold it.
    """
    from panelmanager.core import models as m

    if session.get_bind().dialect.name == "sqlite" and _bump_sqlite(session):
        return
    c = m.RegistryChange.__table__
    done = session.execute(update(c).where(c.c.id == 1).values(counter=c.c.counter + 1, changed_at=dt.datetime.now()))
    if not done.rowcount:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.execute(c.insert().values(id=1, counter=1, changed_at=dt.datetime.now()))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        from panelmanager.core.change_listener import notify_sql

        session.execute(text(notify_sql()))  # listeners hear it at commit (core.change_listener)


# SQLite: the bump is one statement on the session's own DB-API connection, and it returns the audit
# chain's head from the same row, so the service's audit entry (core.audit.record) reads no head of
# its own: one statement fewer on every audited change, where a check-in confirm's audit cost is
# counted (tests/benchmarks/bench_audit.py). The changed_at text is what SQLAlchemy's DateTime stores.
_BUMP_SQLITE = ("UPDATE registry_changes SET counter = counter + 1, changed_at = ? WHERE id = 1 "
                "RETURNING audit_seq, audit_hash, audit_at_max")


def _bump_sqlite(session: Session) -> bool:
    from panelmanager.core.audit import remember_head

    dbapi, module = session.connection().connection.dbapi_connection, session.get_bind().dialect.dbapi
    if dbapi is None or module is None:
        return False
    cursor = dbapi.cursor()
    try:
        cursor.execute(_BUMP_SQLITE, (dt.datetime.now().isoformat(sep=" ", timespec="microseconds"),))
        head = cursor.fetchone()
    except module.Error:  # e.g. busy outside a write session: SQLAlchemy's
        return False  # statement below runs it again and raises the error its callers translate
    finally:
        cursor.close()
    if head is None:  # no counter row yet (a registry made before it): the insert below
        return False
    remember_head(session, dbapi, head)
    return True


def change_counter(session: Session) -> int:
    """The registry's change counter: a screen that saw another value refreshes."""
    from panelmanager.core import models as m

    return session.scalar(select(m.RegistryChange.counter).where(m.RegistryChange.id == 1)) or 0


def _clock(when: dt.datetime | None) -> str:
    return when.strftime("%H:%M") if when else "a moment ago"


def changed_by_text(user: str | None, when: dt.datetime | None) -> str:
    """ "jsmith at 10:42" (the date too when it was not today)."""
    who = user or "another user"
    if when is None:
        return who
    stamp = _clock(when) if when.date() == dt.date.today() else when.strftime("%Y-%m-%d %H:%M")
    return f"{who} at {stamp}"


def last_assignment_change(session: Session, patient_id: int) -> tuple[str | None, dt.datetime | None]:
    """Who last changed a patient's assignment or its confirmations, and when."""
    from panelmanager.core import models as m

    def latest(model, at):  # (user, at) of the patient's newest row in ``model``
        stmt = select(model.user, at).where(model.patient_id == patient_id).order_by(at.desc(), model.id.desc())
        return session.execute(stmt.limit(1)).first()

    h = latest(m.AssignmentHistory, m.AssignmentHistory.changed_at)
    c = latest(m.Confirmation, m.Confirmation.recorded_at)
    candidates = [row for row in (h, c) if row is not None and row[1] is not None]
    if not candidates:
        return None, None
    user, when = max(candidates, key=lambda row: row[1])
    return user, when


def assignment_version(session: Session, patient_id: int) -> int:
    """The version of a patient's assignment as a screen shows it (0: unassigned)."""
    from panelmanager.core import models as m

    return session.scalar(select(m.Assignment.version).where(m.Assignment.patient_id == patient_id)) or 0


def check_assignment_version(session: Session, patient_id: int, expected: int | None, *, what: str) -> None:
    """Refuse to change a patient's assignment that changed since the user saw ``expected``.

    ``what`` names the thing for the user without patient data, e.g. "Dr. Lee's panel".
    """
    if expected is None:
        return
    current = assignment_version(session, patient_id)
    if current != expected:
        user, when = last_assignment_change(session, patient_id)
        raise Conflict(f"{what} was changed by {changed_by_text(user, when)} - reload and try again.")


class ChangeWatcher:
    """Tells a screen that another workstation changed the registry: call ``poll()`` every few seconds.

    One indexed single-row read per poll on either backend (a QTimer in the GUI); True
    when the counter moved since the last poll, so the screens reload what they show.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.seen = self._read()

    def _read(self) -> int:
        with self.registry.session() as session:
            return change_counter(session)

    def poll(self) -> bool:
        now = self._read()
        changed, self.seen = now != self.seen, now
        return changed
