"""One patient's panel: manual reassignment, confirmations, preferences, current assignment and history.

Single-patient services use the ORM; every change goes through ``changes._apply_changes``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.actions import argument, audited_service, audited_view
from panelmanager.core.concurrency import begin_write, check_assignment_version
from panelmanager.core.empanelment.base import (
    CUT_MANUAL,
    CUT_PREFERENCE,
    METHODS,
    NO_PROVIDER,
    PARTIES,
    PATIENT_OUTCOMES,
    PROVIDER_OUTCOMES,
    EmpanelmentError,
)
from panelmanager.core.empanelment.changes import (
    _apply_changes,
)
from panelmanager.core.empanelment.rules import (
    panel_providers,
)
from panelmanager.core.permissions import require_current
from panelmanager.core.settings import load_settings


@dataclass
class AssignmentChange:
    """One patient's assignment changed (or not, when it was already so)."""

    patient_id: int
    from_provider_id: int | None
    to_provider_id: int | None
    changed: bool
    reason: str


def _today(as_of: dt.date | None) -> dt.date:
    return as_of or dt.date.today()


def _patient_or_error(session: Session, patient_id: int) -> m.Patient:
    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise EmpanelmentError(f"There is no patient with id {patient_id}.")
    return patient


def _provider_or_error(session: Session, provider_id: int) -> m.Provider:
    provider = session.get(m.Provider, provider_id)
    if provider is None:
        raise EmpanelmentError(f"There is no provider with id {provider_id}.")
    return provider


def _check_version(session: Session, patient_id: int, expected: int | None) -> None:
    """Refuse a change based on an older view of the patient's assignment (names the panel, not the patient)."""
    if expected is None:
        return
    current = _current_provider_id(session, patient_id)
    what = f"{_provider_or_error(session, current).display_name}'s panel" if current else "The patient's panel"
    check_assignment_version(session, patient_id, expected, what=what)


def _current_provider_id(session: Session, patient_id: int) -> int | None:
    return session.scalar(select(m.Assignment.provider_id).where(m.Assignment.patient_id == patient_id))


def _confirm_details(result: ConfirmationResult) -> dict[str, object] | None:
    """The audit entry's details of a confirmation: none for the everyday check-in "yes" (the entry
    stays small: it is on every check-in), else what was recorded and whether the panel changed."""
    if result.outcome == "confirmed" and result.party == "patient":
        return None
    return {"by": result.party, "outcome": result.outcome, "moved": result.assignment_changed}


@audited_service("reassign", patients=argument("patient_id", 0))
def reassign_patient(
    session: Session,
    patient_id: int,
    provider_id: int | None,
    *,
    reason: str,
    user: str | None = None,
    as_of: dt.date | None = None,
    cut: str = CUT_MANUAL,
    expected_version: int | None = None,
) -> AssignmentChange:
    """Put a patient on ``provider_id``'s panel by hand (``None``: take them off any panel).

    The reason is required and goes to the history with ``user``. Assigning to a
    provider who cannot hold a panel is refused. Confirmations of the old assignment
    do not carry over. ``expected_version`` is the assignment version the user saw
    (``assignment_for(...).version``, 0 when unassigned): a newer one raises
    ``concurrency.Conflict`` naming who changed it, and nothing is written.
    """
    require_current("reassign")  # issue 14: refused unless the acting user's role may do this
    if not reason or not reason.strip():
        raise EmpanelmentError("Say why the patient is reassigned (it goes in the history).")
    begin_write(session)
    _patient_or_error(session, patient_id)
    _check_version(session, patient_id, expected_version)
    if provider_id is not None:
        provider = _provider_or_error(session, provider_id)
        settings = load_settings(session)
        holders = panel_providers(session, settings=settings)
        if not bool(holders.loc[holders["id"] == provider_id, "holds_panel"].any()):
            raise EmpanelmentError(
                f"{provider.display_name} does not hold a panel (inactive, or specialty "
                f"'{provider.specialty or 'none'}'); set 'can hold a panel' for them first."
            )
    current = _current_provider_id(session, patient_id)
    if current == provider_id:
        return AssignmentChange(patient_id, current, provider_id, False, reason)
    _apply_changes(
        session,
        patient_ids=np.array([patient_id]),
        old=np.array([current if current is not None else NO_PROVIDER]),
        new=np.array([provider_id if provider_id is not None else NO_PROVIDER]),
        cuts=[cut if provider_id is not None else None],
        reasons=[reason.strip()],
        effective_on=_today(as_of),
        user=user,
        review_id=None,
        now=dt.datetime.now(),
    )
    return AssignmentChange(patient_id, current, provider_id, True, reason.strip())


@dataclass
class ConfirmationResult:
    """A recorded confirmation and what it did to the patient's assignment."""

    confirmation_id: int
    patient_id: int
    provider_id: int | None
    party: str
    outcome: str
    assignment_changed: bool
    message: str


@audited_service("confirm", patients=argument("patient_id", 0), details=lambda _a, _k, r: _confirm_details(r))
def confirm_assignment(
    session: Session,
    patient_id: int,
    *,
    by: str,
    outcome: str | None = None,
    provider_id: int | None = None,
    method: str | None = None,
    reason: str | None = None,
    user: str | None = None,
    as_of: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> ConfirmationResult:
    """Record what a provider or a patient said about the patient's assignment.

    ``by="provider"`` (reviewing their panel list): outcome "mine" (default) confirms the
    assignment to ``provider_id`` (default: the current provider; an unassigned patient is
    put on that provider's panel); "not-mine" (with a reason) takes away the provider's
    confirmation, and the next review proposes another provider or a drop.

    ``by="patient"`` (at scheduling or check-in): "confirmed" (default) confirms the
    current provider; "changed" records ``provider_id`` as the patient's preference and
    moves the patient to that panel at once (history: the patient's choice);
    "declined" records that the patient was asked and did not answer.

    ``as_of`` is the date recorded (default today), ``method`` one of ``METHODS``.
    ``expected_version``: as for ``reassign_patient``.
    """
    require_current("confirm")  # issue 14: refused unless the acting user's role may do this
    if by not in PARTIES:
        raise EmpanelmentError(f"--by must be 'patient' or 'provider', not {by!r}.")
    outcomes = PATIENT_OUTCOMES if by == "patient" else PROVIDER_OUTCOMES
    outcome = outcome or outcomes[0]
    if outcome not in outcomes:
        raise EmpanelmentError(f"A {by} confirmation is one of {', '.join(outcomes)}, not {outcome!r}.")
    if method is not None and method not in METHODS:
        raise EmpanelmentError(f"The method is one of {', '.join(METHODS)}, not {method!r}.")
    begin_write(session)
    patient = _patient_or_error(session, patient_id)
    if provider_id is not None:
        _provider_or_error(session, provider_id)
    _check_version(session, patient_id, expected_version)
    day = _today(as_of)
    now = recorded_at or dt.datetime.now()
    current = _current_provider_id(session, patient_id)
    provider_id = provider_id if provider_id is not None else current
    changed = False
    name_of = lambda pid: _provider_or_error(session, pid).display_name  # noqa: E731

    if outcome in ("confirmed", "mine", "not-mine") and provider_id is None:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on no panel; name the provider"
            + (" (or record --outcome changed with the provider the patient chose)." if by == "patient" else ".")
        )
    if outcome == "changed" and provider_id is None:
        raise EmpanelmentError("Name the provider the patient chose.")

    if outcome == "confirmed" and provider_id != current:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on {name_of(current) + chr(39) + 's' if current else 'no'} panel, not {name_of(provider_id)}'s; "
            "record --outcome changed if the patient chose that provider."
        )
    if outcome == "mine" and current is not None and provider_id != current:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on {name_of(current)}'s panel, not {name_of(provider_id)}'s; "
            "reassign the patient first, or record this from the current provider's list."
        )
    if outcome == "mine" and current is None:
        reassign_patient(
            session, patient_id, provider_id,
            reason=f"Confirmed as theirs by {name_of(provider_id)} on {day.isoformat()}",
            user=user, as_of=day,
        )
        changed = True
    if outcome == "changed" and provider_id is not None:  # (None was refused above)
        set_preference(session, patient_id, provider_id, user=user, method=method, as_of=day, recorded_at=now)
        if provider_id != current:
            how = f" ({method})" if method else ""
            reassign_patient(
                session, patient_id, provider_id,
                reason=f"Patient's preference, recorded {day.isoformat()}{how}" + (f" by {user}" if user else ""),
                user=user, as_of=day, cut=CUT_PREFERENCE,
            )
            changed = True

    confirmation = m.Confirmation(
        patient_id=patient_id,
        provider_id=provider_id,
        party=by,
        outcome=outcome,
        reason=(reason or None),
        method=method,
        user=user,
        recorded_on=day,
        recorded_at=now,
    )
    session.add(confirmation)
    session.flush()
    assignment = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))
    if assignment is not None and assignment.provider_id == provider_id:
        if outcome == "mine":
            assignment.provider_confirmed_on = day
        elif outcome == "not-mine":
            assignment.provider_confirmed_on = None
        elif outcome in ("confirmed", "changed"):
            assignment.patient_confirmed_on = day
        if outcome in ("mine", "not-mine", "confirmed", "changed"):
            assignment.version = (assignment.version or 0) + 1
    session.flush()
    messages = {
        "mine": "confirmed by the provider",
        "not-mine": "marked not theirs by the provider; the next review will propose another provider or a drop",
        "confirmed": "confirmed by the patient",
        "changed": "moved to the provider the patient chose" if changed else "the patient chose their current provider",
        "declined": "the patient declined to answer",
    }
    return ConfirmationResult(
        confirmation_id=confirmation.id,
        patient_id=patient_id,
        provider_id=provider_id,
        party=by,
        outcome=outcome,
        assignment_changed=changed,
        message=f"Patient {patient.mrn}: {messages[outcome]}.",
    )


@audited_service("confirm", patients=argument("patient_id", 0), details=lambda *_: {"outcome": "preference"})
def set_preference(
    session: Session,
    patient_id: int,
    provider_id: int,
    *,
    user: str | None = None,
    method: str | None = None,
    as_of: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
) -> None:
    """Record the provider a patient asked for (replacing an earlier preference).

    It does not move the patient by itself: the next review assigns the preferred
    provider over the four cuts (``confirm_assignment(..., outcome="changed")`` also moves
    the patient at once).
    """
    require_current("confirm")  # issue 14: refused unless the acting user's role may do this
    _patient_or_error(session, patient_id)
    _provider_or_error(session, provider_id)
    existing = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    values = dict(
        provider_id=provider_id,
        recorded_on=_today(as_of),
        recorded_at=recorded_at or dt.datetime.now(),
        user=user,
        method=method,
    )
    if existing is None:
        session.add(m.PatientPreference(patient_id=patient_id, **values))
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    session.flush()


def clear_preference(session: Session, patient_id: int) -> bool:
    """Forget a patient's recorded preference; True when there was one."""
    result = session.execute(delete(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DELETE gives a CursorResult


@dataclass
class AssignmentInfo:
    """A patient's panel as a check-in or patient screen shows it."""

    patient_id: int
    mrn: str
    provider_id: int | None
    provider: str | None
    provider_name: str | None
    cut: str | None
    reason: str | None
    assigned_on: dt.date | None
    provider_confirmed_on: dt.date | None
    patient_confirmed_on: dt.date | None
    preferred_provider: str | None
    version: int = 0  # pass back as expected_version when changing or confirming (0: unassigned)


def assignment_for(session: Session, patient_id: int) -> AssignmentInfo:
    """The patient's current assignment (all None when unassigned) and any preference."""
    patient = _patient_or_error(session, patient_id)
    a = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))
    pref = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    provider = session.get(m.Provider, a.provider_id) if a else None
    pref_provider = session.get(m.Provider, pref.provider_id) if pref else None
    return AssignmentInfo(
        patient_id=patient_id,
        mrn=patient.mrn,
        provider_id=a.provider_id if a else None,
        provider=provider.external_id if provider else None,
        provider_name=provider.display_name if provider else None,
        cut=a.cut if a else None,
        reason=a.reason if a else None,
        assigned_on=a.assigned_on if a else None,
        provider_confirmed_on=a.provider_confirmed_on if a else None,
        patient_confirmed_on=a.patient_confirmed_on if a else None,
        preferred_provider=pref_provider.external_id if pref_provider else None,
        version=(a.version or 0) if a else 0,
    )


@dataclass
class HistoryEntry:
    changed_at: dt.datetime
    effective_on: dt.date
    from_provider: str | None
    from_provider_name: str | None
    to_provider: str | None
    to_provider_name: str | None
    cut: str | None
    reason: str
    user: str | None
    review_id: int | None


@audited_view("view_patient", patients=argument("patient_id", 0))
def assignment_history(session: Session, patient_id: int) -> list[HistoryEntry]:
    """Every change of the patient's assignment, oldest first: a view of the patient's record, audited
    for the logged-in user (``history_rows`` is the same read for a view that audits itself)."""
    return history_rows(session, patient_id)


def history_rows(session: Session, patient_id: int) -> list[HistoryEntry]:
    """Every change of the patient's assignment, oldest first (not audited: part of a larger view)."""
    h = m.AssignmentHistory
    old = m.Provider.__table__.alias("old")
    new = m.Provider.__table__.alias("new")
    rows = session.execute(
        select(
            h.changed_at, h.effective_on, old.c.external_id, old.c.display_name, new.c.external_id,
            new.c.display_name, h.cut, h.reason, h.user, h.review_id,
        )
        .outerjoin(old, old.c.id == h.from_provider_id)
        .outerjoin(new, new.c.id == h.to_provider_id)
        .where(h.patient_id == patient_id)
        .order_by(h.changed_at, h.id)
    ).all()
    return [HistoryEntry(*row) for row in rows]
