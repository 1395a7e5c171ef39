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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from panelmanager.core import audit
from panelmanager.core.permissions import Actor, PermissionDenied, acting_as, require

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
