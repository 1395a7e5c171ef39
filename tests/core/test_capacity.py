"""Panel capacity: Murray & Davies targets, age/sex weighting, continuity, unassigned visitors."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import types

import pytest

from panelmanager.core import models as m
from panelmanager.core.capacity import (
    age_sex_rates,
    continuity,
    load_panel_weights,
    panel_capacity,
    practice_visits_per_patient_year,
    unassigned_visiting,
)
from panelmanager.core.empanelment import accept_review_items, build_review, reject_review_items, review_items
from panelmanager.core.resources import ResourceError

AS_OF = dt.date(2024, 11, 1)


class Practice:
    def __init__(self, session):
        self.s = session
        self._ids = itertools.count(1)

    def provider(self, ext, name, specialty="FAMILY PRACTICE", **kw):
        p = m.Provider(source="pm", external_id=ext, display_name=name, specialty=specialty, npi=kw.pop("npi", None), **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def patient(self, mrn, dob=None, sex=None, **kw):
        p = m.Patient(mrn=mrn, source="pm", dob=dt.date.fromisoformat(dob) if dob else None, sex=sex, last_name=mrn, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def visits(self, patient, provider, *days, visit_class="ambulatory"):
        for day in days:
            self.s.add(
                m.Visit(
                    patient_id=patient, provider_id=provider, source="pm", external_id=f"v{next(self._ids)}",
                    start=dt.datetime.fromisoformat(day + "T10:00"), visit_class=visit_class, status="completed",
                )
            )
        self.s.flush()


@pytest.fixture
def clinic(fresh_registry):
    """Lee (1.0 FTE, defaults), Park (0.5 FTE, 16 visits/day, closed), Cruz (200 days, 25/day), a cardiologist."""
    with fresh_registry.session() as session:
        p = Practice(session)
        lee = p.provider("LEE", "Dr. Ann Lee", npi="1234567893")
        park = p.provider("PARK", "Dr. Bo Park", fte=0.5, visits_per_day=16, panel_open=False)
        cruz = p.provider("CRUZ", "Dr. Cy Cruz", specialty="INTERNAL MEDICINE", clinic_days_per_year=200, visits_per_day=25)
        card = p.provider("CARD", "Dr. Heart", specialty="CARDIOLOGY")
        a = p.patient("A", dob="1994-06-01", sex="F")  # 30, female
        b = p.patient("B", dob="1994-06-01", sex="M")  # 30, male
        c = p.patient("C", dob="1944-01-01", sex="F")  # 80, female
        p.visits(a, lee, "2024-01-10", "2024-06-10")
        p.visits(b, lee, "2024-02-10", "2024-07-10")
        p.visits(c, park, "2024-03-01", "2024-04-01", "2024-05-01")
        p.visits(c, lee, "2024-08-01")
        p.visits(c, lee, "2024-09-01", visit_class="emergency")  # never counts
        summary = build_review(session, as_of=AS_OF, user="mgr")
        accept_review_items(session, summary.review_id, user="mgr")
        p.ids = dict(lee=lee, park=park, cruz=card and cruz, card=card, a=a, b=b, c=c)
        yield p


def test_practice_average_visits_per_patient_year_comes_from_the_registry(clinic):
    per_visit, basis = practice_visits_per_patient_year(clinic.s, AS_OF)
    assert per_visit == pytest.approx(8 / 3)  # 8 primary-care visits in the last 12 months / 3 assigned patients
    assert basis == "8 primary-care visits in the last 12 months / 3 assigned patients"


def test_targets_weighted_sizes_and_percent_of_target(clinic):
    rows = {r.provider: r for r in panel_capacity(clinic.s, AS_OF)}
    assert set(rows) == {"LEE", "PARK", "CRUZ"}  # the cardiologist holds no panel
    lee, park, cruz = rows["LEE"], rows["PARK"], rows["CRUZ"]
    # target = visits per day x clinic days per year / visits per patient per year
    assert (lee.clinic_days_per_year, lee.visits_per_day, lee.target) == (184.0, 20.0, round(20 * 184 / (8 / 3)))
    assert (park.clinic_days_per_year, park.visits_per_day, park.target) == (92.0, 16.0, round(16 * 92 / (8 / 3)))
    assert (cruz.clinic_days_per_year, cruz.visits_per_day, cruz.target) == (200.0, 25.0, round(25 * 200 / (8 / 3)))
    assert (lee.assigned, park.assigned, cruz.assigned) == (2, 1, 0)
    # NCHS 2003-04 visit rates: women 18-44 342.2, men 18-44 158.5, women 75+ 757.1 per 100 persons.
    mean = (342.2 + 158.5 + 757.1) / 3
    assert lee.weighted == round((342.2 + 158.5) / mean, 1) == 1.2
    assert park.weighted == round(757.1 / mean, 1) == 1.8
    assert lee.percent_of_target == round(100 * 1.2 / lee.target, 1)
    assert (lee.open, park.open) == (True, False)
    assert lee.risk_weighted is None or isinstance(lee.risk_weighted, float)


def test_risk_weighted_panel_is_null_without_risk_tiers_and_weighs_tiers_by_their_visits(clinic, monkeypatch):
    import pandas as pd

    monkeypatch.setitem(sys.modules, "panelmanager.core.risk", None)  # the risk module is absent
    assert all(r.risk_weighted is None for r in panel_capacity(clinic.s, AS_OF))

    fake = types.ModuleType("panelmanager.core.risk")
    ids = clinic.ids
    fake.current_tiers = lambda session, as_of, refresh=None: pd.DataFrame(
        {"patient_id": [ids["a"], ids["b"], ids["c"]], "tier": [1, 1, 4]}
    )
    monkeypatch.setitem(sys.modules, "panelmanager.core.risk", fake)
    rows = {r.provider: r for r in panel_capacity(clinic.s, AS_OF)}
    # Tier 1 patients made 2 visits each, the tier 4 patient 4; the practice average is 8/3.
    assert rows["LEE"].risk_weighted == round(2 * 2 / (8 / 3), 1) == 1.5
    assert rows["PARK"].risk_weighted == round(4 / (8 / 3), 1) == 1.5

    fake.current_tiers = lambda session, as_of, refresh=None: pd.DataFrame(columns=["patient_id", "tier"])
    assert all(r.risk_weighted is None for r in panel_capacity(clinic.s, AS_OF))  # not computed for this date


def test_age_sex_rates_use_age_on_the_as_of_date_and_both_sexes_when_unknown():
    import pandas as pd

    weights = load_panel_weights()
    assert "Health, United States" in weights.source
    rates = age_sex_rates(
        pd.Series([dt.date(2006, 11, 2), dt.date(2006, 11, 1), None, dt.date(1950, 1, 1), dt.date(1949, 1, 1)]),
        pd.Series(["M", "F", "F", "U", None]),
        dt.date(2024, 11, 1),
        weights,
    )
    assert rates[0] == 272.2  # 17 the day before the 18th birthday: under 18, male
    assert rates[1] == 342.2  # 18 on the day: 18-44, female
    assert str(rates[2]) == "nan"
    assert rates[3] == 644.6  # 74, sex unknown: the 65-74 both-sexes rate
    assert rates[4] == 777.4  # 75, sex missing: 75 and over, both sexes


def test_weights_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "w.toml"
    bad.write_text('[[band]]\nlabel = "all"\nmin_age = 0\nmax_age = 10\nfemale = 1\nmale = 1\n')
    with pytest.raises(ResourceError, match="w.toml: band 1 has no both"):
        load_panel_weights(bad)
    bad.write_text(
        '[[band]]\nlabel = "a"\nmin_age = 0\nmax_age = 10\nfemale = 1\nmale = 1\nboth = 1\n'
        '[[band]]\nlabel = "b"\nmin_age = 12\nmax_age = 200\nfemale = 1\nmale = 1\nboth = 1\n'
    )
    with pytest.raises(ResourceError, match="leave a gap or overlap"):
        load_panel_weights(bad)


def test_continuity_is_the_share_of_panel_visits_with_the_own_provider(clinic):
    report = continuity(clinic.s, AS_OF)
    rows = {r.provider: r for r in report.rows}
    assert (rows["LEE"].visits, rows["LEE"].with_own_provider, rows["LEE"].share) == (4, 4, 1.0)
    assert (rows["PARK"].visits, rows["PARK"].with_own_provider, rows["PARK"].share) == (4, 3, 0.75)
    assert (report.visits, report.with_own_provider, report.share) == (8, 7, 0.875)
    assert report.start == dt.date(2023, 11, 1)


def test_patients_who_visit_but_are_on_no_panel(clinic):
    s, ids = clinic.s, clinic.ids
    heart_only = clinic.patient("D")
    clinic.visits(heart_only, ids["card"], "2024-05-05", "2024-06-06")
    refused = clinic.patient("E")
    clinic.visits(refused, ids["lee"], "2024-07-07")
    clinic.patient("F")  # never seen: not "visiting"
    summary = build_review(s, as_of=AS_OF, user="mgr")
    items = review_items(s, summary.review_id, kinds=["new"])
    reject_review_items(s, summary.review_id, [int(i) for i in items["id"]], user="mgr")
    visitors = unassigned_visiting(s, AS_OF)
    assert [(v.mrn, v.visits, v.last_visit, v.most_seen_provider) for v in visitors] == [
        ("D", 2, dt.date(2024, 6, 6), "CARD"),
        ("E", 1, dt.date(2024, 7, 7), "LEE"),
    ]
