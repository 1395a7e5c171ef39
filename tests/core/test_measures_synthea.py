"""Care gaps on the shared Synthea sample (27 patients), as of 2024-02-03.

The expected statuses were worked out by hand from the CSV files, independently of
the engine: a short pandas script read patients.csv (age on 2024-02-03, deaths),
immunizations.csv (CVX 140 on or after 2023-08-01), procedures.csv (colonoscopy
73761001 within 10 years), conditions.csv (diabetes / hypertension codes, STOP empty)
and observations.csv (HbA1c 4548-4; the lowest 8480-6 and 8462-4 on the latest day
with a systolic reading in the 12 months before). The patients checked are named
below by their Synthea id and name.
"""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core.importers import run_import
from panelmanager.core.measures import evaluate_measures

pytestmark = pytest.mark.shared_data

AS_OF = dt.date(2024, 2, 3)

JETTA = "3a2fa41c-32a1-ca99-ecd8-fdacae38fc3e"  # Jetta DuBuque, F, 60
AMOS = "280ee8b5-6ebb-11cf-e4db-8cf101827ec7"  # Amos Pacocha, M, 50, hypertension
LEWIS = "319af005-46b9-f635-79dd-ec44d34a8c23"  # Lewis Zulauf, M, 74
ROMONA = "d1abe87e-9e6a-ad7e-7bcc-e9edf404a8e7"  # Romona Ankunding, F, 35, never vaccinated
TRISH = "6cf3d1b9-4d5e-8bb3-51f4-e047a6386c38"  # Trish Ryan, born 2024-01-03
CATHEY = "bdf24b75-bb30-509a-58ae-03a793239a32"  # Cathey Reynolds, F, 58
JARVIS = "1cd7cc0a-2e2a-c167-1207-cad02d69328e"  # Jarvis Miller, M, 55
DEWEY = "38ddd8f0-92c9-be23-af25-de672103903b"  # Dewey Moen, M, 46
JACKIE = "1d3d16ce-a3a4-5e9e-1b4d-58a391895443"  # Jackie Okuneva, F, 27
LAVONDA = "5a595dfb-9ecf-d4ac-2893-b3e1ced04951"  # Lavonda Conroy, F, 36, hypertension
CALEB = "5f8d3e13-bc80-dd66-0f1b-d24f9692a697"  # Caleb Pagac, M, 52, hypertension, HbA1c but no diabetes
FREDRIC = "97a9452d-5e50-ce0c-be14-b3b6059348f8"  # Fredric Gleichner, M, 38, hypertension
JEANNINE = "9e886a7a-8005-c51c-1c8a-80fd103ec297"  # Jeannine Jaskolski, F, 68, hypertension
GENE = "261ad2a4-7c6f-da54-6a5b-3441beab9a6a"  # Gene Mann, died 1976


_EVALUATED: dict = {}


@pytest.fixture
def results(synthea_small, tmp_path_factory):
    """{measure: {mrn: row}}; the import and evaluation run once for the whole module."""
    if synthea_small not in _EVALUATED:
        _EVALUATED[synthea_small] = _evaluate(synthea_small, tmp_path_factory)
    return _EVALUATED[synthea_small]


def _evaluate(synthea_small, tmp_path_factory):
    from panelmanager.core.db import open_registry

    registry = open_registry(tmp_path_factory.mktemp("synthea") / "registry.sqlite3", create=True)
    try:
        outcomes = run_import(registry, [synthea_small], write_rejects=False)
        assert outcomes[0].ok, outcomes[0].error
        with registry.session() as session:
            frame = evaluate_measures(session, AS_OF)
    finally:
        registry.close()
    table: dict[str, dict[str, dict]] = {}
    for row in frame.to_dict(orient="records"):
        table.setdefault(row["measure"], {})[row["mrn"]] = row
    return table


def _day(value):
    return None if value is None or value != value else value.date()


def test_influenza_this_season(results):
    flu = results["influenza-immunization"]
    assert flu[JETTA]["status"] == "met" and _day(flu[JETTA]["last_date"]) == dt.date(2023, 8, 11)
    assert flu[CATHEY]["status"] == "met" and _day(flu[CATHEY]["last_date"]) == dt.date(2024, 1, 14)
    assert flu[AMOS]["status"] == "open" and _day(flu[AMOS]["last_date"]) == dt.date(2023, 6, 18)  # last season
    assert flu[LEWIS]["status"] == "open" and _day(flu[LEWIS]["last_date"]) == dt.date(2023, 4, 9)
    assert flu[ROMONA]["status"] == "open" and _day(flu[ROMONA]["last_date"]) is None
    assert TRISH not in flu  # one month old
    assert GENE not in flu  # deceased
    assert len(flu) == 24 and sum(r["status"] == "met" for r in flu.values()) == 13


def test_colorectal_screening(results):
    crc = results["colorectal-cancer-screening"]
    assert crc[JETTA]["status"] == "met" and _day(crc[JETTA]["due_date"]) == dt.date(2033, 6, 14)
    assert crc[JARVIS]["status"] == "met" and _day(crc[JARVIS]["last_date"]) == dt.date(2023, 9, 27)
    assert crc[AMOS]["status"] == "met" and crc[AMOS]["last_code"] == "73761001"
    assert crc[LEWIS]["status"] == "open"
    assert crc[DEWEY]["status"] == "open"
    assert JACKIE not in crc  # 27
    assert len(crc) == 10 and sum(r["status"] == "met" for r in crc.values()) == 3


def test_no_one_in_the_sample_has_diabetes(results):
    # conditions.csv holds prediabetes (15777000) but no diabetes code, so the HbA1c
    # measure has no eligible patient, even those with HbA1c results (Caleb: 5.9, 6.2, 6.3).
    assert results.get("diabetes-a1c-poor-control", {}) == {}


def test_blood_pressure_control(results):
    bp = results["controlling-bp"]
    assert set(bp) == {LAVONDA, AMOS, CALEB, FREDRIC, JEANNINE, "61cd0a27-0dc6-dab3-1432-93e5f02bf3a3"}
    assert (bp[LAVONDA]["status"], bp[LAVONDA]["last_value"]) == ("open", "148/113")
    assert _day(bp[LAVONDA]["last_date"]) == dt.date(2023, 10, 11)
    assert (bp[AMOS]["status"], bp[AMOS]["last_value"]) == ("met", "104/81")
    assert _day(bp[AMOS]["due_date"]) == dt.date(2024, 6, 18)
    assert (bp[CALEB]["status"], bp[CALEB]["last_value"]) == ("met", "111/81")
    assert (bp[FREDRIC]["status"], bp[FREDRIC]["last_value"]) == ("met", "119/72")
    assert (bp[JEANNINE]["status"], bp[JEANNINE]["last_value"]) == ("met", "107/77")
