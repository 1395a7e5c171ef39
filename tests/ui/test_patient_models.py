"""PatientTableModel and ScheduleTableModel without a window: ids from SQL, rows fetched by page,
sorting in SQL, the list's extra columns, and the schedule's status texts, colours and gap counts."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from panelmanager.core.patient_view import UNASSIGNED, PatientFilters
from panelmanager.core.risk import override_risk_tier
from panelmanager.core.schedule import day_schedule
from panelmanager.core.settings import load_settings, save_settings
from panelmanager.ui.models import base
from panelmanager.ui.models.patients import PatientTableModel, list_columns, search_columns
from panelmanager.ui.models.schedule import STATUS_COLOURS, ScheduleTableModel

DAY = dt.date(2024, 3, 4)
DISPLAY = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def ctx(qapp, fresh_registry, clinic_ids):
    from panelmanager.ui.context import AppContext

    ids = clinic_ids
    with fresh_registry.session() as session:
        settings = load_settings(session)
        settings.as_of_override = DAY
        save_settings(session, settings)
    context = AppContext(fresh_registry)
    context.ids = ids
    return context


def _column(model, key: str) -> int:
    return next(i for i, c in enumerate(model.columns) if c.key == key)


def _texts(model, key: str) -> list[str]:
    column = _column(model, key)
    return [model.data(model.index(r, column), DISPLAY) for r in range(model.rowCount())]


def test_filters_run_one_sql_query_and_rows_show_pcp_and_status(ctx):
    model = PatientTableModel(ctx, columns=list_columns())
    model.set_filters(PatientFilters())
    assert _texts(model, "mrn") == ["P3", "P4", "P2", "P1", "P5"]
    assert _texts(model, "pcp") == ["Unassigned", "Dr. Ann Lee", "Dr. Ann Lee", "Dr. Ann Lee", "Dr. Bo Park"]
    assert _texts(model, "confirmed_text") == ["", "not yet", "patient", "not yet", "not yet"]
    assert _texts(model, "tier_text") == [""] * 5  # no tiers computed for the as-of date yet
    # An unassigned patient's PCP cell is red, with a tooltip.
    pcp = _column(model, "pcp")
    assert model.data(model.index(0, pcp), Qt.ItemDataRole.ForegroundRole).name() == "#b3261e"
    assert model.data(model.index(0, pcp), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(1, pcp), Qt.ItemDataRole.ForegroundRole) is None

    model.update_filters(provider_id=UNASSIGNED)
    assert _texts(model, "mrn") == ["P3"]
    model.update_filters(provider_id=None, text="smith", statuses=None)
    assert _texts(model, "name") == ["Smith, Alice", "Smith, Fay", "Smithers, Eve"]
    assert _texts(model, "status") == ["active", "inactive", "active"]


def test_sorting_reruns_the_query_in_sql(ctx):
    model = PatientTableModel(ctx, columns=list_columns())
    model.set_filters(PatientFilters())
    model.sort(_column(model, "dob"), Qt.SortOrder.DescendingOrder)
    assert _texts(model, "mrn") == ["P3", "P2", "P4", "P1", "P5"]
    model.sort(_column(model, "sex"))  # not sortable: order unchanged
    assert _texts(model, "mrn") == ["P3", "P2", "P4", "P1", "P5"]
    model.update_filters(text="s")  # the sort stays while filters change
    assert _texts(model, "mrn") == ["P1", "P5"]


def test_rows_are_fetched_a_page_at_a_time(ctx, monkeypatch):
    monkeypatch.setattr(base, "PAGE", 2)
    calls = []
    model = PatientTableModel(ctx, columns=search_columns())
    original = model._fetch

    def counting(ids):
        calls.append(list(ids))
        return original(ids)

    model._fetch = counting
    model.set_filters(PatientFilters())
    assert model.rowCount() == 5 and calls == []  # ids only until a row is shown
    model.data(model.index(0, 0), DISPLAY)
    model.data(model.index(1, 0), DISPLAY)
    assert len(calls) == 1 and len(calls[0]) == 2
    model.data(model.index(4, 0), DISPLAY)
    assert len(calls) == 2 and len(calls[1]) == 1


def test_risk_tier_column_marks_an_override(ctx):
    from panelmanager.core.patient_view import refresh_caches

    with ctx.registry.session() as session:
        refresh_caches(session, DAY)
        override_risk_tier(session, ctx.ids["carol"], 4, "Frail, lives alone", "nurse")
    model = PatientTableModel(ctx, columns=list_columns())
    model.set_filters(PatientFilters(tier=4))
    assert _texts(model, "mrn") == ["P3"]
    tier = _column(model, "tier_text")
    assert model.data(model.index(0, tier), DISPLAY) == "4 Complex*"
    assert "override" in model.data(model.index(0, tier), Qt.ItemDataRole.ToolTipRole)
    model.set_filters(PatientFilters(gap_measure="pneumococcal-65"))
    assert _texts(model, "mrn") == ["P1"]
    assert int(_texts(model, "gaps_text")[0]) >= 1


def test_schedule_model_shows_status_colours_and_gap_counts(ctx):
    with ctx.registry.session() as session:
        frame = day_schedule(session, DAY)
    model = ScheduleTableModel()
    model.set_schedule(frame, DAY)
    assert _texts(model, "time") == ["09:00", "09:20", "09:40", "10:00"]
    assert _texts(model, "status_text") == ["Not confirmed", "Confirmed", "No PCP", "Other PCP"]
    assert _texts(model, "pcp") == ["Dr. Ann Lee", "Dr. Ann Lee", "—", "Dr. Ann Lee"]
    assert _texts(model, "gaps") == ["…"] * 4  # not looked up yet
    status = _column(model, "status_text")
    colours = [model.data(model.index(r, status), Qt.ItemDataRole.ForegroundRole).name() for r in range(4)]
    assert colours == [STATUS_COLOURS[s] for s in ("unconfirmed", "confirmed", "unassigned", "other")]
    assert "Dr. Bo Park" in model.data(model.index(3, status), Qt.ItemDataRole.ToolTipRole)

    ids = ctx.ids
    model.set_gap_counts({ids["alice"]: (2, 1), ids["bob"]: (0, 0), ids["carol"]: (1, 0)})
    assert _texts(model, "gaps") == ["2 +1", "0", "1", "…"]
    assert model.data(model.index(0, 0), ScheduleTableModel.ID_ROLE) == ids["alice"]
    assert model.row_of_visit(model.data(model.index(2, 0), ScheduleTableModel.VISIT_ROLE)) == 2
    assert model.status_counts() == {"unconfirmed": 1, "confirmed": 1, "unassigned": 1, "other": 1}

    model.sort(status)  # most urgent first: no PCP, other PCP, not confirmed, confirmed
    assert _texts(model, "status_text") == ["No PCP", "Other PCP", "Not confirmed", "Confirmed"]
    model.sort(_column(model, "gaps"), Qt.SortOrder.DescendingOrder)
    assert _texts(model, "gaps")[:2] == ["2 +1", "1"]


def test_schedule_model_says_when_the_patient_declined_today(ctx):
    from panelmanager.core.empanelment import confirm_assignment

    with ctx.registry.session() as session:
        confirm_assignment(session, ctx.ids["alice"], by="patient", outcome="declined", method="check-in", user="desk", as_of=DAY)
        frame = day_schedule(session, DAY)
    model = ScheduleTableModel()
    model.set_schedule(frame, DAY)
    assert _texts(model, "status_text")[0] == "Not confirmed · declined today"
    assert _texts(model, "status_text")[1] == "Confirmed"  # Bob confirmed in January: nothing added
