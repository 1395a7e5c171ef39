"""Table models of the Panels and Dashboard screens, without a window."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from panelmanager.core import models as m  # noqa: E402
from panelmanager.core.capacity import panel_capacity  # noqa: E402
from panelmanager.core.empanelment import accept_review_items, build_review, reject_review_items  # noqa: E402
from panelmanager.ui.models.base import Column  # noqa: E402
from panelmanager.ui.models.dashboard import GapPatientTableModel, MeasureGridModel  # noqa: E402
from panelmanager.ui.models.panels import CapacityTableModel, RecordTableModel, ReviewItemTableModel  # noqa: E402
from panelmanager.ui.widgets.charts import GREEN_BG, NEUTRAL_BG, PERCENT_ROLE, RED_BG  # noqa: E402

AS_OF = dt.date(2024, 5, 1)
DISPLAY = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def ctx(qapp, fresh_registry):
    from panelmanager.ui.context import AppContext

    return AppContext(fresh_registry)


def _clinic(registry):
    """Dr. Lee sees Adams and Brown, Dr. Park sees Clark; Dean has no visit."""
    visits = itertools.count(1)
    with registry.session() as s:
        lee = m.Provider(source="pm", external_id="LEE", display_name="Dr. Ann Lee", specialty="FAMILY PRACTICE")
        park = m.Provider(source="pm", external_id="PARK", display_name="Dr. Bo Park", specialty="FAMILY PRACTICE")
        s.add_all([lee, park])
        s.flush()
        ids = {}
        for mrn, last, doctor in (("M1", "Adams", lee), ("M2", "Brown", lee), ("M3", "Clark", park), ("M4", "Dean", None)):
            p = m.Patient(mrn=mrn, source="pm", first_name="Pat", last_name=last, dob=dt.date(1970, 1, 1), sex="F")
            s.add(p)
            s.flush()
            ids[last] = p.id
            if doctor is not None:
                s.add(
                    m.Visit(
                        patient_id=p.id, provider_id=doctor.id, source="pm", external_id=f"v{next(visits)}",
                        start=dt.datetime(2024, 1, 10, 9), visit_class="ambulatory", status="completed",
                    )
                )
        s.flush()
        review_id = build_review(s, as_of=AS_OF, user="mgr").review_id
        return review_id, ids, lee.id, park.id


def _texts(model, column: int) -> list[str]:
    return [model.data(model.index(r, column), DISPLAY) for r in range(model.rowCount())]


# --------------------------------------------------------------------------- review items


def test_review_item_model_filters_sorts_and_labels(ctx, fresh_registry):
    review_id, ids, lee, park = _clinic(fresh_registry)
    model = ReviewItemTableModel(ctx)
    assert model.rowCount() == 0  # no review chosen yet
    model.set_filter(review_id, ("new", "change", "drop"), ("pending",))
    assert _texts(model, 1) == ["Adams, Pat", "Brown, Pat", "Clark, Pat"]
    assert set(_texts(model, 0)) == {"New"}
    assert _texts(model, 3) == ["(no panel)"] * 3
    assert _texts(model, 4) == ["Dr. Ann Lee", "Dr. Ann Lee", "Dr. Bo Park"]
    assert _texts(model, 5)[0] == "1: only provider seen"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole) is not None

    model.sort(4, Qt.SortOrder.DescendingOrder)  # "Proposed", in SQL
    assert _texts(model, 4) == ["Dr. Bo Park", "Dr. Ann Lee", "Dr. Ann Lee"]

    model.set_filter(review_id, ("unassigned",), None)
    assert _texts(model, 1) == ["Dean, Pat"]
    assert _texts(model, 7) == ["For information"]
    assert _texts(model, 4) == ["(no qualifying visit)"]


def test_review_item_model_shows_decisions_after_they_are_made(ctx, fresh_registry):
    review_id, ids, lee, park = _clinic(fresh_registry)
    model = ReviewItemTableModel(ctx)
    model.set_filter(review_id, ("new",), ("pending",))
    first, second = model.id_at(0), model.id_at(1)
    with fresh_registry.session() as s:
        accept_review_items(s, review_id, [first], user="mgr")
        reject_review_items(s, review_id, [second], user="mgr")
    model.reload()
    assert model.rowCount() == 1
    model.set_filter(review_id, ("new",), ("accepted", "rejected"))
    assert dict(zip(_texts(model, 1), _texts(model, 7))) == {"Adams, Pat": "Accepted", "Brown, Pat": "Rejected"}


# --------------------------------------------------------------------------- capacity


def test_capacity_model_shows_figures_and_saves_the_open_switch(ctx, fresh_registry):
    review_id, ids, lee, park = _clinic(fresh_registry)
    with fresh_registry.session() as s:
        accept_review_items(s, review_id, user="mgr")
        rows = panel_capacity(s, AS_OF)
    model = CapacityTableModel(ctx)
    model.set_rows(rows, {lee: 1.0, park: None})
    row = model.row_of(lee)
    assert model.data(model.index(row, model.column_of("name")), DISPLAY) == "Dr. Ann Lee"
    assert model.data(model.index(row, model.column_of("assigned")), DISPLAY) == "2"
    assert model.data(model.index(row, model.column_of("continuity")), DISPLAY) == "100%"
    percent = model.data(model.index(row, model.column_of("percent_of_target")), PERCENT_ROLE)
    assert percent == rows[row].percent_of_target and percent > 0
    assert model.data(model.index(model.row_of(park), model.column_of("continuity")), DISPLAY) == ""

    open_index = model.index(row, model.column_of("open"))
    assert model.data(open_index, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.flags(open_index) & Qt.ItemFlag.ItemIsUserCheckable
    changed = []
    model.open_changed.connect(lambda pid, is_open: changed.append((pid, is_open)))
    assert model.setData(open_index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.data(open_index, DISPLAY) == "Closed"
    assert changed == [(lee, False)]
    with fresh_registry.session() as s:
        assert s.get(m.Provider, lee).panel_open is False
        assert s.get(m.Provider, park).panel_open is True
    # Setting the same state again writes nothing and says nothing.
    assert not model.setData(open_index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert changed == [(lee, False)]


# --------------------------------------------------------------------------- in-memory records


def test_record_model_sorts_with_empty_values_last():
    model = RecordTableModel([Column("name", "Name", "name"), Column("last", "Last", "last"), Column("n", "N")])
    model.set_rows(
        [
            {"patient_id": 1, "name": "brown", "last": dt.date(2024, 1, 2), "n": 3},
            {"patient_id": 2, "name": "Adams", "last": None, "n": 1200},
            {"patient_id": 3, "name": "clark", "last": dt.date(2023, 5, 1), "n": 2.5},
        ]
    )
    model.sort(0)
    assert _texts(model, 0) == ["Adams", "brown", "clark"]
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert model.ids() == [3, 1, 2]
    assert _texts(model, 1) == ["2023-05-01", "2024-01-02", ""]
    assert _texts(model, 2) == ["2.5", "3", "1,200"]
    model.sort(2)  # not sortable: order unchanged
    assert model.ids() == [3, 1, 2]
    # New rows keep the chosen order.
    model.set_rows([{"patient_id": 9, "name": "z", "last": dt.date(2020, 1, 1), "n": 0}, *model.rows()])
    assert model.ids()[0] == 9 and model.row_of(1) == 2


# --------------------------------------------------------------------------- dashboard grid


def _rates():
    by_provider = pd.DataFrame(
        [
            # measure, title, provider_id, provider, denominator, numerator, rate, inverse, open, due_soon
            ("bcs", "Breast cancer screening", 1, "Dr. Ann Lee", 10, 7, 0.7, False, 3, 0),
            ("bcs", "Breast cancer screening", 2, "Dr. Bo Park", 10, 4, 0.4, False, 6, 1),
            ("bcs", "Breast cancer screening", None, "Unassigned", 5, 1, 0.2, False, 4, 0),
            ("a1c", "HbA1c poor control", 1, "Dr. Ann Lee", 4, 1, 0.25, True, 1, 0),
            ("a1c", "HbA1c poor control", 2, "Dr. Bo Park", 4, 3, 0.75, True, 3, 0),
        ],
        columns=["measure", "title", "provider_id", "provider", "denominator", "numerator", "rate", "inverse", "open", "due_soon"],
    )
    by_provider["provider_id"] = by_provider["provider_id"].astype("Int64")
    practice = pd.DataFrame(
        [("bcs", "Breast cancer screening", 25, 12, 0.48, False, 13, 1), ("a1c", "HbA1c poor control", 8, 4, 0.5, True, 4, 0)],
        columns=["measure", "title", "denominator", "numerator", "rate", "inverse", "open", "due_soon"],
    )
    return by_provider, practice


def test_measure_grid_rows_columns_and_colours_against_goals(qapp):
    by_provider, practice = _rates()
    model = MeasureGridModel()
    model.set_rates(by_provider, practice, {"bcs": 70.0, "a1c": 30.0})
    assert [r.label for r in model.grid_rows] == ["Practice", "Dr. Ann Lee", "Dr. Bo Park", "Unassigned"]
    assert [m.id for m in model.measures] == ["bcs", "a1c"]
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Breast cancer screening\ngoal ≥ 70%"
    assert model.headerData(1, Qt.Orientation.Horizontal) == "HbA1c poor control\ngoal ≤ 30%"

    def meets(row, column):
        return model.data(model.index(row, column), MeasureGridModel.MEETS_ROLE)

    def colour(row, column):
        return model.data(model.index(row, column), Qt.ItemDataRole.BackgroundRole).color()

    assert [meets(r, 0) for r in range(4)] == [False, True, False, False]  # 70% meets a 70% goal
    assert [meets(r, 1) for r in range(4)] == [False, True, False, None]  # inverse: 25% <= 30% meets
    assert colour(1, 0) == GREEN_BG and colour(2, 0) == RED_BG and colour(3, 1) == NEUTRAL_BG
    assert model.data(model.index(1, 0), DISPLAY) == "70.0%\n7/10"
    assert model.data(model.index(3, 1), DISPLAY).startswith("—")
    assert "open gap" in model.data(model.index(2, 0), Qt.ItemDataRole.ToolTipRole)

    target = model.target(2, 0)
    assert (target.measure, target.provider_id, target.unassigned, target.row_label) == ("bcs", 2, False, "Dr. Bo Park")
    assert model.target(3, 0).unassigned and model.target(3, 0).provider_id is None
    practice_target = model.target(0, 1)
    assert practice_target.provider_id is None and not practice_target.unassigned and practice_target.inverse

    # A lower goal turns Dr. Park's breast screening green; unset goals use the defaults
    # Settings shows: 70% for most measures, a 20% ceiling for the inverse one.
    model.set_rates(by_provider, practice, {"bcs": 40.0})
    assert meets(2, 0) is True
    assert model.headerData(1, Qt.Orientation.Horizontal).endswith("goal ≤ 20%")


# --------------------------------------------------------------------------- drill-down


def test_gap_patient_model_sorts_the_core_frame(qapp):
    frame = pd.DataFrame(
        {
            "patient_id": [11, 12, 13],
            "mrn": ["M11", "M12", "M13"],
            "name": ["Brown, Al", "adams, Bo", "Clark, Cy"],
            "dob": [dt.date(1960, 1, 1), dt.date(1970, 1, 1), None],
            "age": [64, 54, None],
            "status": ["open", "due-soon", "open"],
            "due_date": [dt.date(2024, 1, 1), None, dt.date(2023, 1, 1)],
            "last_date": [None, dt.date(2023, 6, 1), None],
            "last_value": [None, "9.4", None],
            "provider": ["Dr. Ann Lee"] * 3,
        }
    )
    model = GapPatientTableModel()
    model.set_patients(frame)
    assert model.ids() == [12, 11, 13]  # by name, case-insensitive
    assert _texts(model, 4) == ["Due soon", "Open", "Open"]
    assert _texts(model, 3) == ["54", "64", ""]
    model.sort(5, Qt.SortOrder.AscendingOrder)  # due date, empty last
    assert model.ids() == [13, 11, 12]
    assert _texts(model, 7) == ["", "", "9.4"]
    model.set_patients(frame.iloc[0:0])
    assert model.rowCount() == 0


def test_a_missing_date_reads_as_blank_not_a_traceback():
    import pandas as pd

    from panelmanager.ui.models.panels import _sort_value, display_value

    assert display_value(pd.NaT) == "" and display_value(pd.Timestamp("2024-03-04 10:15")) == "2024-03-04 10:15"
    assert _sort_value(pd.NaT) == (1, "")
