"""The Patients list's SQL (search, PCP, status, risk tier, open gap; sorted in SQL) and one
patient's record, on the tiny clinic of test_schedule (as of Monday 2024-03-04)."""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core import models as m
from panelmanager.core.empanelment import reassign_patient
from panelmanager.core.outreach import log_outreach
from panelmanager.core.patient_view import (
    UNASSIGNED,
    PatientFilters,
    caches_status,
    patient_list_query,
    patient_list_rows,
    patient_record,
    refresh_caches,
    risk_tier_choices,
)
from panelmanager.core.risk import override_risk_tier

DAY = dt.date(2024, 3, 4)


@pytest.fixture
def clinic(fresh_registry, clinic_ids):
    return fresh_registry, clinic_ids


def _mrns(registry, filters: PatientFilters, sort="name", descending=False) -> list[str]:
    with registry.session() as session:
        ids = list(session.scalars(patient_list_query(filters, DAY, sort=sort, descending=descending)))
        return [session.get(m.Patient, i).mrn for i in ids]


def test_search_status_and_pcp_filters(clinic):
    registry, ids = clinic
    assert _mrns(registry, PatientFilters()) == ["P3", "P4", "P2", "P1", "P5"]  # active, by name
    assert _mrns(registry, PatientFilters(text="smith")) == ["P1", "P5"]
    assert _mrns(registry, PatientFilters(text="smith", statuses=None)) == ["P1", "P6", "P5"]
    assert _mrns(registry, PatientFilters(statuses=("inactive",))) == ["P6"]
    assert _mrns(registry, PatientFilters(text="2/1/1950")) == ["P1"]
    assert _mrns(registry, PatientFilters(text="P4")) == ["P4"]
    assert _mrns(registry, PatientFilters(provider_id=ids["lee"])) == ["P4", "P2", "P1"]
    assert _mrns(registry, PatientFilters(provider_id=ids["park"])) == ["P5"]
    assert _mrns(registry, PatientFilters(provider_id=UNASSIGNED)) == ["P3"]


def test_sorting_in_sql(clinic):
    registry, _ids = clinic
    assert _mrns(registry, PatientFilters(), sort="dob") == ["P5", "P1", "P4", "P2", "P3"]
    assert _mrns(registry, PatientFilters(), sort="dob", descending=True) == ["P3", "P2", "P4", "P1", "P5"]
    assert _mrns(registry, PatientFilters(), sort="mrn", descending=True) == ["P5", "P4", "P3", "P2", "P1"]
    # PCP: the unassigned patient first (no name), then Lee's, then Park's; names break ties.
    assert _mrns(registry, PatientFilters(), sort="pcp") == ["P3", "P4", "P2", "P1", "P5"]


def test_gap_and_tier_filters_read_the_caches(clinic):
    registry, ids = clinic
    with registry.session() as session:
        before = caches_status(session, DAY)
        after = refresh_caches(session, DAY)
        override_risk_tier(session, ids["carol"], 4, "Lives alone after a fall", "nurse")
    assert not before.current and not before.gaps_present
    assert after.current and after.gaps_present and after.risk_present
    # Alice (74) has no pneumococcal vaccine; Eve (79) had hers; the others are under 65.
    assert _mrns(registry, PatientFilters(gap_measure="pneumococcal-65")) == ["P1"]
    assert _mrns(registry, PatientFilters(tier=4)) == ["P3"]
    assert _mrns(registry, PatientFilters(tier=4, provider_id=ids["lee"])) == []
    assert _mrns(registry, PatientFilters(), sort="tier", descending=True)[0] == "P3"
    by_gaps = _mrns(registry, PatientFilters(), sort="gaps", descending=True)
    with registry.session() as session:
        rows = patient_list_rows(session, [ids[k] for k in ("alice", "bob", "carol", "dan", "eve")], DAY)
    counts = [rows[ids[k]]["open_gaps"] for k in ("alice", "bob", "carol", "dan", "eve")]
    mrn_counts = dict(zip(["P1", "P2", "P3", "P4", "P5"], counts))
    assert [mrn_counts[x] for x in by_gaps] == sorted(counts, reverse=True)
    assert rows[ids["carol"]]["tier"] == 4 and rows[ids["carol"]]["tier_overridden"] is True
    assert rows[ids["alice"]]["tier_overridden"] is False and rows[ids["alice"]]["tier"] in (1, 2, 3, 4)


def test_list_rows_pcp_and_confirmation(clinic):
    registry, ids = clinic
    with registry.session() as session:
        rows = patient_list_rows(session, [ids["alice"], ids["bob"], ids["carol"]], DAY)
    assert rows[ids["bob"]]["pcp"] == "Dr. Ann Lee" and rows[ids["bob"]]["confirmed"] == "patient"
    assert rows[ids["alice"]]["confirmed"] == ""  # assigned, not confirmed
    assert rows[ids["carol"]]["pcp"] is None and rows[ids["carol"]]["confirmed"] is None
    assert rows[ids["alice"]]["tier"] is None and rows[ids["alice"]]["open_gaps"] is None  # nothing cached yet


def test_patient_record_gathers_history_confirmations_risk_visits_and_outreach(clinic):
    registry, ids = clinic
    with registry.session() as session:
        reassign_patient(session, ids["alice"], ids["park"], reason="Moved closer to the Park clinic", user="mgr", as_of=DAY)
        override_risk_tier(session, ids["alice"], 3, "Two falls this winter", "nurse", now=dt.datetime(2024, 3, 4, 10))
        log_outreach(session, ids["alice"], "call", "left-message", "pneumococcal-65", "Called about the vaccine", user="ma",
                     when=dt.datetime(2024, 2, 1, 9))
        record = patient_record(session, ids["alice"], DAY)
    assert (record.name, record.mrn, record.age, record.status) == ("Smith, Alice", "P1", 74, "active")
    assert (record.pcp, record.cut, record.assignment_reason) == ("Dr. Bo Park", "manual", "Moved closer to the Park clinic")
    assert [(h.from_provider_name, h.to_provider_name, h.reason, h.user) for h in record.history] == [
        ("Dr. Ann Lee", "Dr. Bo Park", "Moved closer to the Park clinic", "mgr"),
        (None, "Dr. Ann Lee", "Set up for the test", "tester"),
    ]
    assert record.risk.override_tier == 3 and record.risk.override_reason == "Two falls this winter"
    assert record.risk.tier == 3 and record.risk.computed_tier is None  # never scored
    assert record.risk.label(3) == dict(risk_tier_choices())[3]
    assert [(o.tier, o.active) for o in record.risk.overrides] == [(3, True)]
    # The visit today first, then the past one; no visit of another patient.
    assert [v.start for v in record.visits] == [dt.datetime(2024, 3, 4, 9), dt.datetime(2023, 8, 17, 11)]
    assert [(o.method, o.outcome, o.measure_id) for o in record.outreach] == [("call", "left-message", "pneumococcal-65")]

    with registry.session() as session:
        bob = patient_record(session, ids["bob"], DAY)
    assert [(c.party, c.outcome, c.method, c.user) for c in bob.confirmations] == [("patient", "confirmed", "scheduling", "tester")]
    assert [v.start.date() for v in bob.visits] == [DAY + dt.timedelta(days=1), DAY]  # upcoming first


def test_risk_tier_choices_come_from_the_rules_file():
    choices = risk_tier_choices()
    assert [t for t, _label in choices] == [1, 2, 3, 4]
    assert all(label for _t, label in choices)
