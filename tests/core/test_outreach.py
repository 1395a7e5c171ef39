"""Outreach lists, the outreach log, and whether outreach closed gaps."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.documents import DocumentResult
from panelmanager.core.outreach import (
    OutreachError,
    build_outreach_list,
    gaps_closed_after_outreach,
    last_outreach,
    log_document,
    log_outreach,
    log_outreach_bulk,
    outreach_history,
)

AS_OF = dt.date(2024, 3, 1)
COLON = "colorectal-cancer-screening"


def _practice(session) -> dict[str, int]:
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP")
    session.add_all([ana, ben])
    session.flush()
    ids = {"ana": ana.id, "ben": ben.id}

    def patient(key, first, last, dob, language="en", provider=ana, **extra):
        p = m.Patient(mrn=key.upper(), first_name=first, last_name=last, dob=dob, sex="F", source="t",
                      status="active", address1="1 Elm St", city="Springfield", state="MA", postal_code="01103",
                      phone_mobile="(413) 555-0101", preferred_language=language, **extra)
        session.add(p)
        session.flush()
        ids[key] = p.id
        if provider is not None:
            now = dt.datetime(2024, 1, 1)
            session.add(m.Assignment(patient_id=p.id, provider_id=provider.id, cut="1", reason="test",
                                     assigned_on=now.date(), assigned_at=now))
        return p

    patient("open1", "Olga", "Adams", dt.date(1970, 1, 1))  # 54, never screened
    patient("open2", "Rosa", "Díaz", dt.date(1960, 6, 1), language="Spanish")  # 63, Spanish
    patient("open3", "Ruth", "Baker", dt.date(1951, 1, 1), provider=ben)  # 73, Ben's panel
    done = patient("done", "Mia", "Clark", dt.date(1965, 1, 1))  # colonoscopy two years ago: met
    patient("young", "Zoe", "Young", dt.date(2000, 1, 1))  # 24: not eligible
    booked = patient("booked", "Bea", "Evans", dt.date(1972, 2, 2))  # open, appointment next week
    session.add(m.Procedure(patient_id=done.id, source="t", natural_key=1, date=dt.datetime(2022, 2, 1),
                            code_system="SNOMED", code="73761001", description="Colonoscopy"))
    session.add(m.Visit(patient_id=booked.id, provider_id=ana.id, source="t", external_id="V1",
                        start=dt.datetime(2024, 3, 8, 9), visit_class="wellness", status="scheduled"))
    session.flush()
    return ids


def test_the_list_holds_patients_with_the_gap_open(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        result = build_outreach_list(session, AS_OF, measure_ids=[COLON])
        contacts = result.contacts()
    assert set(result.rows["patient_id"]) == {ids["open1"], ids["open2"], ids["open3"], ids["booked"]}
    assert [c.list_name for c in contacts] == ["Adams, Olga", "Baker, Ruth", "Díaz, Rosa", "Evans, Bea"]
    olga = contacts[0]
    assert olga.provider_name == "Ana Alvarez, MD" and contacts[1].provider_name == "Ben Brown, NP"
    [gap] = olga.gaps
    assert gap.measure_id == COLON and gap.phrase == "a colon cancer screening"
    assert gap.short == "Colorectal screen: none on record, due now" and gap.status == "open"
    assert contacts[3].next_appointment == dt.date(2024, 3, 8)
    assert result.rows.loc[result.rows["patient_id"] == ids["open2"], "letter_language"].item() == "es"


def test_filters_by_provider_age_language_and_appointments(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        by_ben = build_outreach_list(session, AS_OF, measure_ids=[COLON], provider_id=ids["ben"])
        older = build_outreach_list(session, AS_OF, measure_ids=[COLON], age_min=60, age_max=70)
        spanish = build_outreach_list(session, AS_OF, measure_ids=[COLON], language="es")
        unbooked = build_outreach_list(session, AS_OF, measure_ids=[COLON], no_upcoming_appointment=True)
    assert set(by_ben.rows["patient_id"]) == {ids["open3"]}
    assert set(older.rows["patient_id"]) == {ids["open2"]}
    assert older.left_out == {"younger than 60": 2, "older than 70": 1}
    assert set(spanish.rows["patient_id"]) == {ids["open2"]}
    assert spanish.left_out == {"letters not in es": 3}
    assert ids["booked"] not in set(unbooked.rows["patient_id"]) and unbooked.patients == 3
    assert unbooked.left_out == {"appointment already scheduled": 1}


def test_recently_contacted_patients_are_left_out(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        log_outreach(session, ids["open1"], "call", "no-answer", measure=COLON, when=dt.datetime(2024, 2, 20, 10))
        log_outreach(session, ids["open3"], "letter", when=dt.datetime(2023, 12, 1, 9))
        default = build_outreach_list(session, AS_OF, measure_ids=[COLON])  # the setting: 30 days
        everyone = build_outreach_list(session, AS_OF, measure_ids=[COLON], quiet_days=0)
        longer = build_outreach_list(session, AS_OF, measure_ids=[COLON], quiet_days=120)
        contacts = {c.patient_id: c for c in everyone.contacts()}
    assert ids["open1"] not in set(default.rows["patient_id"]) and ids["open3"] in set(default.rows["patient_id"])
    assert default.left_out == {"contacted in the last 30 days": 1}
    assert everyone.patients == 4
    assert longer.left_out == {"contacted in the last 120 days": 2}
    assert contacts[ids["open1"]].last_outreach == "2024-02-20 call (no answer)"
    assert contacts[ids["open3"]].last_outreach == "2023-12-01 letter"


def test_logging_one_contact(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        entry = log_outreach(session, ids["open1"], "Call", "Left message", measure=COLON, note=" voicemail ",
                             user="front desk", when=dt.datetime(2024, 3, 1, 14, 5))
        later = log_outreach(session, ids["open1"], "in person", "scheduled", user="nurse", when=dt.date(2024, 3, 2))
        history = outreach_history(session, ids["open1"])
    assert (entry.method, entry.outcome, entry.measure_id, entry.note, entry.user) == (
        "call", "left-message", COLON, "voicemail", "front desk")
    assert later.method == "in-person" and later.logged_at == dt.datetime(2024, 3, 2, 12, 0)
    assert [h.id for h in history] == [later.id, entry.id]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fax"}, "unknown outreach method 'fax'"),
        ({"method": "call", "outcome": "maybe"}, "unknown outcome 'maybe'"),
        ({"method": "call", "measure": "flossing"}, "unknown measure 'flossing'"),
    ],
)
def test_bad_log_entries_are_refused_with_the_allowed_values(fresh_registry, kwargs, message):
    with fresh_registry.session() as session:
        ids = _practice(session)
        with pytest.raises(OutreachError, match=message):
            log_outreach(session, ids["open1"], **kwargs)


def test_a_missing_patient_is_refused(fresh_registry):
    with fresh_registry.session() as session:
        with pytest.raises(OutreachError, match="no patient"):
            log_outreach(session, 999, "call")


def test_a_print_run_is_logged_per_patient_and_gap_in_one_batch(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        pairs = pd.DataFrame({"patient_id": [ids["open1"], ids["open1"], ids["open2"]],
                              "measure_id": [COLON, "influenza-immunization", COLON]})
        letters = DocumentResult(kind="letters", pairs=pairs)
        logged = log_document(session, letters, user="manager", when=dt.datetime(2024, 3, 1, 8))
        portal = log_outreach_bulk(session, pairs.iloc[[2]], method="portal", document="portal-export", user="manager")
        rows = session.execute(select(m.OutreachLog.patient_id, m.OutreachLog.measure_id, m.OutreachLog.method,
                                      m.OutreachLog.document, m.OutreachLog.batch, m.OutreachLog.user)).all()
        with pytest.raises(OutreachError, match="not outreach by itself"):
            log_document(session, DocumentResult(kind="call-list", pairs=pairs))
        latest = last_outreach(session)
    assert (logged.rows, logged.patients, logged.method, logged.document) == (3, 2, "letter", "letters")
    assert portal.rows == 1 and portal.batch != logged.batch
    letter_rows = [r for r in rows if r.method == "letter"]
    assert len(letter_rows) == 3 and {r.batch for r in letter_rows} == {logged.batch}
    assert {r.user for r in rows} == {"manager"}
    assert set(latest["patient_id"]) == {ids["open1"], ids["open2"]}


def _gaps(rows: list[tuple[int, str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [r[0] for r in rows],
            "measure": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "last_date": pd.to_datetime([r[3] for r in rows]),
        }
    )


def test_gaps_closed_within_90_days_of_outreach_per_method_and_measure(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        p1, p2, p3, p4 = ids["open1"], ids["open2"], ids["open3"], ids["booked"]
        when = dt.datetime(2024, 1, 10, 9)
        log_outreach(session, p1, "letter", measure=COLON, when=when)
        log_outreach(session, p1, "call", "no-answer", measure=COLON, when=when + dt.timedelta(days=5))
        log_outreach(session, p1, "call", "scheduled", measure=COLON, when=when + dt.timedelta(days=6))
        log_outreach(session, p2, "letter", measure=COLON, when=when)
        log_outreach(session, p3, "call", "left-message", measure=COLON, when=dt.datetime(2024, 5, 20, 9))
        log_outreach(session, p4, "letter", measure=COLON, when=dt.datetime(2023, 1, 1, 9))
        log_outreach(session, p4, "call", "reached", when=dt.datetime(2024, 1, 5, 9))  # no measure: not counted
        gaps = _gaps([
            (p1, COLON, "met", "2024-02-01"),  # screened 22 days after the letter
            (p2, COLON, "open", None),  # never screened, 90 days passed
            (p3, COLON, "open", None),  # called 12 days ago: pending
            (p4, COLON, "met", "2023-06-01"),  # screened 151 days after the letter: too late to count
        ])
        table = gaps_closed_after_outreach(session, dt.date(2024, 6, 1), gaps=gaps)
    got = {(r.method, r.measure): (r.contacted, r.closed, r.not_closed, r.pending) for r in table.itertuples()}
    assert got == {("letter", COLON): (3, 1, 2, 0), ("call", COLON): (2, 1, 0, 1)}
    rates = dict(zip(table["method"], table["closed_rate"]))
    assert rates["letter"] == pytest.approx(1 / 3) and rates["call"] == pytest.approx(1.0)
    assert list(table["method"]) == ["letter", "call"]
    assert table["measure_title"].iloc[0] == "Colorectal cancer screening"


def test_a_screening_recorded_after_a_letter_counts_as_closed(fresh_registry):
    with fresh_registry.session() as session:
        ids = _practice(session)
        log_outreach(session, ids["open1"], "letter", measure=COLON, when=dt.datetime(2024, 1, 10, 9))
        log_outreach(session, ids["open2"], "letter", measure=COLON, when=dt.datetime(2024, 1, 10, 9))
        session.add(m.Procedure(patient_id=ids["open1"], source="t", natural_key=99, date=dt.datetime(2024, 2, 15),
                                code_system="SNOMED", code="73761001", description="Colonoscopy"))
        session.flush()
        table = gaps_closed_after_outreach(session, dt.date(2024, 6, 1))
    [row] = table.itertuples()
    assert (row.method, row.measure, row.contacted, row.closed, row.not_closed) == ("letter", COLON, 2, 1, 1)


def test_no_outreach_gives_an_empty_report(fresh_registry):
    with fresh_registry.session() as session:
        table = gaps_closed_after_outreach(session, AS_OF)
    assert table.empty and "closed_rate" in table.columns


def test_accented_surnames_sort_with_their_letter_not_after_z(fresh_registry):
    with fresh_registry.session() as session:
        _practice(session)
        for mrn, last in (("Z1", "Zhang"), ("A1", "Ávila")):
            session.add(m.Patient(mrn=mrn, first_name="Ida", last_name=last, dob=dt.date(1965, 3, 3), sex="F",
                                  source="t", status="active", address1="2 Oak St", city="Springfield",
                                  state="MA", postal_code="01103"))
        session.flush()
        names = [c.list_name for c in build_outreach_list(session, AS_OF, measure_ids=[COLON]).contacts()]
    assert names.index("Ávila, Ida") < names.index("Baker, Ruth") and names[-1] == "Zhang, Ida"


def test_a_childs_series_due_later_says_its_date_as_of_the_list_day_not_today(fresh_registry):
    # Issue 9: the wording compares the due date with the list's as-of day. A child turning 2
    # in September 2024 is due by the birthday on a list made in March 2024, whatever today is.
    with fresh_registry.session() as session:
        ids = _practice(session)
        kid = m.Patient(mrn="KID", first_name="Kit", last_name="Young", dob=dt.date(2022, 9, 15), sex="F",
                        source="t", status="active", address1="1 Elm St", city="Springfield", state="MA",
                        postal_code="01103")
        session.add(kid)
        session.flush()
        session.add(m.Assignment(patient_id=kid.id, provider_id=ids["ana"], cut="1", reason="test",
                                 assigned_on=dt.date(2024, 1, 1), assigned_at=dt.datetime(2024, 1, 1)))
        session.flush()
        result = build_outreach_list(session, AS_OF, measure_ids=["childhood-immunization"])
        [contact] = result.contacts()
    [gap] = contact.gaps
    assert gap.short.endswith(", due 2024-09-15"), gap.short
