"""The one chokepoint every user action goes through: permission check, the service, the audit entry.

    result = perform(registry, actor, "confirm", confirm_assignment, patient_id, provider_id,
                     patient_ids=[patient_id], by=actor.username)

checks ``permissions.require(actor, "confirm")``, runs the service as ``actor`` (so the service's own
``require_current`` sees them) in ONE write transaction, and appends the audit entry to that same
transaction: the change and its audit row are committed together or not at all. A refusal or an
error is audited too (outcome ``refused`` / ``error``): the service's partial writes are rolled back
and the audit row is committed alone, then the exception is raised again.

``read(registry, actor, action, fn, ...)`` is the variant for views, searches, prints and exports:
``fn`` runs in a read transaction, then the entry is appended in a short write transaction.
``perform_job`` is for services that open their own transactions (imports, backup, restore).

``patient_ids`` may be a list, or a function of the result (a search audits the ids it found).
``details`` is a small dict of counts and options: never patient data.

``audited_service(action, patients=...)`` decorates each core service that CHANGES the registry
(a confirm, a reassignment, a review decision, an outreach log, a settings change): called by
either client as the logged-in user, it checks the role and appends one entry naming the patients
it changed, in the service's own transaction. A refusal or an error is noted on the session and
appended once that transaction has ended (``Registry.session`` / ``write_session`` do it: the
service's writes are rolled back, the entry is kept). ``audited_job`` does the same for the work
that opens its own transactions (an import, the demo practice, a backup).

``audited(session, action)`` is for the core services that carry patient data out of the registry
(a printed or exported document, run by either client in a session of its own): it checks the
current actor's role, lets the service name the patients (``note.patients(ids)``), and appends the
entry when the service is done. ``record_shown(registry, action, ids)`` appends one for what a
screen showed (a search's first page of results).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from panelmanager.core import audit
from panelmanager.core.permissions import (
    Actor,
    PermissionDenied,
    acting_as,
    current_actor,
    current_emergency_reason,
    require,
    require_current,
)

T = TypeVar("T")
PatientIds = Iterable[int] | Callable[[Any], Iterable[int] | None] | None


def _ids(patient_ids: PatientIds, result: Any) -> Iterable[int] | None:
    return patient_ids(result) if callable(patient_ids) else patient_ids


def _error_details(details: dict[str, Any] | None, exc: BaseException) -> dict[str, Any]:
    # The exception's type only: its message may name a file or a value the user typed.
    return {**(details or {}), "error": type(exc).__name__}


def perform(
    target: Any,
    actor: Actor,
    action: str,
    fn: Callable[..., T],
    /,
    *args: Any,
    patient_ids: PatientIds = None,
    emergency_reason: str | None = None,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> T:
    """``fn(session, *args, **kwargs)`` as ``actor``, permission-checked and audited in one transaction.

    ``target`` is a Registry (a write transaction is opened: use this) or a Session the caller
    commits (then a refusal's or an error's audit row is kept only if the caller commits anyway).
    """
    if getattr(fn, "audited_action", None) is not None:  # the service checks and audits itself
        with acting_as(actor, emergency_reason=emergency_reason):
            if isinstance(target, Session):
                return fn(target, *args, **kwargs)
            with target.write_session() as session:
                return fn(session, *args, **kwargs)
    if isinstance(target, Session):
        return _perform_in(target, actor, action, fn, args, kwargs, patient_ids, emergency_reason, details)
    # A refusal is audited without running anything; a failed service's transaction is rolled
    # back whole and its error audited in a transaction of its own (no savepoint on the happy path).
    reason = _check(target, actor, action, emergency_reason, details, patient_ids)
    try:
        with target.write_session() as session, acting_as(actor, emergency_reason=reason):
            result = fn(session, *args, **kwargs)
            audit.record(session, actor, action, patient_ids=_ids(patient_ids, result), details=details,
                         emergency_reason=reason)
            return result
    except Exception as exc:
        try:
            _audit_alone(target, actor, action, outcome="refused" if isinstance(exc, PermissionDenied) else "error",
                         details=details if isinstance(exc, PermissionDenied) else _error_details(details, exc),
                         emergency_reason=reason, patient_ids=None if callable(patient_ids) else patient_ids)
        except Exception:  # noqa: BLE001 - e.g. still busy: nothing was changed; the user sees the first error
            pass
        raise


def _perform_in(session: Session, actor: Actor, action: str, fn: Callable[..., T], args, kwargs,
                patient_ids: PatientIds, emergency_reason: str | None, details: dict[str, Any] | None) -> T:
    try:
        emergency = require(actor, action, emergency_reason=emergency_reason)
    except PermissionDenied:
        audit.record(session, actor, action, patient_ids=_ids(patient_ids, None) if not callable(patient_ids) else None,
                     outcome="refused", details=details)
        raise
    reason = emergency_reason if emergency else None
    try:
        with session.begin_nested(), acting_as(actor, emergency_reason=reason):
            result = fn(session, *args, **kwargs)
    except PermissionDenied:  # the service's own check (require_current) refused
        audit.record(session, actor, action, outcome="refused", details=details, emergency_reason=reason)
        raise
    except Exception as exc:
        audit.record(session, actor, action, patient_ids=None if callable(patient_ids) else patient_ids,
                     outcome="error", details=_error_details(details, exc), emergency_reason=reason)
        raise
    audit.record(session, actor, action, patient_ids=_ids(patient_ids, result), details=details,
                 emergency_reason=reason)
    return result


def _audit_alone(registry, actor: Actor, action: str, *, patient_ids=None, outcome="ok", details=None,
                 emergency_reason=None) -> None:
    with registry.write_session() as session:
        audit.record(session, actor, action, patient_ids=patient_ids, outcome=outcome, details=details,
                     emergency_reason=emergency_reason)


def _check(registry, actor: Actor, action: str, emergency_reason: str | None, details, patient_ids) -> str | None:
    try:
        emergency = require(actor, action, emergency_reason=emergency_reason)
    except PermissionDenied:
        _audit_alone(registry, actor, action, outcome="refused", details=details,
                     patient_ids=None if callable(patient_ids) else patient_ids)
        raise
    return emergency_reason if emergency else None


def read(
    registry: Any,
    actor: Actor,
    action: str,
    fn: Callable[..., T],
    /,
    *args: Any,
    patient_ids: PatientIds = None,
    emergency_reason: str | None = None,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> T:
    """``fn(session, *args, **kwargs)`` in a read transaction as ``actor``; the view/search/print/export
    is audited afterwards (also when it was refused or failed)."""
    reason = _check(registry, actor, action, emergency_reason, details, patient_ids)
    try:
        with registry.session() as session, acting_as(actor, emergency_reason=reason):
            session.info[_IN_SERVICE] = True  # this entry covers the audited reads ``fn`` makes
            result = fn(session, *args, **kwargs)
    except PermissionDenied:
        _audit_alone(registry, actor, action, outcome="refused", details=details, emergency_reason=reason)
        raise
    except Exception as exc:
        _audit_alone(registry, actor, action, outcome="error", details=_error_details(details, exc),
                     emergency_reason=reason, patient_ids=None if callable(patient_ids) else patient_ids)
        raise
    _audit_alone(registry, actor, action, patient_ids=_ids(patient_ids, result), details=details,
                 emergency_reason=reason)
    return result


def perform_job(
    registry: Any,
    actor: Actor,
    action: str,
    fn: Callable[..., T],
    /,
    *args: Any,
    patient_ids: PatientIds = None,
    emergency_reason: str | None = None,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> T:
    """``fn(*args, **kwargs)`` (it opens its own transactions: an import, a backup, a restore) as
    ``actor``; checked first, audited after."""
    reason = _check(registry, actor, action, emergency_reason, details, patient_ids)
    try:
        with acting_as(actor, emergency_reason=reason):
            result = fn(*args, **kwargs)
    except Exception as exc:
        outcome = "refused" if isinstance(exc, PermissionDenied) else "error"
        _audit_alone(registry, actor, action, outcome=outcome, details=_error_details(details, exc),
                     emergency_reason=reason)
        raise
    _audit_alone(registry, actor, action, patient_ids=_ids(patient_ids, result), details=details,
                 emergency_reason=reason)
    return result


# --------------------------------------------------------------------------- documents and searches


class AuditNote:
    """What an audited service reports while it works: the patients its document or result holds
    (ids only) and a few counts for ``details``."""

    __slots__ = ("ids", "details")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.details: dict[str, Any] = {}

    def patients(self, ids: Iterable[Any]) -> None:
        if hasattr(ids, "dropna"):  # a pandas column: unique values at C speed
            ids = ids.dropna().unique().tolist()
        for value in ids:
            try:
                self.ids.add(int(value))
            except (TypeError, ValueError):  # None, NaN, NA: no patient
                continue


@contextmanager
def audited(session: Session, action: str, *, details: dict[str, Any] | None = None) -> Iterator[AuditNote]:
    """Check and audit a print, export or search a core service does in ``session``.

        with audited(session, "print", details={"document": "huddle"}) as note:
            ...build the document...
            note.patients(ids_on_it)

    The current actor's role must allow ``action`` (break-glass with the reason they gave); a
    refusal is audited and raised. When the body finishes, one entry names the patients noted,
    with ``details`` and ``note.details``; when it raises, the entry has outcome ``error``.
    With no one logged in (a registry without accounts) or the internal SYSTEM actor, the role is
    checked as ``require_current`` does and nothing is recorded.

    The entry goes into ``session``'s transaction when it can (committed with it, so a read
    session becomes a short write at its end); a read session that cannot take the write lock
    (SQLite: another workstation wrote since it began) appends it in a transaction of its own.
    A refusal or an error is appended in a transaction of its own (the caller's is about to roll
    back) unless the session already writes: waiting for the write lock would be waiting on itself.
    """
    actor = current_actor()
    if actor is None or actor.is_system:
        require_current(action)
        yield AuditNote()
        return
    written = _writes_so_far(session)
    given = current_emergency_reason()
    try:
        reason = given if require(actor, action, emergency_reason=given) else None
    except PermissionDenied:
        _append_failure(session, written, actor, action, None, "refused", details, None)
        raise
    note = AuditNote()
    outer = session.info.get(_IN_SERVICE)
    session.info[_IN_SERVICE] = True  # the services it calls (logging the letters) add no entry of their own
    try:
        yield note
    except BaseException as exc:
        _append_failure(session, written, actor, action, note.ids, "error", _error_details(details, exc), reason)
        raise
    finally:
        session.info[_IN_SERVICE] = outer
    _append(session, actor, action, note.ids, "ok", {**(details or {}), **note.details}, reason)


def _append_failure(session: Session, written: Any, actor: Actor, action: str, ids, outcome: str, details,
                    reason) -> None:
    try:
        own = written is not True and not _is_write_session(session) and _writes_so_far(session) == written
    except Exception:  # noqa: BLE001 - e.g. a PostgreSQL transaction already aborted by the error
        own = written is False
    if not own:  # the session has written: its transaction is about to roll back, the entry must outlive it
        _note_failure(session, actor, action, ids, outcome, details, reason)
        return
    try:
        _append(session, actor, action, ids, outcome, details, reason, own_transaction=True)
    except Exception:  # noqa: BLE001 - the service's own error (or refusal) is what the user must see
        pass


# --------------------------------------------------------------------------- services that change the registry

# session.info keys: an audited service is running in this session (a service it calls adds no entry
# of its own); and the refusals and errors to append when the transaction has ended (db.AUDIT_NOTED).
_IN_SERVICE = "panelmanager_in_audited_service"


def _note_failure(session: Session, actor: Actor, action: str, ids, outcome: str, details, reason) -> None:
    from panelmanager.core.db import AUDIT_NOTED

    session.info.setdefault(AUDIT_NOTED, []).append(
        (actor, action, {"patient_ids": sorted(ids) if ids else None, "outcome": outcome, "details": details,
                         "emergency_reason": reason}))


def append_noted(session: Session, bind: Any = None) -> None:
    """Append the refusals and errors ``session``'s services noted: in ``session`` (its transaction is
    about to commit: the caller handled them) or, with ``bind``, each in a write transaction of its own
    after the session's was rolled back. Called by ``Registry.session`` and ``write_session``."""
    from panelmanager.core.db import AUDIT_NOTED

    noted = session.info.pop(AUDIT_NOTED, None) or []
    for actor, action, kwargs in noted:
        try:
            if bind is None:
                audit.record(session, actor, action, **kwargs)
            else:
                _record_apart(bind, actor, action, **kwargs)
        except Exception:  # noqa: BLE001 - the service's own error (or refusal) is what the user must see
            if bind is None:
                raise


PatientsOf = Callable[[tuple[Any, ...], dict[str, Any], Any], Iterable[Any] | None]


def argument(name: str, position: int) -> PatientsOf:
    """The patient a service names in its ``name`` argument (``position``: its index after the session)."""
    def patients(args: tuple[Any, ...], kwargs: dict[str, Any], _result: Any) -> list[Any]:
        value = args[position] if len(args) > position else kwargs.get(name)
        return [value] if value is not None else []
    return patients


def audited_service(action: str, *, patients: PatientsOf | None = None,
                    details: Callable[[tuple[Any, ...], dict[str, Any], Any], dict[str, Any] | None] | None = None):
    """Decorate a core service ``fn(session, ...)`` that changes the registry: run as the logged-in
    user (``current_actor``), it is refused unless their role may do ``action`` (break-glass with the
    reason they gave) and it appends ONE audit entry in its own transaction: the patients
    ``patients(args, kwargs, result)`` names (ids; ``args`` after the session), the ``details``
    (counts and options, never patient data), and the emergency reason when it was needed.

    A refusal (``refused``) or an error (``error``, with the exception's type) is noted on the
    session and appended when its transaction ends (``append_noted``), naming the patients the
    arguments name. A service called by another audited service adds no entry: the outer one is
    the user's action. With no one logged in (a registry without accounts) or the SYSTEM actor,
    nothing is recorded (the service's own ``require_current`` decides).
    """
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def run(session: Session, *args: Any, **kwargs: Any) -> T:
            info = session.info
            actor = current_actor()
            if actor is None or actor.is_system or info.get(_IN_SERVICE):
                return fn(session, *args, **kwargs)
            given = current_emergency_reason()
            try:
                reason = given if require(actor, action, emergency_reason=given) else None
            except PermissionDenied:
                _note_failure(session, actor, action, _named(patients, args, kwargs), "refused", None, None)
                raise
            info[_IN_SERVICE] = True
            try:
                result = fn(session, *args, **kwargs)
            except BaseException as exc:
                outcome = "refused" if isinstance(exc, PermissionDenied) else "error"
                _note_failure(session, actor, action, _named(patients, args, kwargs), outcome,
                              {"error": type(exc).__name__}, reason)
                raise
            finally:
                info[_IN_SERVICE] = False
            ids = patients(args, kwargs, result) if patients is not None else None
            audit.record(session, actor, action, patient_ids=_int_ids(ids),
                         details=details(args, kwargs, result) if details is not None else None,
                         emergency_reason=reason)
            return result

        run.audited_action = action  # type: ignore[attr-defined]
        return run

    return decorate


def _int_ids(ids: Iterable[Any] | None) -> list[int] | None:
    if ids is None:
        return None
    if type(ids) is list and len(ids) == 1 and type(ids[0]) is int:
        return ids  # a check-in: one patient
    note = AuditNote()
    note.patients(ids)
    return sorted(note.ids)


def _named(patients: PatientsOf | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[int] | None:
    """The patients a failed call's arguments name (its result never came)."""
    if patients is None:
        return None
    try:
        return _int_ids(patients(args, kwargs, None))
    except Exception:  # noqa: BLE001 - a result-only extractor: no ids for the failure
        return None


def audited_view(action: str, *, patients: PatientsOf):
    """Decorate a core read that shows one patient's record (``fn(session, ...)``): for the logged-in
    user it is checked and audited as ``audited`` does, naming the patients ``patients`` gives. Inside
    another audited action (``read``, a print) it adds no entry of its own."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def run(session: Session, *args: Any, **kwargs: Any) -> T:
            actor = current_actor()
            if actor is None or actor.is_system or session.info.get(_IN_SERVICE):
                return fn(session, *args, **kwargs)
            with audited(session, action) as note:
                result = fn(session, *args, **kwargs)
                note.patients(patients(args, kwargs, result) or ())
            return result

        run.audited_action = action  # type: ignore[attr-defined]
        return run

    return decorate


def audited_job(action: str, *, details: Callable[[tuple[Any, ...], dict[str, Any], Any], dict[str, Any] | None]):
    """Decorate a job ``fn(registry, ...)`` that opens its own transactions (an import, the demo practice,
    a backup): checked for the logged-in user's role first, and one entry appended in a short
    transaction of its own when it has finished, failed (``error``) or been cancelled."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def run(registry: Any, *args: Any, **kwargs: Any) -> T:
            actor = current_actor()
            if actor is None or actor.is_system or not hasattr(registry, "write_session"):
                return fn(registry, *args, **kwargs)
            given = current_emergency_reason()
            try:
                reason = given if require(actor, action, emergency_reason=given) else None
            except PermissionDenied:
                _audit_alone(registry, actor, action, outcome="refused")
                raise
            try:
                result = fn(registry, *args, **kwargs)
            except BaseException as exc:
                try:
                    _audit_alone(registry, actor, action, outcome="error", details={"error": type(exc).__name__},
                                 emergency_reason=reason)
                except Exception:  # noqa: BLE001 - the job's own error is what the user must see
                    pass
                raise
            _audit_alone(registry, actor, action, details=details(args, kwargs, result), emergency_reason=reason)
            return result

        run.audited_action = action  # type: ignore[attr-defined]
        return run

    return decorate


def _is_write_session(session: Session) -> bool:
    from panelmanager.core.db import WRITE_OPTION

    return bool(session.connection().get_execution_options().get(WRITE_OPTION))


def _writes_so_far(session: Session) -> Any:
    """Something that changes when ``session``'s transaction writes (SQLite: the connection's change
    count; PostgreSQL: whether the transaction has an id, which it gets at its first write)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return getattr(conn.connection.dbapi_connection, "total_changes", None)
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT txid_current_if_assigned() IS NOT NULL").scalar()
    return None


def _append(session: Session, actor: Actor, action: str, ids, outcome: str, details, reason,
            *, own_transaction: bool = False) -> None:
    kwargs = {"patient_ids": sorted(ids) if ids else None, "outcome": outcome, "details": details,
              "emergency_reason": reason}
    if not own_transaction:
        try:
            audit.record(session, actor, action, **kwargs)
            return
        except Exception as exc:  # noqa: BLE001 - SQLite: this read snapshot cannot become a write
            if not _is_locked(exc):
                raise
    _record_apart(session.get_bind(), actor, action, **kwargs)


def _is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def _record_apart(bind, actor: Actor, action: str, **kwargs: Any) -> None:
    """Append in a short write transaction of its own on ``bind`` (retried briefly while busy)."""
    from sqlalchemy.orm import sessionmaker

    from panelmanager.core.concurrency import run_write
    from panelmanager.core.db import Registry

    run_write(Registry(url=bind.url, engine=bind, sessions=sessionmaker(bind)), audit.record, actor, action, **kwargs)


def record_shown(registry: Any, action: str, patient_ids: Iterable[int], *, details: dict[str, Any] | None = None,
                 actor: Actor | None = None) -> bool:
    """Audit what a screen showed (a search's results: the ids on its first page) as the logged-in
    user, in a short write transaction of its own; False when no one is logged in (nothing recorded)."""
    actor = actor or current_actor()
    if actor is None or actor.is_system:
        return False
    from panelmanager.core.concurrency import run_write

    given = current_emergency_reason()
    try:
        reason = given if require(actor, action, emergency_reason=given) else None
    except PermissionDenied:
        run_write(registry, audit.record, actor, action, outcome="refused", details=details)
        raise
    ids = sorted({int(i) for i in patient_ids})
    run_write(registry, audit.record, actor, action, patient_ids=ids or None, details=details, emergency_reason=reason)
    return True
