"""Empanelment on the shared Synthea sample (27 patients, 2 deceased) as of 2024-02-03.

The expected providers below were worked out independently of Panel Manager, with a
short csv-module script over ../shared/data/synthea-csv-small: for each living patient,
the encounters whose START date (UTC) falls in 2022-08-03..2024-02-03, whose
ENCOUNTERCLASS is wellness, ambulatory or outpatient, and whose provider's SPECIALITY is
a panel specialty (GENERAL PRACTICE, FAMILY PRACTICE, INTERNAL MEDICINE, NURSE
PRACTITIONER, PHYSICIAN ASSISTANT, ...); then the four cuts by hand. All 25 living
patients have such a visit; the data has no cut-4 patient.
"""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core import models as m
from panelmanager.core.capacity import milestone, panel_capacity
from panelmanager.core.empanelment import (
    accept_review_items,
    assignment_history,
    build_review,
    window_start_for,
)
from panelmanager.core.patients import find_patient

pytestmark = pytest.mark.shared_data

AS_OF = dt.date(2024, 2, 3)
SINCE = "2022-08-03"

# patient (Synthea Id = MRN) -> (provider Synthea Id, cut, the reason's numbers)
BY_HAND = {
    # only provider seen: 12 wellness/ambulatory visits, all with Ludivina Steuber
    "50730ee5-553c-2383-fa04-f9a2a5a47f6f": ("0f4db68f-7743-3960-b373-4a47d811dec2", 1, "12 of 12 visits"),
    # 15 of 16 counted visits with Jerold Spencer (the 16th with another GP)
    "42c09e08-1dbf-546f-fe06-f8e92891c41e": ("74e8c85e-b952-3d83-9fde-3b4875d0770d", 2, "15 of 16 visits"),
    # 6 of 10 with Marcelene Mayert: more than half
    "d1abe87e-9e6a-ad7e-7bcc-e9edf404a8e7": ("4326941f-a8d5-3658-93cb-6baa8d7eaecb", 2, "6 of 10 visits"),
    # 4 visits, nobody over half; the last wellness visit (2023-10-26) was with Gilberto Gusikowski
    "1cd7cc0a-2e2a-c167-1207-cad02d69328e": ("06817e97-b259-365d-9f80-3cff08fd4ff0", 3, "2023-10-26"),
    # a child: 1 ambulatory + 1 well-child visit with two providers; the well-child visit decides
    "3edac2e3-d223-6fae-d515-daf96ef6bc76": ("f98dc38d-9c3f-32cb-b7a3-ac99a7df97f4", 3, "2023-10-10"),
    # born 2024-01-03: one visit in the window
    "6cf3d1b9-4d5e-8bb3-51f4-e047a6386c38": ("52c491d3-23fe-360f-bed8-4f78fc095e95", 1, "1 of 1 visit"),
}
DECEASED = {"261ad2a4-7c6f-da54-6a5b-3441beab9a6a", "c2d1b552-0725-58ca-03fa-158d3437c06c"}


@pytest.fixture
def synthea_registry(fresh_registry, synthea_small):
    from panelmanager.core.importers import run_import

    outcomes = run_import(fresh_registry, [synthea_small])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return fresh_registry


def provider_name(session, external_id):
    return session.query(m.Provider.display_name).filter_by(source="synthea", external_id=external_id).scalar()


def test_every_living_patient_with_a_qualifying_visit_is_assigned(synthea_registry):
    assert window_start_for(AS_OF, 18).isoformat() == SINCE
    with synthea_registry.session() as session:
        summary = build_review(session, as_of=AS_OF, user="tester")
        rows = {r["patient"]: r for r in summary.rows()}
        living = {p.mrn for p in session.query(m.Patient) if p.deceased_date is None}
        assert len(living) == 25
        assert set(rows) == living  # the deceased are not assigned (and were never on a panel)
        assert not DECEASED & set(rows)
        assert all(r["provider"] is not None and r["change"] == "new" for r in rows.values())
        assert summary.unassigned == 0 and summary.new == 25

        for mrn, (provider, cut, numbers) in BY_HAND.items():
            row = rows[mrn]
            name = provider_name(session, provider)
            assert (row["provider"], row["cut"]) == (provider, cut), mrn
            if cut in (1, 2):
                assert row["reason"] == f"{numbers} with {name} since {SINCE}"
            else:
                assert row["reason"].startswith(f"Most recent well visit with {name} on {numbers} (")


def test_accepting_then_rerunning_changes_nothing_and_history_has_every_change(synthea_registry):
    with synthea_registry.session() as session:
        first = build_review(session, as_of=AS_OF, user="tester")
        decision = accept_review_items(session, first.review_id, user="manager")
        assert (decision.accepted, decision.status) == (25, "accepted")
    with synthea_registry.session() as session:
        again = build_review(session, as_of=AS_OF, user="tester")
        assert (again.new, again.changes, again.held, again.drops, again.unassigned, again.unchanged) == (0, 0, 0, 0, 0, 25)
        history = session.query(m.AssignmentHistory).all()
        assert len(history) == 25
        assert {h.user for h in history} == {"manager"}
        patient = find_patient(session, "50730ee5-553c-2383-fa04-f9a2a5a47f6f")
        (entry,) = assignment_history(session, patient.id)
        assert (entry.from_provider, entry.to_provider, entry.cut) == (None, "0f4db68f-7743-3960-b373-4a47d811dec2", "1")

        panels = panel_capacity(session, AS_OF)
        assert sum(r.assigned for r in panels) == 25
        assert round(sum(r.weighted for r in panels)) == 25
        report = milestone(session, AS_OF)
        assert report.level == 2  # everyone assigned, but no confirmation recorded yet
        assert report.figures["assigned"] == report.figures["active_patients"] == 25
