"""One front-desk day built on purpose, shared by tests in several folders.

Imported as ``clinic`` (the tests folder is on sys.path, like ``pg_cluster``): a test module
cannot import ``conftest`` by name, since every test folder has its own.
"""

from __future__ import annotations

import datetime as dt

# --------------------------------------------------------------------------- a tiny clinic
# One front-desk day (Monday 2024-03-04) built on purpose, shared by the schedule, patient
# view, check-in and Patients screen tests: each patient's assignment status is known.

CLINIC_DAY = dt.date(2024, 3, 4)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def build_clinic(session) -> dict[str, int]:
    """Dr. Lee and Dr. Park (family practice), a cardiologist, and patients whose status is known."""
    from panelmanager.core import models as m
    from panelmanager.core.empanelment import confirm_assignment, reassign_patient

    ids: dict[str, int] = {}
    for key, name, specialty in (("lee", "Dr. Ann Lee", "FAMILY PRACTICE"), ("park", "Dr. Bo Park", "FAMILY PRACTICE"),
                                 ("heart", "Dr. Cy Heart", "CARDIOLOGY")):
        provider = m.Provider(source="pm", external_id=key.upper(), display_name=name, specialty=specialty)
        session.add(provider)
        session.flush()
        ids[key] = provider.id
    people = (
        ("alice", "P1", "Alice", "Smith", dt.date(1950, 2, 1), "F", "active"),
        ("bob", "P2", "Bob", "Jones", dt.date(1980, 5, 5), "M", "active"),
        ("carol", "P3", "Carol", "Brown", dt.date(1990, 7, 7), "F", "active"),
        ("dan", "P4", "Dan", "Garcia", dt.date(1960, 1, 1), "M", "active"),
        ("eve", "P5", "Eve", "Smithers", dt.date(1945, 3, 3), "F", "active"),
        ("fay", "P6", "Fay", "Smith", dt.date(1970, 8, 8), "F", "inactive"),
    )
    for key, mrn, first, last, dob, sex, status in people:
        patient = m.Patient(mrn=mrn, first_name=first, last_name=last, dob=dob, sex=sex, status=status, source="pm")
        session.add(patient)
        session.flush()
        ids[key] = patient.id
    for n, (patient, provider, when, status) in enumerate(
        (
            ("alice", "lee", _at(CLINIC_DAY, 9), "scheduled"),
            ("bob", "lee", _at(CLINIC_DAY, 9, 20), "scheduled"),
            ("carol", "park", _at(CLINIC_DAY, 9, 40), "scheduled"),
            ("dan", "park", _at(CLINIC_DAY, 10), "scheduled"),
            ("eve", "park", _at(CLINIC_DAY, 10, 20), "cancelled"),
            ("bob", "park", _at(CLINIC_DAY + dt.timedelta(days=1), 8), "scheduled"),
            ("alice", "lee", _at(CLINIC_DAY - dt.timedelta(days=200), 11), "completed"),
        ),
        start=1,
    ):
        session.add(m.Visit(patient_id=ids[patient], provider_id=ids[provider], source="pm", external_id=f"v{n}",
                            start=when, visit_class="ambulatory", visit_type="Follow-up", status=status))
    session.add(m.Immunization(patient_id=ids["eve"], source="pm", natural_key=1, date=_at(dt.date(2020, 1, 15), 10),
                               cvx="33", description="pneumococcal polysaccharide vaccine"))
    session.flush()
    for patient, provider in (("alice", "lee"), ("bob", "lee"), ("dan", "lee"), ("eve", "park")):
        reassign_patient(session, ids[patient], ids[provider], reason="Set up for the test", user="tester", as_of=CLINIC_DAY)
    confirm_assignment(session, ids["bob"], by="patient", method="scheduling", user="tester", as_of=dt.date(2024, 1, 2))
    return ids


