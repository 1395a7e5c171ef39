"""The lists the Panels and Dashboard screens page through (core.panel_lists)."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest

from panelmanager.core import models as m
from panelmanager.core.empanelment import accept_review_items, build_review, confirm_assignment, reject_review_items
from panelmanager.core.measures import gaps, measure_rates, patient_providers, refresh_gaps
from panelmanager.core.panel_lists import (
    DEFAULT_GOAL,
    gap_patients,
    gaps_computed_at,
    measure_goal,
    meets_goal,
    practice_rates,
    provider_panel,
    review_counts,
    review_item_ids,
    review_item_rows,
)

AS_OF = dt.date(2024, 5, 1)


class Clinic:
    def __init__(self, session):
        self.s = session
        self._ids = itertools.count(1)

    def provider(self, ext, name):
        p = m.Provider(source="pm", external_id=ext, display_name=name, specialty="FAMILY PRACTICE")
        self.s.add(p)
        self.s.flush()
        return p.id

    def patient(self, mrn, last, first="Pat", **kw):
        p = m.Patient(mrn=mrn, source="pm", first_name=first, last_name=last, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def visit(self, patient, provider, day):
        self.s.add(
            m.Visit(
                patient_id=patient, provider_id=provider, source="pm", external_id=f"v{next(self._ids)}",
                start=dt.datetime.fromisoformat(day + "T10:00"), visit_class="ambulatory", status="completed",
            )
        )
        self.s.flush()


@pytest.fixture
def clinic(fresh_registry):
    with fresh_registry.session() as session:
        yield Clinic(session)


@pytest.fixture
def review(clinic):
    lee, park = clinic.provider("LEE", "Dr. Ann Lee"), clinic.provider("PARK", "Dr. Bo Park")
    patients = {
        "Zimmer": clinic.patient("M1", "Zimmer"),
        "Adams": clinic.patient("M2", "Adams"),
        "Brown": clinic.patient("M3", "Brown"),
    }
    clinic.visit(patients["Zimmer"], lee, "2024-01-01")
    clinic.visit(patients["Adams"], park, "2024-01-01")
    clinic.visit(patients["Brown"], lee, "2024-02-01")
    clinic.patient("M4", "Nobody")  # no visit: "needs assignment"
    summary = build_review(clinic.s, as_of=AS_OF, user="mgr")
    return clinic, summary.review_id, patients, lee, park


def test_review_item_ids_filter_by_kind_and_decision_and_sort_in_sql(review):
    clinic, review_id, patients, _lee, _park = review
    new = review_item_ids(clinic.s, review_id, kinds=["new"], decisions=["pending"])
    rows = review_item_rows(clinic.s, new)
    assert [rows[i]["patient"] for i in new] == ["Adams, Pat", "Brown, Pat", "Zimmer, Pat"]
    by_provider = review_item_ids(clinic.s, review_id, kinds=["new"], sort="to", descending=True)
    assert [rows[i]["new_provider"] for i in by_provider] == ["Dr. Bo Park", "Dr. Ann Lee", "Dr. Ann Lee"]
    assert len(review_item_ids(clinic.s, review_id, kinds=["unassigned"])) == 1
    assert review_counts(clinic.s, review_id) == {"new": {"pending": 3}, "unassigned": {"info": 1}}

    reject_review_items(clinic.s, review_id, [new[0]], user="mgr")
    assert review_item_ids(clinic.s, review_id, kinds=["new"], decisions=["pending"]) == new[1:]
    assert review_item_ids(clinic.s, review_id, decisions=["rejected"]) == [new[0]]
    assert review_counts(clinic.s, review_id)["new"] == {"pending": 2, "rejected": 1}


def test_review_item_rows_carry_what_the_list_shows(review):
    clinic, review_id, patients, lee, _park = review
    (item_id,) = [i for i, r in review_item_rows(clinic.s, review_item_ids(clinic.s, review_id)).items() if r["patient_id"] == patients["Brown"]]
    row = review_item_rows(clinic.s, [item_id])[item_id]
    assert row["mrn"] == "M3"
    assert (row["kind"], row["old_provider"], row["new_provider"], row["new_provider_id"]) == ("new", None, "Dr. Ann Lee", lee)
    assert (row["cut"], row["decision"], row["held"]) == ("1", "pending", False)
    assert row["reason"] == "1 of 1 visit with Dr. Ann Lee since 2022-11-01"


def test_provider_panel_shows_answers_and_last_visit_with_that_provider(review):
    clinic, review_id, patients, lee, _park = review
    accept_review_items(clinic.s, review_id, user="mgr")
    confirm_assignment(clinic.s, patients["Zimmer"], by="provider", outcome="mine", provider_id=lee, as_of=AS_OF, user="drlee")
    confirm_assignment(
        clinic.s, patients["Brown"], by="provider", outcome="not-mine", provider_id=lee, reason="Sees Dr. Park now",
        as_of=AS_OF, user="drlee",
    )
    panel = provider_panel(clinic.s, lee).set_index("mrn")
    assert sorted(panel.index) == ["M1", "M3"]
    assert panel.loc["M1", "answer"] == "mine" and panel.loc["M1", "provider_confirmed_on"] == AS_OF
    assert panel.loc["M3", "answer"] == "not-mine" and panel.loc["M3", "answer_reason"] == "Sees Dr. Park now"
    assert panel.loc["M3", "last_seen"] == dt.date(2024, 2, 1)
    assert panel.loc["M1", "name"] == "Zimmer, Pat"


def test_goals_default_and_inverse_measures_meet_at_or_below():
    assert measure_goal({}, "breast-cancer-screening") == DEFAULT_GOAL
    assert measure_goal({"breast-cancer-screening": 55.0}, "breast-cancer-screening") == 55.0
    assert meets_goal(0.70, 70.0) is True
    assert meets_goal(0.6999, 70.0) is True  # shown as 70.0%: never red beside its own goal
    assert meets_goal(0.6994, 70.0) is False
    assert meets_goal(0.25, 30.0, inverse=True) is True
    assert meets_goal(0.31, 30.0, inverse=True) is False
    assert meets_goal(None, 70.0) is None
    assert meets_goal(float("nan"), 70.0) is None


@pytest.fixture
def screened(fresh_registry):
    """Three women due a mammogram: one screened (Ann's), two not (Bob's by their last visit)."""
    from test_measures_support import Practice

    practice = Practice(fresh_registry)
    ann = practice.provider("Ann Adams", specialty="Family Medicine")
    bob = practice.provider("Bob Brown", specialty="Family Medicine")
    met = practice.patient("screened", dob=dt.date(1960, 1, 1))
    practice.visit(met, dt.date(2023, 11, 1), "wellness", provider=ann)
    practice.procedure(met, dt.date(2023, 11, 1), "77067", system="CPT")
    for mrn in ("unscreened-1", "unscreened-2"):
        patient = practice.patient(mrn, dob=dt.date(1962, 1, 1))
        practice.visit(patient, dt.date(2023, 12, 1), "ambulatory", provider=bob)
    return fresh_registry, ann, bob


def test_gap_patients_lists_one_cell_and_the_practice_rates_add_up(screened):
    from test_measures_support import AS_OF as GAPS_AS_OF

    registry, ann, bob = screened
    with registry.session() as session:
        assert gaps_computed_at(session, GAPS_AS_OF) is None
        refresh_gaps(session, GAPS_AS_OF)
    with registry.session() as session:
        assert gaps_computed_at(session, GAPS_AS_OF) is not None
        bobs = gap_patients(session, GAPS_AS_OF, "breast-cancer-screening", provider_id=bob)
        anns = gap_patients(session, GAPS_AS_OF, "breast-cancer-screening", provider_id=ann)
        everyone = gap_patients(session, GAPS_AS_OF, "breast-cancer-screening", statuses=("open", "met"))
        nobody = gap_patients(session, GAPS_AS_OF, "breast-cancer-screening", unassigned=True)
        by_provider = measure_rates(session, GAPS_AS_OF, by="provider")
        practice = measure_rates(session, GAPS_AS_OF, by="practice")
        providers, how = patient_providers(session, GAPS_AS_OF)
    assert how == "proposal"
    assert list(bobs["mrn"]) == ["unscreened-1", "unscreened-2"]
    assert set(bobs["status"]) == {"open"} and set(bobs["provider"]) == {"Bob Brown (proposed)"}
    assert anns.empty
    assert sorted(everyone["mrn"]) == ["screened", "unscreened-1", "unscreened-2"]
    assert nobody.empty
    assert list(bobs.columns) == ["patient_id", "mrn", "name", "dob", "age", "status", "due_date", "last_date", "last_value", "provider"]
    assert bobs["dob"].iloc[0] == dt.date(1962, 1, 1) and bobs["age"].iloc[0] == 62
    pd.testing.assert_frame_equal(practice_rates(by_provider).reset_index(drop=True), practice.reset_index(drop=True), check_dtype=False)


def test_practice_rates_of_nothing_is_empty():
    empty = practice_rates(pd.DataFrame(columns=["measure", "title", "provider_id", "provider", "denominator", "numerator", "rate", "goal", "inverse", "higher_is_better", "met", "due_soon", "open", "excluded"]))
    assert empty.empty and "rate" in empty.columns


def test_gap_patients_reads_the_cache_without_recomputing_it(screened):
    from test_measures_support import AS_OF as GAPS_AS_OF

    registry, _ann, bob = screened
    with registry.session() as session:
        assert gap_patients(session, GAPS_AS_OF, "breast-cancer-screening", provider_id=bob).empty
        assert gaps_computed_at(session, GAPS_AS_OF) is None
        assert gaps(session, GAPS_AS_OF, refresh=False).empty


def test_an_inverse_measure_without_a_goal_gets_the_ceiling_settings_shows():
    assert measure_goal({}, "diabetes-a1c-poor-control", inverse=True) == 20.0
