"""Huddle data: a day's visits per provider with PCP flags, risk and open gaps with their last values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.huddle import huddle_data
from panelmanager.core.reports.huddle import build_huddle_sheet

DAY = dt.date(2024, 3, 4)


def _practice(session) -> dict[str, int]:
    """Two providers; five patients; visits on DAY (one cancelled) and the day after."""
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD", npi="1000000004")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP", npi="1000000012")
    session.add_all([ana, ben])
    session.flush()

    def patient(mrn, first, last, dob, sex):
        p = m.Patient(mrn=mrn, first_name=first, last_name=last, dob=dob, sex=sex, source="t", status="active")
        session.add(p)
        session.flush()
        return p

    maria = patient("M1", "María", "García", dt.date(1962, 5, 1), "F")  # diabetic, A1c 9.8
    john = patient("M2", "John", "Smith", dt.date(1950, 1, 1), "M")  # panel: Ben
    lee = patient("M3", "Ann", "Lee", dt.date(1990, 3, 5), "F")  # panel: Ana, not confirmed
    kim = patient("M4", "Jun", "Kim", dt.date(2023, 7, 1), "M")  # no panel
    gone = patient("M5", "Cancelled", "Visit", dt.date(1980, 1, 1), "F")

    def visit(n, who, provider, when, status="scheduled", kind="Follow-up"):
        session.add(m.Visit(patient_id=who.id, provider_id=provider.id, source="t", external_id=f"V{n}", start=when,
                            visit_class="ambulatory", visit_type=kind, status=status))

    at = lambda h, mi=0: dt.datetime.combine(DAY, dt.time(h, mi))  # noqa: E731
    visit(1, maria, ana, at(9, 20), kind="Diabetes follow-up")
    visit(2, john, ana, at(8, 0))
    visit(3, lee, ana, at(10, 40), kind="Annual physical")
    visit(4, kim, ben, at(9, 0), kind="Well child")
    visit(5, gone, ana, at(11, 0), status="cancelled")
    visit(6, maria, ben, at(9, 0) + dt.timedelta(days=1))
    visit(7, maria, ana, dt.datetime(2023, 8, 14, 10), status="completed")

    session.add(m.Condition(patient_id=maria.id, source="t", natural_key=1, code_system="SNOMED", code="44054006",
                            description="Diabetes mellitus type 2", onset=dt.date(2015, 1, 1)))
    session.add(m.Observation(patient_id=maria.id, source="t", natural_key=2, date=dt.datetime(2023, 8, 14, 10),
                              code_system="LOINC", code="4548-4", description="Hemoglobin A1c", value="9.8",
                              value_num=9.8, unit="%"))
    # Some procedure on record: the registry holds procedures, so colorectal gaps are real gaps.
    session.add(m.Procedure(patient_id=gone.id, source="t", natural_key=3, date=dt.datetime(2020, 5, 1, 10),
                            code_system="SNOMED", code="73761001"))
    now = dt.datetime(2024, 1, 1, 9)

    def assign(who, provider, confirmed=False):
        session.add(m.Assignment(patient_id=who.id, provider_id=provider.id, cut="1", reason="test",
                                 assigned_on=now.date(), assigned_at=now,
                                 provider_confirmed_on=now.date() if confirmed else None))

    assign(maria, ana, confirmed=True)
    assign(john, ben, confirmed=True)
    assign(lee, ana)
    session.flush()
    return {"ana": ana.id, "ben": ben.id}


def test_one_providers_huddle_lists_the_days_visits_in_time_order(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        sheet = huddle_data(session, DAY, ids["ana"])
    assert [s.provider_name for s in sheet.sections] == ["Ana Alvarez, MD"]
    rows = sheet.sections[0].rows
    assert [r.name for r in rows] == ["Smith, John", "García, María", "Lee, Ann"]  # cancelled visit left out
    john, maria, lee = rows
    assert (maria.age, maria.sex, maria.visit_type) == (61, "F", "Diabetes follow-up")
    assert (john.pcp_name, john.pcp_flag) == ("Ben Brown, NP", "other")
    assert (maria.pcp_name, maria.pcp_flag) == ("Ana Alvarez, MD", "")
    assert (lee.pcp_name, lee.pcp_flag) == ("Ana Alvarez, MD", "unconfirmed")
    texts = {g.measure_id: g.text for g in maria.gaps}
    assert texts["diabetes-a1c-poor-control"] == "A1c above 9: last 2023-08-14 (9.8%), due now"
    assert "colorectal-cancer-screening" in texts  # 61 and never screened
    assert all(g.status in ("open", "due-soon") for r in rows for g in r.gaps)
    assert not any(g.measure_id in ("no-upcoming-appointment", "no-visit-12-months") for r in rows for g in r.gaps)


def test_measures_without_any_source_data_are_named_not_listed_as_gaps(fresh_registry, tmp_path):
    # Issue 9 item 11: no tobacco screening observations were imported at all; the sheet says
    # so once instead of listing every patient as unscreened.
    with fresh_registry.session() as session:
        ids = _practice(session)
        sheet = huddle_data(session, DAY, ids["ana"])
    listed = {g.measure_id for s in sheet.sections for r in s.rows for g in r.gaps}
    assert "tobacco-screening" not in listed
    assert "diabetes-a1c-poor-control" in listed and "colorectal-cancer-screening" in listed
    assert any(msg.startswith("Tobacco use screening: source data absent") for msg in sheet.source_data_absent)
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(sheet, out)
    text = " ".join(PdfReader(str(out)).pages[0].extract_text().split())
    assert "Tobacco use screening: source data absent" in text


def test_all_providers_get_a_section_each(fresh_registry):
    with fresh_registry.session() as session:
        _practice(session)
        sheet = huddle_data(session, DAY)
    assert [(s.provider_name, [r.name for r in s.rows]) for s in sheet.sections] == [
        ("Ana Alvarez, MD", ["Smith, John", "García, María", "Lee, Ann"]),
        ("Ben Brown, NP", ["Kim, Jun"]),
    ]
    kim = sheet.sections[1].rows[0]
    assert kim.pcp_flag == "none" and kim.pcp_name is None and kim.age == 0
    assert sheet.patients == 4


def test_a_provider_without_visits_gets_an_empty_section(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        sheet = huddle_data(session, DAY + dt.timedelta(days=2), ids["ben"])
    assert len(sheet.sections) == 1 and sheet.sections[0].rows == []


def test_the_printed_sheet_shows_the_gaps_and_flags(fresh_registry, tmp_path):
    with fresh_registry.session() as session:
        ids = _practice(session)
        sheet = huddle_data(session, DAY, ids["ana"])
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(sheet, out)
    text = PdfReader(str(out)).pages[0].extract_text()
    for expected in ("García, María", "A1c above 9: last 2023-08-14", "Other PCP", "Unconfirmed", "Annual physical",
                     "8:00 AM", "9:20 AM", "10:40 AM", "61/F"):
        assert expected in text, expected
    assert "Kim, Jun" not in text and "Cancelled" not in text


@pytest.mark.shared_data
def test_synthea_huddle_lists_exactly_the_patients_seen_that_day(fresh_registry, synthea_small, tmp_path):
    from panelmanager.core.importers import run_import

    [outcome] = run_import(fresh_registry, [synthea_small])
    assert outcome.ok, outcome.error
    encounters = pd.read_csv(synthea_small / "encounters.csv", dtype=str)
    encounters["day"] = encounters["START"].str[:10]  # stored as UTC, as Synthea writes them

    # The provider and day with the most visits in the data.
    busiest = encounters.groupby(["PROVIDER", "day"]).size().sort_values(kind="stable")
    provider_ref, day_text = busiest.index[-1]
    seen = encounters[(encounters["PROVIDER"] == provider_ref) & (encounters["day"] == day_text)]
    with fresh_registry.session() as session:
        provider_id = session.scalar(select(m.Provider.id).where(m.Provider.external_id == provider_ref))
        sheet = huddle_data(session, dt.date.fromisoformat(day_text), provider_id)
        last_names = dict(session.execute(select(m.Patient.mrn, m.Patient.last_name)).all())
    rows = [r for s in sheet.sections for r in s.rows]
    assert len(rows) == len(seen) and {r.mrn for r in rows} == set(seen["PATIENT"])

    # Every provider on the day the most patients were seen: one section each, exactly those patients.
    day_text = encounters.groupby("day")["PATIENT"].nunique().sort_values(kind="stable").index[-1]
    seen = encounters[encounters["day"] == day_text]
    with fresh_registry.session() as session:
        sheet = huddle_data(session, dt.date.fromisoformat(day_text))
    assert {r.mrn for s in sheet.sections for r in s.rows} == set(seen["PATIENT"])
    assert sum(len(s.rows) for s in sheet.sections) == len(seen)
    assert len(sheet.sections) == seen["PROVIDER"].nunique()
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(sheet, out)
    reader = PdfReader(str(out))
    assert len(reader.pages) >= len(sheet.sections)
    text = "".join(p.extract_text() for p in reader.pages)
    for mrn in set(seen["PATIENT"]):
        assert last_names[mrn] in text
    others = set(encounters["PATIENT"]) - set(seen["PATIENT"])
    assert not any(last_names[mrn] in text for mrn in others if last_names.get(mrn))


def test_risk_tiers_come_from_the_latest_scores_with_overrides(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        pid = {mrn: i for mrn, i in session.execute(select(m.Patient.mrn, m.Patient.id)).all()}
        stamp = dt.datetime(2024, 3, 1, 6)
        for mrn, as_of, tier in (("M1", dt.date(2024, 2, 1), 2), ("M1", dt.date(2024, 3, 1), 3),
                                 ("M1", dt.date(2024, 3, 9), 1), ("M3", dt.date(2024, 3, 1), 1)):
            session.add(m.RiskScore(as_of=as_of, patient_id=pid[mrn], score=1.0, computed_tier=tier, reasons="",
                                    computed_at=stamp))
        session.add(m.RiskOverride(patient_id=pid["M3"], tier=4, reason="frail, lives alone", user="rn",
                                   recorded_at=stamp, active=True))
        session.flush()
        sheet = huddle_data(session, DAY, ids["ana"])
    tiers = {r.mrn: (r.risk_tier, r.risk_label) for r in sheet.sections[0].rows}
    assert tiers["M1"][0] == 3  # the score on or before the huddle day, not a later one
    assert tiers["M3"][0] == 4  # the override wins
    assert tiers["M2"] == (None, None)  # not scored yet
    assert sheet.risk_available
