"""Latest A1c and blood pressure for a day's patients (the huddle screen's last two columns)."""

from __future__ import annotations

import datetime as dt

from panelmanager.core import models as m
from panelmanager.core.latest_results import a1c_text, bp_text, latest_a1c_bp

DAY = dt.date(2024, 3, 4)


def _patient(session, mrn):
    p = m.Patient(mrn=mrn, first_name="A", last_name=mrn, dob=dt.date(1960, 1, 1), sex="F", source="t",
                  status="active")
    session.add(p)
    session.flush()
    return p.id


def _obs(session, pid, key, when, code, value):
    session.add(m.Observation(patient_id=pid, source="t", natural_key=key, date=when, code_system="LOINC", code=code,
                              value=str(value), value_num=value))


def test_latest_results_take_the_newest_reading_on_or_before_the_day(fresh_registry):
    with fresh_registry.session() as session:
        maria, john, none = _patient(session, "M1"), _patient(session, "M2"), _patient(session, "M3")
        _obs(session, maria, 1, dt.datetime(2023, 2, 1, 9), "4548-4", 7.1)
        _obs(session, maria, 2, dt.datetime(2023, 8, 14, 10), "17855-8", 9.8)  # another A1c code, newer
        _obs(session, maria, 3, dt.datetime(2024, 3, 5, 10), "4548-4", 6.0)  # after the day: ignored
        _obs(session, maria, 4, dt.datetime(2024, 1, 10, 9), "8480-6", 146)
        _obs(session, maria, 5, dt.datetime(2024, 1, 10, 9), "8462-4", 95)
        _obs(session, maria, 6, dt.datetime(2024, 2, 1, 9), "8480-6", 120)  # systolic without a diastolic
        _obs(session, john, 7, dt.datetime(2023, 12, 1, 9), "8480-6", 128)
        _obs(session, john, 8, dt.datetime(2023, 12, 1, 9), "8462-4", 78)
        _obs(session, john, 9, dt.datetime(2023, 12, 1, 9), "2093-3", 250)  # cholesterol: not asked for
        session.flush()
        frame = latest_a1c_bp(session, [maria, john, none], DAY)
    rows = {r["patient_id"]: r for r in frame.to_dict("records")}
    assert set(rows) == {maria, john}
    assert rows[maria]["a1c"] == 9.8 and rows[maria]["a1c_date"] == dt.date(2023, 8, 14) and rows[maria]["a1c_high"]
    assert (rows[maria]["systolic"], rows[maria]["diastolic"], rows[maria]["bp_date"]) == (146, 95, dt.date(2024, 1, 10))
    assert rows[maria]["bp_high"]
    assert rows[john]["a1c"] is None and not rows[john]["a1c_high"]
    assert (rows[john]["systolic"], rows[john]["diastolic"], rows[john]["bp_high"]) == (128, 78, False)


def test_no_patients_or_no_results_give_an_empty_frame(fresh_registry):
    with fresh_registry.session() as session:
        pid = _patient(session, "M1")
        assert latest_a1c_bp(session, [], DAY).empty
        assert latest_a1c_bp(session, [pid], DAY).empty


def test_short_texts():
    assert a1c_text(9.8, dt.date(2023, 8, 14)) == "9.8% (2023-08-14)"
    assert a1c_text(7.0, dt.date(2023, 8, 14)) == "7% (2023-08-14)"
    assert a1c_text(None, None) == ""
    assert bp_text(146.0, 95.4, dt.date(2025, 3, 21)) == "146/95 (2025-03-21)"
    assert bp_text(146.0, None, dt.date(2025, 3, 21)) == ""
