"""The 4-cut assignment engine: each cut, tie-break, window edge and exclusion decided on purpose.

Every test builds a tiny practice by hand, runs ``build_review`` as of 2024-11-01 with the
default 18-month look-back (window 2023-05-01 .. 2024-11-01) and asserts the exact
provider, cut and reason sentence a manager would read.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from panelmanager.core import models as m
from panelmanager.core.empanelment import (
    accept_review_items,
    assignment_history,
    build_review,
    load_panel_rules,
    window_start_for,
)

AS_OF = dt.date(2024, 11, 1)
SINCE = "2023-05-01"


class Practice:
    """A tiny registry written row by row (tests only; the engine itself is set-based)."""

    def __init__(self, session):
        self.s = session
        self._visit_ids = itertools.count(1)

    def provider(self, ext, name, specialty="FAMILY PRACTICE", **kw):
        p = m.Provider(source="pm", external_id=ext, display_name=name, specialty=specialty, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def patient(self, mrn, status="active", **kw):
        p = m.Patient(mrn=mrn, source="pm", status=status, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def visit(self, patient, provider, day, visit_class="ambulatory", status="completed", visit_type=None, source="pm", hour=9):
        when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour))
        self.s.add(
            m.Visit(
                patient_id=patient, provider_id=provider, source=source, external_id=f"v{next(self._visit_ids)}",
                start=when, visit_class=visit_class, visit_type=visit_type, status=status,
            )
        )
        self.s.flush()


@pytest.fixture
def practice(fresh_registry):
    with fresh_registry.session() as session:
        yield Practice(session)


@pytest.fixture
def lee_park_cruz(practice):
    """Three family doctors, created in this order (so Lee has the lowest provider id)."""
    return (
        practice.provider("LEE", "Dr. Ann Lee"),
        practice.provider("PARK", "Dr. Bo Park"),
        practice.provider("CRUZ", "Dr. Cy Cruz", specialty="INTERNAL MEDICINE"),
    )


def run(practice, **kw):
    summary = build_review(practice.s, as_of=kw.pop("as_of", AS_OF), user="tester", **kw)
    return summary, {r["patient"]: r for r in summary.rows()}


def test_window_is_eighteen_calendar_months_ending_on_as_of():
    assert window_start_for(AS_OF, 18).isoformat() == SINCE
    assert window_start_for(dt.date(2024, 8, 31), 6) == dt.date(2024, 2, 29)  # clamped to the month's end


def test_cut_1_the_only_provider_seen(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("A1")
    for day in ("2023-06-01", "2024-01-15", "2024-09-30"):
        practice.visit(pid, lee, day)
    _, rows = run(practice)
    assert rows["A1"]["provider"] == "LEE"
    assert rows["A1"]["cut"] == 1
    assert rows["A1"]["reason"] == f"3 of 3 visits with Dr. Ann Lee since {SINCE}"
    assert rows["A1"]["change"] == "new"


def test_cut_2_more_than_half_of_the_visits(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    pid = practice.patient("A2")
    for day in ("2023-06-01", "2023-09-01", "2024-01-15", "2024-03-01", "2024-05-01"):
        practice.visit(pid, lee, day)
    practice.visit(pid, park, "2024-08-01", visit_class="wellness")
    practice.visit(pid, park, "2024-10-01")
    _, rows = run(practice)
    assert (rows["A2"]["provider"], rows["A2"]["cut"]) == ("LEE", 2)
    assert rows["A2"]["reason"] == f"5 of 7 visits with Dr. Ann Lee since {SINCE}"


def test_exactly_half_is_not_more_than_half_so_the_well_visit_decides(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    pid = practice.patient("A3")
    practice.visit(pid, lee, "2024-02-01")
    practice.visit(pid, lee, "2024-09-01")
    practice.visit(pid, park, "2024-01-10", visit_class="wellness")
    practice.visit(pid, park, "2024-03-01")
    _, rows = run(practice)
    assert (rows["A3"]["provider"], rows["A3"]["cut"]) == ("PARK", 3)
    assert rows["A3"]["reason"] == (
        f"Most recent well visit with Dr. Bo Park on 2024-01-10 (no provider had more than half of 4 visits since {SINCE})"
    )


def test_cut_3_takes_the_most_recent_well_visit(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("A4")
    practice.visit(pid, lee, "2023-07-01", visit_class="wellness")
    practice.visit(pid, park, "2024-04-01", visit_class="wellness")
    practice.visit(pid, cruz, "2024-10-01")
    _, rows = run(practice)
    assert (rows["A4"]["provider"], rows["A4"]["cut"]) == ("PARK", 3)
    assert rows["A4"]["reason"].startswith("Most recent well visit with Dr. Bo Park on 2024-04-01")


def test_cut_4_most_recent_visit_when_no_well_visit(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("A5")
    practice.visit(pid, cruz, "2024-01-01")
    practice.visit(pid, park, "2024-02-01", visit_class="outpatient")
    practice.visit(pid, lee, "2024-03-02")
    _, rows = run(practice)
    assert (rows["A5"]["provider"], rows["A5"]["cut"]) == ("LEE", 4)
    assert rows["A5"]["reason"] == (
        "Most recent visit with Dr. Ann Lee on 2024-03-02 "
        f"(no provider had more than half of 3 visits since {SINCE} and there was no well visit)"
    )


def test_same_day_tie_goes_to_the_provider_with_more_visits(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("T1")
    practice.visit(pid, park, "2024-02-01")
    practice.visit(pid, park, "2024-06-01", hour=8)
    practice.visit(pid, lee, "2024-06-01", hour=15)  # later the same day: the day is what counts
    practice.visit(pid, cruz, "2024-03-01")
    _, rows = run(practice)
    assert (rows["T1"]["provider"], rows["T1"]["cut"]) == ("PARK", 4)
    assert rows["T1"]["reason"] == (
        "Most recent visit with Dr. Bo Park on 2024-06-01 (no provider had more than half of 4 visits since "
        f"{SINCE} and there was no well visit; same-day tie broken by more visits)"
    )


def test_same_day_tie_with_equal_visits_goes_to_the_lower_provider_id(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    assert lee < park
    pid = practice.patient("T2")
    practice.visit(pid, park, "2024-06-01", visit_class="wellness", hour=8)
    practice.visit(pid, lee, "2024-06-01", visit_class="wellness", hour=16)
    _, rows = run(practice)
    assert (rows["T2"]["provider"], rows["T2"]["cut"]) == ("LEE", 3)
    assert rows["T2"]["reason"] == (
        "Most recent well visit with Dr. Ann Lee on 2024-06-01 (no provider had more than half of 2 visits since "
        f"{SINCE}; same-day tie broken by lower provider id)"
    )


def test_look_back_edges_first_day_counts_day_before_and_after_as_of_do_not(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("E1")
    practice.visit(pid, park, "2023-04-30", hour=23)  # the day before the window
    practice.visit(pid, lee, "2023-05-01", hour=0)  # the window's first day
    practice.visit(pid, lee, "2024-11-01", hour=23)  # the as-of day, late
    practice.visit(pid, cruz, "2024-11-02", hour=0)  # after as-of
    _, rows = run(practice)
    assert (rows["E1"]["provider"], rows["E1"]["cut"]) == ("LEE", 1)
    assert rows["E1"]["reason"] == f"2 of 2 visits with Dr. Ann Lee since {SINCE}"
    _, shorter = run(practice, lookback_months=6)
    assert shorter["E1"]["reason"] == "1 of 1 visit with Dr. Ann Lee since 2024-05-01"


def test_emergency_inpatient_urgent_care_and_unfinished_visits_never_count(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    pid = practice.patient("X1")
    for klass in ("emergency", "inpatient", "urgentcare", "emergency"):
        practice.visit(pid, park, "2024-05-01", visit_class=klass)
    for status in ("no-show", "cancelled", "scheduled"):
        practice.visit(pid, park, "2024-06-01", status=status)
    practice.visit(pid, lee, "2024-02-01")
    _, rows = run(practice)
    assert (rows["X1"]["provider"], rows["X1"]["cut"]) == ("LEE", 1)
    assert rows["X1"]["reason"] == f"1 of 1 visit with Dr. Ann Lee since {SINCE}"


def test_visit_classes_decide_what_counts_and_what_is_a_well_visit(practice, lee_park_cruz):
    lee, park, cruz = lee_park_cruz
    pid = practice.patient("X2")
    # PM appointment types arrive with the class the importer gave them ("Annual Physical" -> wellness).
    practice.visit(pid, park, "2024-01-05", visit_class="wellness", visit_type="ANNUAL PHYSICAL")
    practice.visit(pid, lee, "2024-07-01", visit_class="ambulatory", visit_type="Office Visit")
    practice.visit(pid, lee, "2024-08-01", visit_class="other", visit_type="Lunch block")
    practice.visit(pid, lee, "2024-08-02", visit_class="virtual", visit_type="Telehealth")
    # Synthea's class decides even when the description sounds like a check-up.
    practice.visit(pid, cruz, "2024-09-01", visit_class="outpatient", visit_type="Encounter for check up (procedure)", source="synthea")
    _, rows = run(practice)
    assert (rows["X2"]["provider"], rows["X2"]["cut"]) == ("PARK", 3)
    assert rows["X2"]["reason"] == (
        f"Most recent well visit with Dr. Bo Park on 2024-01-05 (no provider had more than half of 3 visits since {SINCE})"
    )


def test_only_providers_who_can_hold_a_panel_count(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    cardio = practice.provider("CARD", "Dr. Heart", specialty="CARDIOLOGY")
    np_no_specialty = practice.provider("NP1", "Nia Nurse", specialty=None, credentials="FNP-C")
    override_yes = practice.provider("OBGYN", "Dr. Obi", specialty="OBSTETRICS", can_hold_panel=True)
    override_no = practice.provider("LOCUM", "Dr. Locum", specialty="FAMILY PRACTICE", can_hold_panel=False)
    gone = practice.provider("GONE", "Dr. Gone", specialty="FAMILY PRACTICE", active=False)
    a = practice.patient("N1")
    for day in ("2024-01-01", "2024-02-01", "2024-03-01"):
        practice.visit(a, cardio, day)
        practice.visit(a, override_no, day)
        practice.visit(a, gone, day)
    practice.visit(a, lee, "2023-12-01")
    b = practice.patient("N2")
    practice.visit(b, override_yes, "2024-04-01")
    c = practice.patient("N3")
    practice.visit(c, np_no_specialty, "2024-04-01")
    _, rows = run(practice)
    assert (rows["N1"]["provider"], rows["N1"]["cut"], rows["N1"]["reason"]) == (
        "LEE", 1, f"1 of 1 visit with Dr. Ann Lee since {SINCE}",
    )
    assert rows["N2"]["provider"] == "OBGYN"
    assert rows["N3"]["provider"] == "NP1"


def test_practice_setting_replaces_the_specialty_list(practice, lee_park_cruz):
    from panelmanager.core.settings import load_settings, save_settings

    lee, park, cruz = lee_park_cruz
    pid = practice.patient("S1")
    practice.visit(pid, cruz, "2024-01-01")  # internal medicine
    practice.visit(pid, lee, "2023-12-01")
    settings = load_settings(practice.s)
    settings.panel_specialties = ["Family Practice"]
    save_settings(practice.s, settings)
    _, rows = run(practice)
    assert (rows["S1"]["provider"], rows["S1"]["cut"]) == ("LEE", 1)


def test_patients_with_no_qualifying_visit_need_assignment(practice, lee_park_cruz):
    lee, park, _ = lee_park_cruz
    pid = practice.patient("U1")
    practice.visit(pid, park, "2024-05-01", visit_class="emergency")
    practice.visit(pid, lee, "2022-01-01")  # before the window
    summary, rows = run(practice)
    assert rows["U1"]["provider"] is None
    assert rows["U1"]["cut"] is None
    assert rows["U1"]["change"] == "unassigned"
    assert rows["U1"]["reason"] == f"Needs assignment: no completed primary-care visit with a panel provider since {SINCE}"
    assert summary.unassigned == 1


def test_deceased_moved_and_inactive_patients_are_not_assigned(practice, lee_park_cruz):
    lee, *_ = lee_park_cruz
    died = practice.patient("D1", deceased_date=dt.date(2024, 5, 5))  # status not yet updated
    dead = practice.patient("D2", status="deceased")
    moved = practice.patient("D3", status="moved")
    later = practice.patient("D4", deceased_date=dt.date(2025, 1, 1))  # alive on the as-of date
    for pid in (died, dead, moved, later):
        practice.visit(pid, lee, "2024-03-01")
    _, rows = run(practice)
    assert set(rows) == {"D4"}
    assert rows["D4"]["provider"] == "LEE"


def test_a_recorded_preference_wins_over_the_cuts(practice, lee_park_cruz):
    from panelmanager.core.empanelment import set_preference

    lee, park, _ = lee_park_cruz
    pid = practice.patient("P1")
    for day in ("2024-01-01", "2024-02-01", "2024-03-01"):
        practice.visit(pid, lee, day)
    set_preference(practice.s, pid, park, user="alice", method="phone", as_of=dt.date(2024, 10, 1))
    _, rows = run(practice)
    assert (rows["P1"]["provider"], rows["P1"]["cut"]) == ("PARK", "preference")
    assert rows["P1"]["reason"] == "Patient's preference, recorded 2024-10-01 by alice"


def test_running_the_engine_never_changes_panels_until_accepted(practice, lee_park_cruz):
    lee, *_ = lee_park_cruz
    pid = practice.patient("R1")
    practice.visit(pid, lee, "2024-01-01")
    summary, _ = run(practice)
    assert practice.s.query(m.Assignment).count() == 0
    assert summary.new == 1 and summary.status == "open"
    decision = accept_review_items(practice.s, summary.review_id, user="manager")
    assert decision.accepted == 1 and decision.status == "accepted"
    a = practice.s.query(m.Assignment).one()
    assert (a.patient_id, a.provider_id, a.cut) == (pid, lee, "1")
    assert a.reason == f"1 of 1 visit with Dr. Ann Lee since {SINCE}"
    history = assignment_history(practice.s, pid)
    assert [(h.from_provider, h.to_provider, h.user, h.cut) for h in history] == [(None, "LEE", "manager", "1")]


def test_rules_file_errors_name_the_file_and_key(tmp_path):
    from panelmanager.core.resources import ResourceError

    bad = tmp_path / "panel_specialties.toml"
    bad.write_text('[panel]\nspecialties = "family practice"\n')
    with pytest.raises(ResourceError, match=r"panel_specialties.toml: \[panel\] specialties must be a list"):
        load_panel_rules(bad)
    bad.write_text(
        '[panel]\nspecialties = []\ncredentials_without_specialty = []\n'
        '[visits]\nprimary_care_classes = ["emergency"]\nexcluded_classes = ["emergency"]\nwell_classes = []\n'
    )
    with pytest.raises(ResourceError, match="primary_care_classes names no class that counts"):
        load_panel_rules(bad)


def test_a_new_assignment_to_a_closed_panel_says_so(practice, lee_park_cruz):
    practice.s.get(m.Provider, lee_park_cruz[0]).panel_open = False
    pid = practice.patient("CL")
    practice.visit(pid, lee_park_cruz[0], "2024-01-01")
    _, rows = run(practice)
    assert rows["CL"]["provider"] == "LEE"
    assert rows["CL"]["reason"] == f"1 of 1 visit with Dr. Ann Lee since {SINCE}; Dr. Ann Lee's panel is closed to new patients"
