"""The reads the Check-in and Patients screens ask of the core (issue 11: no SQL in ui/)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from panelmanager.core.checkin import registry_is_empty, schedule_with_version
from panelmanager.core.measures import data_version
from panelmanager.core.patient_view import PatientFilters, patient_list_ids, patient_list_query
from panelmanager.core.schedule import day_schedule


def test_an_empty_registry_is_empty_until_a_patient_comes(fresh_registry):
    with fresh_registry.session() as session:
        assert registry_is_empty(session)


def test_a_clinic_is_not_empty(fresh_registry, clinic_ids):
    with fresh_registry.session() as session:
        assert not registry_is_empty(session)


def test_schedule_with_version_is_the_day_schedule_and_the_data_version(fresh_registry, clinic_ids):
    day = dt.date(2024, 3, 4)
    with fresh_registry.session() as session:
        frame, version = schedule_with_version(session, day)
        assert isinstance(frame, pd.DataFrame)
        pd.testing.assert_frame_equal(frame, day_schedule(session, day))
        assert version == data_version(session)


def test_patient_list_ids_are_the_list_query_in_order(fresh_registry, clinic_ids):
    filters = PatientFilters(statuses=None)
    as_of = dt.date(2024, 3, 4)
    with fresh_registry.session() as session:
        for sort, descending in (("name", False), ("name", True), ("dob", False)):
            ids = patient_list_ids(session, filters, as_of, sort=sort, descending=descending)
            assert ids == list(session.scalars(patient_list_query(filters, as_of, sort=sort, descending=descending)))
        assert len(ids) >= 2 and set(ids) <= set(clinic_ids.values())  # the clinic's patients
