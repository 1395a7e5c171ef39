"""Days with visits: the huddle screen's calendar marks and previous / next clinic day."""

from __future__ import annotations

import datetime as dt

from panelmanager.core import models as m
from panelmanager.core.clinic_days import adjacent_visit_day, busiest_visit_day, visit_days


def _schedule(session) -> dict[str, int]:
    ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD")
    ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP")
    session.add_all([ana, ben])
    session.flush()
    p = m.Patient(mrn="M1", first_name="A", last_name="B", dob=dt.date(1960, 1, 1), source="t", status="active")
    session.add(p)
    session.flush()
    visits = [
        (ana, dt.datetime(2024, 3, 4, 9), "scheduled"),
        (ana, dt.datetime(2024, 3, 4, 10), "scheduled"),
        (ben, dt.datetime(2024, 3, 4, 11), "scheduled"),
        (ben, dt.datetime(2024, 3, 6, 9), "scheduled"),
        (ana, dt.datetime(2024, 3, 8, 9), "cancelled"),  # cancelled: not a clinic day
        (ana, dt.datetime(2024, 3, 11, 8), "scheduled"),
        (ben, dt.datetime(2024, 3, 11, 9), "scheduled"),
        (ben, dt.datetime(2024, 3, 11, 10), "no-show"),
    ]
    for n, (who, when, status) in enumerate(visits):
        session.add(m.Visit(patient_id=p.id, provider_id=who.id, source="t", external_id=f"V{n}", start=when,
                            status=status))
    session.flush()
    return {"ana": ana.id, "ben": ben.id}


def test_visit_days_count_visits_that_were_not_cancelled(fresh_registry):
    with fresh_registry.session() as session:
        ids = _schedule(session)
        everyone = visit_days(session, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
        ana = visit_days(session, dt.date(2024, 3, 1), dt.date(2024, 3, 31), ids["ana"])
        first_week = visit_days(session, dt.date(2024, 3, 4), dt.date(2024, 3, 6))
    assert everyone == {dt.date(2024, 3, 4): 3, dt.date(2024, 3, 6): 1, dt.date(2024, 3, 11): 3}
    assert ana == {dt.date(2024, 3, 4): 2, dt.date(2024, 3, 11): 1}
    assert first_week == {dt.date(2024, 3, 4): 3, dt.date(2024, 3, 6): 1}


def test_previous_and_next_day_with_visits(fresh_registry):
    with fresh_registry.session() as session:
        ids = _schedule(session)
        assert adjacent_visit_day(session, dt.date(2024, 3, 4), 1) == dt.date(2024, 3, 6)
        assert adjacent_visit_day(session, dt.date(2024, 3, 4), 1, ids["ana"]) == dt.date(2024, 3, 11)  # 8th cancelled
        assert adjacent_visit_day(session, dt.date(2024, 3, 11), -1) == dt.date(2024, 3, 6)
        assert adjacent_visit_day(session, dt.date(2024, 3, 11), -1, ids["ana"]) == dt.date(2024, 3, 4)
        assert adjacent_visit_day(session, dt.date(2024, 3, 4), -1) is None
        assert adjacent_visit_day(session, dt.date(2024, 3, 11), 1) is None


def test_busiest_day(fresh_registry):
    with fresh_registry.session() as session:
        ids = _schedule(session)
        assert busiest_visit_day(session, dt.date(2024, 3, 1), 14) == dt.date(2024, 3, 4)  # tie with the 11th
        assert busiest_visit_day(session, dt.date(2024, 3, 5), 14, ids["ben"]) == dt.date(2024, 3, 11)
        assert busiest_visit_day(session, dt.date(2024, 4, 1), 14) is None
