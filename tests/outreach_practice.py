"""A small practice for outreach runs, shared by the core, CLI and screen tests of ``run_outreach``.

Imported as ``outreach_practice`` (the tests folder is on sys.path, like ``clinic``).
"""

from __future__ import annotations

import datetime as dt

from panelmanager.core import models as m
from panelmanager.core.settings import load_settings, save_settings

AS_OF = dt.date(2024, 3, 1)
COLON = "colorectal-cancer-screening"


def build_outreach_practice(session) -> dict[str, int]:
    """Two providers; four patients of screening age (one with no address), two of them on Ana's panel."""
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD", npi="1234567893",
                     specialty="FAMILY PRACTICE")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP", specialty="FAMILY PRACTICE")
    session.add_all([ana, ben])
    session.flush()
    settings = load_settings(session)
    settings.practice_name, settings.practice_phone = "Elm Street Family Practice", "(413) 555-0100"
    settings.user_name, settings.as_of_override = "Front Desk", AS_OF
    save_settings(session, settings)
    ids = {"ana": ana.id, "ben": ben.id}
    people = (
        ("olga", "Olga", "Adams", dt.date(1970, 1, 1), "1 Elm St", ana),
        ("rosa", "Rosa", "Diaz", dt.date(1960, 6, 1), "2 Oak St", ana),
        ("ruth", "Ruth", "Baker", dt.date(1951, 1, 1), None, ben),
        ("nina", "Nina", "Cole", dt.date(1958, 3, 3), "4 Pine St", None),
    )
    for n, (key, first, last, dob, street, provider) in enumerate(people, start=1):
        patient = m.Patient(mrn=f"M{n}", first_name=first, last_name=last, dob=dob, sex="F", source="t",
                            status="active", address1=street, city="Springfield", state="MA", postal_code="01103",
                            phone_mobile="(413) 555-0101", email=f"{key}@example.org", preferred_language="en")
        session.add(patient)
        session.flush()
        ids[key] = patient.id
        visit_by = provider or ana
        session.add(m.Visit(patient_id=patient.id, provider_id=visit_by.id, source="t", external_id=f"V{n}",
                            start=dt.datetime(2023, 11, n, 9), visit_class="ambulatory", status="completed"))
        if provider is not None:
            session.add(m.Assignment(patient_id=patient.id, provider_id=provider.id, cut="1", reason="test",
                                     assigned_on=dt.date(2024, 1, 1), assigned_at=dt.datetime(2024, 1, 1)))
    session.flush()
    return ids
