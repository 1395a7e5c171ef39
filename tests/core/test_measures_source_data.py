"""Missing source data is visible (issue 9, item 11).

A registry whose exports carried no lab results, no vital signs or no tobacco screening
observations must not present every diabetic, hypertensive and adult as the patients'
failure: ``measure_source_data`` names those measures.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete
from test_measures_support import Practice

from panelmanager.core import models
from panelmanager.core.measures import absent_source_data, evaluate_measures, measure_source_data

AS_OF = dt.date(2024, 3, 15)


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def test_no_observations_at_all_means_the_lab_vital_and_screening_measures_have_no_data(practice):
    patient = practice.patient("diabetic", dob=dt.date(1960, 1, 1), sex="M")
    practice.condition(patient, dt.date(2015, 1, 1), "44054006")
    practice.condition(patient, dt.date(2015, 1, 1), "59621000")
    practice.procedure(patient, dt.date(2020, 1, 1), "73761001")
    with practice.registry.session() as session:
        absent = absent_source_data(session, as_of=AS_OF)
        gaps = evaluate_measures(session, AS_OF)
    assert {"diabetes-a1c-poor-control", "controlling-bp", "tobacco-screening"} <= set(absent)
    assert "colorectal-cancer-screening" not in absent  # procedures were imported
    assert "no-upcoming-appointment" not in absent
    assert "A1c" in absent["diabetes-a1c-poor-control"].message
    assert "source data absent" in absent["controlling-bp"].message
    # The engine still reports the rows; clients show the warning instead of blaming the patient.
    assert set(gaps.loc[gaps["mrn"] == "diabetic", "measure"]) >= {"diabetes-a1c-poor-control", "controlling-bp"}


def test_blood_pressure_needs_both_components(practice):
    patient = practice.patient("p", dob=dt.date(1960, 1, 1), sex="M")
    practice.observation(patient, dt.date(2024, 1, 1), "8480-6", value=130)
    with practice.registry.session() as session:
        assert not measure_source_data(session, as_of=AS_OF)["controlling-bp"].present
    practice.observation(patient, dt.date(2024, 1, 1), "8462-4", value=80)
    with practice.registry.session() as session:
        status = measure_source_data(session, as_of=AS_OF)
    assert status["controlling-bp"].present
    assert not status["diabetes-a1c-poor-control"].present  # vital signs, but no lab results


@pytest.mark.shared_data
def test_synthea_export_with_an_empty_observations_file(fresh_registry, synthea_small):
    from panelmanager.core.importers import run_import

    outcomes = run_import(fresh_registry, [synthea_small], write_rejects=False)
    assert outcomes[0].ok, outcomes[0].error
    as_of = dt.date(2024, 2, 3)
    with fresh_registry.session() as session:
        assert absent_source_data(session, as_of=as_of) == {}
        # As if observations.csv had been empty: no labs, no vitals, no questionnaires.
        session.execute(delete(models.Observation))
        absent = absent_source_data(session, as_of=as_of)
    assert {"diabetes-a1c-poor-control", "controlling-bp", "tobacco-screening"} <= set(absent)
    assert "influenza-immunization" not in absent and "colorectal-cancer-screening" not in absent
