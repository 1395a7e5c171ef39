"""An outreach list folded to one row per patient, as the outreach screen shows it."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from panelmanager.core import models as m
from panelmanager.core.outreach import OutreachFilters, OutreachList, log_outreach
from panelmanager.core.outreach_patients import outreach_patient_order, outreach_patients, with_last_outreach

AS_OF = dt.date(2024, 3, 1)


def _row(pid, last, first, measure, **extra):
    row = {
        "patient_id": pid, "mrn": f"M{pid}", "first_name": first, "middle_name": None, "last_name": last,
        "dob": dt.date(1960, 1, 1), "age": 64, "sex": "F", "address1": "1 Elm St", "address2": None,
        "city": "Springfield", "state": "MA", "postal_code": "01103", "phone_home": None,
        "phone_mobile": "(413) 555-0101", "phone_work": None, "email": None, "preferred_language": "en",
        "letter_language": "en", "provider_id": 1, "provider_name": "Ana Alvarez, MD", "measure": measure,
        "measure_title": measure.title(), "measure_phrase": measure, "status": "open",
        "due_date": pd.Timestamp(AS_OF), "last_date": pd.NaT, "last_value": None,
        "gap_text": f"{measure} (none on record)", "next_appointment": pd.NaT, "last_outreach_at": pd.NaT,
        "last_method": None, "last_outcome": None,
    }
    row.update(extra)
    return row


def _list(rows) -> OutreachList:
    return OutreachList(as_of=AS_OF, filters=OutreachFilters(), rows=pd.DataFrame(rows))


def test_one_row_per_patient_with_their_gaps_and_address_problems():
    outreach = _list([
        _row(1, "Adams", "Olga", "colon"),
        _row(1, "Adams", "Olga", "flu"),
        _row(2, "Díaz", "Rosa", "colon", letter_language="es", preferred_language="Spanish", phone_mobile=None,
             phone_home="(413) 555-0199", next_appointment=pd.Timestamp("2024-03-08 09:00")),
        _row(3, "Baker", "Ruth", "colon", postal_code=None, last_outreach_at=pd.Timestamp("2024-02-01 10:00"),
             last_method="call", last_outcome="no-answer"),
    ])
    frame = outreach_patients(outreach)
    assert list(frame["patient_id"]) == [1, 2, 3]  # the list's order
    olga, rosa, ruth = frame.to_dict("records")
    assert olga["name"] == "Adams, Olga" and olga["gap_count"] == 2
    assert olga["gaps"] == "colon (none on record)\nflu (none on record)"
    assert olga["measures"] == ("colon", "flu")
    assert olga["address"] == "1 Elm St, Springfield, MA 01103" and olga["address_problem"] is None
    assert rosa["language_name"] == "Spanish" and rosa["phone"] == "(413) 555-0199"
    assert rosa["phones"] == "home (413) 555-0199" and rosa["next_appointment"] == dt.date(2024, 3, 8)
    assert ruth["address_problem"] == "no ZIP code"
    assert ruth["last_outreach"] == "2024-02-01 call (no answer)"
    assert olga["last_outreach"] is None and olga["next_appointment"] is None


def test_an_empty_list_gives_an_empty_frame():
    assert outreach_patients(_list([])).empty


def test_sorting_by_a_column_key():
    frame = outreach_patients(_list([
        _row(1, "Zhang", "Li", "colon", age=70),
        _row(2, "Álvarez", "Ana", "colon", age=50, postal_code=None),
        _row(3, "Baker", "Ruth", "colon", age=60),
        _row(3, "Baker", "Ruth", "flu", age=60),
    ]))
    assert outreach_patient_order(frame, "name") == [2, 3, 1]  # Á sorts with A
    assert outreach_patient_order(frame, "age", descending=True) == [1, 3, 2]
    assert outreach_patient_order(frame, "gaps", descending=True)[0] == 3
    assert outreach_patient_order(frame, "address")[0] == 2  # no usable address first
    assert outreach_patient_order(frame, None) == [1, 2, 3]


def test_last_outreach_is_re_read_from_the_log(fresh_registry):
    with fresh_registry.session() as session:
        p = m.Patient(mrn="M1", first_name="Olga", last_name="Adams", dob=dt.date(1960, 1, 1), source="t",
                      status="active")
        session.add(p)
        session.flush()
        frame = outreach_patients(_list([_row(p.id, "Adams", "Olga", "colon")]))
        assert frame.loc[0, "last_outreach"] is None
        log_outreach(session, p.id, "call", "left-message", when=dt.datetime(2024, 2, 28, 15))
        log_outreach(session, p.id, "letter", when=dt.datetime(2024, 3, 5, 15))  # after the as-of date
        fresh = with_last_outreach(session, frame, AS_OF)
    assert fresh.loc[0, "last_outreach"] == "2024-02-28 call (left message)"
    assert list(fresh.columns) == list(frame.columns)
