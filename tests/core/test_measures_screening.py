"""Cancer screening gaps on hand-built patients: breast (CMS125), cervical (CMS124), colorectal (CMS130).

As of 2024-03-15. Each test builds the few patients it is about; a look-back is met on
its first day and open the day before it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import AS_OF, Practice, months_before, statuses, years_before


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


# --------------------------------------------------------------------------- breast


def test_breast_screening_age_edges_are_whole_years_on_the_as_of_date(practice):
    # CMS125v12 Initial Population: women 52-74 (a 51-year-old used to be listed).
    practice.patient("turns-52-today", dob=years_before(AS_OF, 52))
    practice.patient("turns-52-tomorrow", dob=years_before(AS_OF, 52) + dt.timedelta(days=1))
    practice.patient("50", dob=years_before(AS_OF, 50))
    practice.patient("74-turns-75-tomorrow", dob=years_before(AS_OF, 75) + dt.timedelta(days=1))
    practice.patient("turns-75-today", dob=years_before(AS_OF, 75))
    result = statuses(practice.registry, "breast-cancer-screening")
    assert set(result) == {"turns-52-today", "74-turns-75-tomorrow"}


def test_breast_screening_is_for_women_only(practice):
    practice.patient("woman", dob=dt.date(1964, 1, 1), sex="F")
    practice.patient("man", dob=dt.date(1964, 1, 1), sex="M")
    practice.patient("unknown", dob=dt.date(1964, 1, 1), sex="U")
    assert set(statuses(practice.registry, "breast-cancer-screening")) == {"woman"}


def test_mammogram_on_the_first_day_of_the_27_months_counts_and_a_day_earlier_does_not(practice):
    inside = practice.patient("inside", dob=dt.date(1960, 5, 1))
    outside = practice.patient("outside", dob=dt.date(1960, 5, 1))
    first_day = months_before(AS_OF, 27)
    practice.procedure(inside, first_day, "77067", system="CPT")
    practice.procedure(outside, first_day - dt.timedelta(days=1), "77067", system="CPT")
    result = statuses(practice.registry, "breast-cancer-screening")
    assert result["inside"]["status"] == "due-soon"  # still met today, lapses today
    assert result["inside"]["due_date"] == AS_OF
    assert result["inside"]["last_code"] == "77067"
    assert result["outside"]["status"] == "open"
    assert result["outside"]["due_date"] == AS_OF - dt.timedelta(days=1)  # overdue since yesterday
    assert result["outside"]["last_date"] == first_day - dt.timedelta(days=1)


def test_mammogram_recorded_as_snomed_procedure_or_loinc_report_counts(practice):
    synthea = practice.patient("synthea", dob=dt.date(1960, 5, 1))
    report = practice.patient("report", dob=dt.date(1960, 5, 1))
    nothing = practice.patient("nothing", dob=dt.date(1960, 5, 1))
    practice.procedure(synthea, dt.date(2023, 6, 1), "71651007")
    practice.observation(report, dt.date(2023, 6, 1), "24606-6", value="BI-RADS 1")
    practice.observation(nothing, dt.date(2023, 6, 1), "8480-6", value=120)  # a blood pressure
    result = statuses(practice.registry, "breast-cancer-screening")
    assert result["synthea"]["status"] == "met"
    assert result["synthea"]["due_date"] == dt.date(2025, 9, 1)
    assert result["report"]["status"] == "met"
    assert result["report"]["last_value"] == "BI-RADS 1"
    assert result["nothing"]["status"] == "open"
    assert result["nothing"]["last_date"] is None
    assert result["nothing"]["due_date"] == AS_OF


def test_bilateral_mastectomy_excludes_from_breast_screening(practice):
    surgery = practice.patient("surgery", dob=dt.date(1960, 5, 1))
    history = practice.patient("history", dob=dt.date(1960, 5, 1))
    practice.procedure(surgery, dt.date(2015, 2, 1), "27865001")
    practice.condition(history, dt.date(2016, 1, 1), "Z90.13", system="ICD-10-CM")
    result = statuses(practice.registry, "breast-cancer-screening")
    assert result["surgery"]["status"] == "excluded"
    assert result["history"]["status"] == "excluded"
    assert result["history"]["due_date"] is None


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(0, "due-soon"), (30, "due-soon"), (60, "due-soon"), (61, "met"), (200, "met")],
)
def test_due_soon_window_is_60_days_by_default(practice, days_left, expected):
    woman = practice.patient("w", dob=dt.date(1960, 5, 1))
    due = AS_OF + dt.timedelta(days=days_left)
    practice.procedure(woman, months_before(due, 27), "77067", system="CPT")
    assert statuses(practice.registry, "breast-cancer-screening")["w"]["status"] == expected


def test_due_soon_window_can_be_changed(practice):
    woman = practice.patient("w", dob=dt.date(1960, 5, 1))
    practice.procedure(woman, months_before(AS_OF + dt.timedelta(days=90), 27), "77067", system="CPT")
    assert statuses(practice.registry, "breast-cancer-screening")["w"]["status"] == "met"
    assert statuses(practice.registry, "breast-cancer-screening", due_soon_days=120)["w"]["status"] == "due-soon"


def test_inactive_and_deceased_patients_have_no_gaps(practice):
    practice.patient("active", dob=dt.date(1960, 5, 1))
    practice.patient("inactive", dob=dt.date(1960, 5, 1), status="inactive")
    practice.patient("deceased", dob=dt.date(1960, 5, 1), status="deceased")
    assert set(statuses(practice.registry, "breast-cancer-screening")) == {"active"}


def test_events_after_the_as_of_date_are_ignored(practice):
    woman = practice.patient("w", dob=dt.date(1960, 5, 1))
    practice.procedure(woman, AS_OF + dt.timedelta(days=1), "77067", system="CPT")
    assert statuses(practice.registry, "breast-cancer-screening")["w"]["status"] == "open"
    practice.procedure(woman, dt.datetime.combine(AS_OF, dt.time(23, 59)), "77067", system="CPT")
    assert statuses(practice.registry, "breast-cancer-screening")["w"]["status"] == "met"


# --------------------------------------------------------------------------- cervical


def test_cervical_screening_ages_24_to_64(practice):
    # CMS124v12 Initial Population: women 24-64.
    practice.patient("turns-24-today", dob=years_before(AS_OF, 24))
    practice.patient("23", dob=years_before(AS_OF, 24) + dt.timedelta(days=1))
    practice.patient("21", dob=years_before(AS_OF, 21))
    practice.patient("64", dob=years_before(AS_OF, 65) + dt.timedelta(days=1))
    practice.patient("turns-65-today", dob=years_before(AS_OF, 65))
    practice.patient("man", dob=dt.date(1990, 1, 1), sex="M")
    assert set(statuses(practice.registry, "cervical-cancer-screening")) == {"turns-24-today", "64"}


def test_cytology_counts_for_three_years(practice):
    inside = practice.patient("inside", dob=dt.date(1990, 1, 1))
    outside = practice.patient("outside", dob=dt.date(1990, 1, 1))
    practice.observation(inside, years_before(AS_OF, 3), "10524-7", value="NILM")
    practice.observation(outside, years_before(AS_OF, 3) - dt.timedelta(days=1), "10524-7", value="NILM")
    result = statuses(practice.registry, "cervical-cancer-screening")
    assert result["inside"]["status"] == "due-soon"
    assert result["outside"]["status"] == "open"


def test_pap_procedure_codes_count(practice):
    snomed = practice.patient("snomed", dob=dt.date(1990, 1, 1))
    cpt = practice.patient("cpt", dob=dt.date(1990, 1, 1))
    practice.procedure(snomed, dt.date(2023, 1, 10), "90226004")
    practice.procedure(cpt, dt.date(2023, 1, 10), "88175", system="CPT")
    result = statuses(practice.registry, "cervical-cancer-screening")
    assert result["snomed"]["status"] == result["cpt"]["status"] == "met"
    assert result["cpt"]["due_date"] == dt.date(2026, 1, 10)


def test_hpv_test_counts_for_five_years_from_age_30_only(practice):
    at_35 = practice.patient("35", dob=years_before(AS_OF, 35))
    at_25 = practice.patient("25", dob=years_before(AS_OF, 25))
    lapsed = practice.patient("35-lapsed", dob=years_before(AS_OF, 35))
    four_years_ago = years_before(AS_OF, 4)
    practice.observation(at_35, four_years_ago, "30167-1", value="Negative")
    practice.observation(at_25, four_years_ago, "30167-1", value="Negative")
    practice.observation(lapsed, years_before(AS_OF, 5) - dt.timedelta(days=1), "30167-1", value="Negative")
    result = statuses(practice.registry, "cervical-cancer-screening")
    assert result["35"]["status"] == "met"
    assert result["35"]["due_date"] == years_before(AS_OF, -1)
    assert result["25"]["status"] == "open"
    assert result["35-lapsed"]["status"] == "open"


def test_hysterectomy_excludes_from_cervical_screening(practice):
    done = practice.patient("done", dob=dt.date(1980, 1, 1))
    practice.procedure(done, dt.date(2019, 4, 1), "58150", system="CPT")
    absent = practice.patient("absent", dob=dt.date(1980, 1, 1))
    practice.condition(absent, dt.date(2019, 4, 1), "Z90710", system="ICD10CM")  # written without its dot
    result = statuses(practice.registry, "cervical-cancer-screening")
    assert result["done"]["status"] == "excluded"
    assert result["absent"]["status"] == "excluded"


# --------------------------------------------------------------------------- colorectal


def test_colorectal_screening_ages_46_to_75(practice):
    # CMS130v12 Initial Population: 46-75.
    practice.patient("turns-46-today", dob=years_before(AS_OF, 46), sex="M")
    practice.patient("45", dob=years_before(AS_OF, 46) + dt.timedelta(days=1), sex="M")
    practice.patient("75", dob=years_before(AS_OF, 76) + dt.timedelta(days=1), sex="F")
    practice.patient("turns-76-today", dob=years_before(AS_OF, 76), sex="F")
    assert set(statuses(practice.registry, "colorectal-cancer-screening")) == {"turns-46-today", "75"}


@pytest.mark.parametrize(
    ("kind", "code", "system", "years"),
    [
        ("procedure", "73761001", "SNOMED", 10),  # colonoscopy (Synthea, demo)
        ("procedure", "45378", "CPT", 10),  # colonoscopy billed
        ("procedure", "G0121", "HCPCS", 10),
        ("procedure", "418714002", "SNOMED", 5),  # CT colonography (demo)
        ("procedure", "44441009", "SNOMED", 5),  # flexible sigmoidoscopy (demo)
        ("observation", "77354-9", "LOINC", 3),  # stool DNA (sDNA-FIT)
        ("observation", "29771-3", "LOINC", 1),  # FIT (demo)
        ("observation", "57905-2", "LOINC", 1),  # FIT (Synthea)
    ],
)
def test_colorectal_tests_count_for_their_own_look_back(practice, kind, code, system, years):
    inside = practice.patient("inside", dob=dt.date(1965, 7, 1), sex="M")
    outside = practice.patient("outside", dob=dt.date(1965, 7, 1), sex="M")
    first_day = years_before(AS_OF, years)
    record = practice.procedure if kind == "procedure" else practice.observation
    record(inside, first_day, code, system=system)
    record(outside, first_day - dt.timedelta(days=1), code, system=system)
    result = statuses(practice.registry, "colorectal-cancer-screening")
    assert result["inside"]["status"] == "due-soon"
    assert result["inside"]["last_code"] == code
    assert result["outside"]["status"] == "open"


def test_the_test_that_keeps_colorectal_screening_valid_longest_sets_the_due_date(practice):
    patient = practice.patient("p", dob=dt.date(1965, 7, 1), sex="M")
    practice.procedure(patient, dt.date(2020, 5, 1), "73761001")  # valid to 2030
    practice.observation(patient, dt.date(2024, 1, 10), "29771-3", value="Negative")  # valid to 2025
    row = statuses(practice.registry, "colorectal-cancer-screening")["p"]
    assert row["status"] == "met"
    assert row["due_date"] == dt.date(2030, 5, 1)
    assert row["last_code"] == "73761001"


def test_colorectal_cancer_or_total_colectomy_excludes(practice):
    cancer = practice.patient("cancer", dob=dt.date(1960, 1, 1))
    icd = practice.patient("icd", dob=dt.date(1960, 1, 1))
    colectomy = practice.patient("colectomy", dob=dt.date(1960, 1, 1))
    resolved = practice.patient("resolved-long-ago", dob=dt.date(1960, 1, 1))
    practice.condition(cancer, dt.date(2018, 1, 1), "363406005")
    practice.condition(icd, dt.date(2018, 1, 1), "C18.9", system="ICD-10-CM")
    practice.procedure(colectomy, dt.date(2018, 1, 1), "44150", system="CPT")
    practice.condition(resolved, dt.date(2010, 1, 1), "363406005", resolved=dt.date(2012, 1, 1))
    result = statuses(practice.registry, "colorectal-cancer-screening")
    assert {k: v["status"] for k, v in result.items()} == {
        "cancer": "excluded",
        "icd": "excluded",
        "colectomy": "excluded",
        "resolved-long-ago": "excluded",  # a history of colorectal cancer excludes for good
    }


def test_a_cancer_diagnosed_after_the_as_of_date_does_not_exclude(practice):
    later = practice.patient("later", dob=dt.date(1960, 1, 1))
    practice.condition(later, AS_OF + dt.timedelta(days=1), "363406005")
    assert statuses(practice.registry, "colorectal-cancer-screening")["later"]["status"] == "open"
