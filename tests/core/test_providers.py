"""Issue 9 item 5: scheduler user names mapped to real providers (merge, rename, NPI, specialty,
can hold a panel), remembered by later imports, and a plain message when no one holds a panel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.empanelment import assignment_history, build_review
from panelmanager.core.importers import run_import
from panelmanager.core.providers import (
    ProviderMergeError,
    find_provider,
    list_providers,
    merge_providers,
    npi_is_valid,
    panel_holder_problem,
    update_provider,
)

HEADER = (
    "patientid,patient firstname,patient lastname,patientdob,patientsex,appointmentid,apptdate,apptstarttime,"
    "appttype,apptstatus,appt schdlng prvdr\n"
)
ROWS = (
    "1001,MARIA,GARCIA,04/12/1975,F,50001,01/15/2024,09:30 AM,ANNUAL PHYSICAL,4,GC_Klein_S\n"
    "1001,MARIA,GARCIA,04/12/1975,F,50002,06/20/2024,02:15 PM,FOLLOW UP,4,KLEINS\n"
    "1002,JOHN,OBRIEN,01/02/1950,M,50003,03/01/2024,10:00 AM,FOLLOW UP,4,KLEINS\n"
    "1003,ANN,LEE,07/07/2001,F,50004,05/01/2024,08:00 AM,SICK VISIT,4,GC_Park_B\n"
)
AS_OF = dt.date(2024, 12, 31)
NPI = "1234567893"


@pytest.fixture
def athena(fresh_registry, tmp_path: Path):
    path = tmp_path / "athena.csv"
    path.write_text("Appointments Report\n" + HEADER + ROWS, encoding="utf-8")
    [outcome] = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok and outcome.tables["providers"]["new"] == 3
    fresh_registry.csv = path
    return fresh_registry


def _ids(session) -> dict[str, int]:
    return {r.external_id: r.id for r in list_providers(session, include_merged=True)}


def test_user_names_cannot_hold_a_panel_and_the_message_says_where_to_fix_it(athena):
    with athena.session() as session:
        problem = panel_holder_problem(session)
        rows = {r["patient"]: r for r in build_review(session, as_of=AS_OF, user="t").rows()}
    assert problem.startswith("No provider can hold a panel: none of the 3 providers")
    assert "3 of them look like scheduler user names (GC_Klein_S, GC_Park_B, Kleins)" in problem
    assert problem.endswith("Fix it in Settings > Providers (or: panelmanager providers list / merge / set).")
    assert {r["change"] for r in rows.values()} == {"unassigned"}


def test_rename_and_merge_map_user_names_to_one_clinician_who_holds_a_panel(athena):
    with athena.session() as session:
        ids = _ids(session)
        klein = update_provider(session, ids["GC_KLEIN_S"], display_name="Sarah Klein, MD", npi=NPI,
                                specialty="family practice")
        assert (klein.display_name, klein.npi, klein.specialty, klein.holds_panel) == (
            "Sarah Klein, MD", NPI, "FAMILY PRACTICE", True)
        result = merge_providers(session, ids["GC_KLEIN_S"], [ids["KLEINS"]], user="manager")
        assert result.moved["visits.provider_id"] == 2 and result.merged == [(ids["KLEINS"], "Kleins")]
        assert panel_holder_problem(session) is None
        visible = {r.external_id: r for r in list_providers(session)}
        assert set(visible) == {"GC_KLEIN_S", "GC_PARK_B"}
        assert visible["GC_KLEIN_S"].also_known_as == ["KLEINS"]
        visits = session.execute(select(m.Visit.external_id, m.Visit.provider_id).order_by(m.Visit.external_id)).all()
        assert {v for _, v in visits[:3]} == {ids["GC_KLEIN_S"]}
        rows = {r["patient"]: r for r in build_review(session, as_of=AS_OF, user="t").rows()}
    assert (rows["1001"]["provider"], rows["1001"]["cut"]) == ("GC_KLEIN_S", 1)
    assert rows["1002"]["provider"] == "GC_KLEIN_S"


def test_a_later_import_of_the_same_user_name_lands_on_the_mapped_provider(athena, tmp_path):
    with athena.session() as session:
        ids = _ids(session)
        merge_providers(session, ids["GC_KLEIN_S"], [ids["KLEINS"]])
    later = tmp_path / "athena-later.csv"
    later.write_text(HEADER + "1002,JOHN,OBRIEN,01/02/1950,M,50009,11/01/2024,10:00 AM,FOLLOW UP,4,KLEINS\n", encoding="utf-8")
    [outcome] = run_import(athena, [later], write_rejects=False)
    assert outcome.ok and outcome.tables["providers"]["new"] == 0
    [again] = run_import(athena, [athena.csv], write_rejects=False)
    assert again.tables["providers"]["new"] == 0
    with athena.session() as session:
        provider = session.scalar(select(m.Visit.provider_id).where(m.Visit.external_id == "50009"))
        assert provider == ids["GC_KLEIN_S"]
        assert session.scalar(select(func.count()).select_from(m.Visit).where(m.Visit.provider_id == ids["KLEINS"])) == 0
        assert len(list_providers(session)) == 2
    [third] = run_import(athena, [athena.csv], write_rejects=False)
    assert third.tables["visits"]["updated"] == 0  # once rewritten, re-imports change nothing


def test_merging_moves_panels_with_history_and_keeps_confirmations(athena):
    from panelmanager.core.empanelment import reassign_patient

    with athena.session() as session:
        ids = _ids(session)
        update_provider(session, ids["KLEINS"], can_hold_panel=True)
        patient = session.scalar(select(m.Patient.id).where(m.Patient.mrn == "1002"))
        reassign_patient(session, patient, ids["KLEINS"], user="desk", as_of=AS_OF, reason="asked")
        merge_providers(session, ids["GC_KLEIN_S"], [ids["KLEINS"]], user="manager", today=AS_OF)
        assert session.scalar(select(m.Assignment.provider_id).where(m.Assignment.patient_id == patient)) == ids["GC_KLEIN_S"]
        last = assignment_history(session, patient)[-1]
    assert last.reason == "Provider merged: Kleins is GC_Klein_S"
    assert last.user == "manager"


def test_bad_merges_and_values_are_refused(athena):
    with athena.session() as session:
        ids = _ids(session)
        with pytest.raises(ProviderMergeError, match="at least one provider"):
            merge_providers(session, ids["KLEINS"], [ids["KLEINS"]])
        merge_providers(session, ids["GC_KLEIN_S"], [ids["KLEINS"]])
        with pytest.raises(ProviderMergeError, match="was itself merged into GC_Klein_S"):
            merge_providers(session, ids["KLEINS"], [ids["GC_PARK_B"]])
        with pytest.raises(ValueError, match="not a valid NPI"):
            update_provider(session, ids["GC_PARK_B"], npi="1234567890")
        with pytest.raises(ValueError, match="needs a name"):
            update_provider(session, ids["GC_PARK_B"], display_name="  ")
        assert find_provider(session, "gc_park_b").id == ids["GC_PARK_B"]
        with pytest.raises(ValueError, match="There is no provider 'nobody'"):
            find_provider(session, "nobody")


def test_npi_check_digit():
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567890") and not npi_is_valid("12345")
