"""The core entry points the CLI and the screens share (issue 11): one provider lookup, one patient
lookup, one review by id, the panel overview, and one outreach run that writes and logs documents."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from outreach_practice import AS_OF, COLON, build_outreach_practice
from pypdf import PdfReader
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.capacity import panel_overview
from panelmanager.core.empanelment import EmpanelmentError, build_review
from panelmanager.core.outreach import OutreachError, OutreachFilters, build_outreach_list
from panelmanager.core.outreach_patients import outreach_patients
from panelmanager.core.outreach_run import mailing_count, outreach_time, record_outreach, run_outreach
from panelmanager.core.patients import PatientNotFound, find_patient
from panelmanager.core.providers import ProviderNotFound, find_provider
from panelmanager.core.reviews import get_review, latest_review_id


def _log_rows(session):
    o = m.OutreachLog
    return session.execute(select(o.patient_id, o.method, o.document, o.batch, o.user).order_by(o.id)).all()


# --------------------------------------------------------------------------- lookups


def test_find_provider_by_id_pm_id_npi_name_and_name_part(fresh_registry):
    with fresh_registry.session() as session:
        ids = build_outreach_practice(session)
        assert find_provider(session, str(ids["ana"])).id == ids["ana"]
        assert find_provider(session, "P2").id == ids["ben"]
        assert find_provider(session, "1234567893").id == ids["ana"]
        assert find_provider(session, "ben brown, np").id == ids["ben"]
        with pytest.raises(ProviderNotFound, match="There is no provider 'Brown'"):
            find_provider(session, "Brown")  # a part of the name only when asked for
        assert find_provider(session, "Brown", name_part=True).id == ids["ben"]
        with pytest.raises(ProviderNotFound, match="matches 2 providers"):
            find_provider(session, "n", name_part=True)
        with pytest.raises(ProviderNotFound, match="There is no provider with id or NPI 'Zed'"):
            find_provider(session, "Zed", name_part=True)
        with pytest.raises(ValueError):  # callers that catch ValueError keep working
            find_provider(session, "Zed")


def test_find_patient_by_mrn_and_by_search_text(fresh_registry):
    with fresh_registry.session() as session:
        ids = build_outreach_practice(session)
        assert find_patient(session, " M2 ").id == ids["rosa"]
        with pytest.raises(PatientNotFound, match="There is no patient with MRN 'Cole'"):
            find_patient(session, "Cole")  # MRN only unless a search is asked for
        assert find_patient(session, "Cole", search=True).id == ids["nina"]
        with pytest.raises(PatientNotFound, match="matches several patients"):
            find_patient(session, "R", search=True)


def test_get_review_reads_one_review_with_its_pending_count(fresh_registry):
    with fresh_registry.session() as session:
        build_outreach_practice(session)
        assert latest_review_id(session) is None
        summary = build_review(session, as_of=AS_OF, user="tester")
        info = get_review(session, summary.review_id)
        assert latest_review_id(session) == summary.review_id
        assert (info.id, info.as_of, info.status, info.created_by) == (summary.review_id, AS_OF, "open", "tester")
        assert info.new == summary.new and info.pending == summary.new + summary.changes + summary.drops + summary.unassigned
        with pytest.raises(EmpanelmentError, match=f"no review {summary.review_id + 1}"):
            get_review(session, summary.review_id + 1)


def test_panel_overview_is_capacity_continuity_and_unassigned_visitors(fresh_registry):
    with fresh_registry.session() as session:
        ids = build_outreach_practice(session)
        overview = panel_overview(session, AS_OF)
        lean = panel_overview(session, AS_OF, with_unassigned=False)
    assigned = {r.provider_id: r.assigned for r in overview.rows}
    assert assigned[ids["ana"]] == 2 and assigned[ids["ben"]] == 1
    assert [v.mrn for v in overview.unassigned] == ["M4"] and lean.unassigned is None
    assert set(overview.shares) >= {ids["ana"]} and overview.visits_per_patient_year > 0 and overview.basis
    assert overview.as_of == AS_OF


# --------------------------------------------------------------------------- one outreach run


def test_run_outreach_writes_every_document_and_logs_one_batch(fresh_registry, tmp_path):
    letters, labels, calls, portal = (tmp_path / n for n in ("l.pdf", "lab.pdf", "calls.csv", "portal.csv"))
    with fresh_registry.session() as session:
        ids = build_outreach_practice(session)
        run = run_outreach(session, AS_OF, OutreachFilters(measure_ids=(COLON,)), letters=letters, labels=labels,
                           calls=calls, portal=portal, user="maria", when=dt.datetime(2024, 3, 1, 10))
        rows = _log_rows(session)
    assert run.patients == 4 and run.letters.letters == 3 and run.labels.items == 3  # Ruth has no address
    assert [s[0] for s in run.letters.skipped] == [ids["ruth"]]
    assert run.calls.items == 4 and run.portal.items == 4 and run.text is None
    assert letters.exists() and labels.exists() and calls.exists() and portal.exists()
    # one batch; letters and their labels logged once, as letters+labels; the call list not at all
    assert {r.batch for r in rows} == {run.logged.batch} and run.logged.rows == len(rows) == 7
    assert sorted({(r.method, r.document) for r in rows}) == [("letter", "letters+labels"), ("portal", "portal-export")]
    assert {r.user for r in rows} == {"maria"} and run.logged.patients == 4
    assert run.logged.documents == ("letters+labels", "portal-export")


def test_a_preview_run_logs_nothing_until_recorded(fresh_registry):
    with fresh_registry.session() as session:
        build_outreach_practice(session)
        outreach = build_outreach_list(session, AS_OF, OutreachFilters(measure_ids=(COLON,)))
        assert mailing_count(outreach, outreach_patients(outreach), one_per_gap=False) == 3
        buffer = io.BytesIO()
        run = run_outreach(session, outreach=outreach, labels=buffer, label_start=29, log=False)
        assert run.logged is None and _log_rows(session) == []
        assert run.label_start == 29 and len(PdfReader(buffer).pages) == 2
        when = outreach_time(AS_OF, dt.datetime(2030, 1, 1, 8, 30, 15, 999))
        logged = record_outreach(session, [run.labels], user="joe", when=when)
        rows = _log_rows(session)
    assert when == dt.datetime(2024, 3, 1, 8, 30, 15)
    assert {(r.method, r.document, r.batch) for r in rows} == {("letter", "labels", logged.batch)}
    assert logged.rows == 3 and logged.batch.startswith("20240301-083015-")


def test_run_outreach_refuses_bad_input_with_a_message(fresh_registry):
    with fresh_registry.session() as session:
        build_outreach_practice(session)
        with pytest.raises(OutreachError, match="letters exist in en, es"):
            run_outreach(session, AS_OF, OutreachFilters(measure_ids=(COLON,), language="fr"), letters=io.BytesIO())
        with pytest.raises(OutreachError, match="label start"):
            run_outreach(session, AS_OF, OutreachFilters(measure_ids=(COLON,)), labels=io.BytesIO(), label_start=31)
        with pytest.raises(OutreachError, match="filters"):
            run_outreach(session, AS_OF, letters=io.BytesIO())
        assert _log_rows(session) == []
