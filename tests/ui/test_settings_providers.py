"""Issue 9 item 5 in the GUI: Settings > Providers shows "Can hold a panel" clearly, edits names,
NPIs and specialties, says why no one can hold a panel, and merges scheduler user names."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from sqlalchemy import select

from panelmanager.core import models


def _practice(registry) -> dict[str, int]:
    with registry.session() as session:
        rows = [
            models.Provider(source="athenahealth", external_id="GC_KLEIN_S", display_name="GC_Klein_S"),
            models.Provider(source="athenahealth", external_id="KLEINS", display_name="Kleins"),
            models.Provider(source="athenahealth", external_id="HEART", display_name="Cy Heart, MD", specialty="CARDIOLOGY"),
        ]
        session.add_all(rows)
        session.flush()
        patient = models.Patient(mrn="1001", last_name="Garcia", first_name="Maria", source="athenahealth", status="active")
        session.add(patient)
        session.flush()
        session.add(models.Visit(patient_id=patient.id, provider_id=rows[1].id, source="athenahealth", external_id="V1",
                                 start=dt.datetime(2024, 3, 1, 9), visit_class="ambulatory", status="completed"))
        return {r.external_id: r.id for r in rows}


def _page(window):
    screen = window.show_screen("settings")
    screen.show_providers()
    screen.reload()
    return screen, screen.providers_page


def _row(page, external_id: str) -> int:
    return next(i for i, r in enumerate(page.model.rows) if r.external_id == external_id)


def test_can_hold_a_panel_shows_a_plain_yes_or_no_never_a_grey_partial_box(window):
    _practice(window.registry)
    with window.registry.session() as session:
        session.add(models.Provider(source="pm", external_id="LEE", display_name="Ann Lee, MD", specialty="FAMILY MEDICINE"))
    screen, page = _page(window)
    model = page.model
    column = model.COLUMNS.index("can_hold_panel")
    states = {r.external_id: model.data(model.index(i, column), Qt.ItemDataRole.CheckStateRole) for i, r in enumerate(model.rows)}
    texts = {r.external_id: model.data(model.index(i, column)) for i, r in enumerate(model.rows)}
    assert states == {"GC_KLEIN_S": Qt.CheckState.Unchecked, "KLEINS": Qt.CheckState.Unchecked,
                      "HEART": Qt.CheckState.Unchecked, "LEE": Qt.CheckState.Checked}
    assert texts["LEE"] == "Yes (specialty)" and texts["HEART"] == "No (specialty)"
    assert screen.tabs.currentWidget() is page and not screen.save_button.isVisible()


def test_ticking_the_box_decides_it_and_unticking_returns_to_the_specialty_default(window):
    ids = _practice(window.registry)
    _screen, page = _page(window)
    model = page.model
    assert page.problem_label.isVisible()
    assert "No provider can hold a panel" in page.problem_label.text()
    index = model.index(_row(page, "GC_KLEIN_S"), model.COLUMNS.index("can_hold_panel"))
    assert model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.data(index, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked and model.data(index) == "Yes"
    assert not page.problem_label.isVisible()
    with window.registry.session() as session:
        assert session.get(models.Provider, ids["GC_KLEIN_S"]).can_hold_panel is True
    assert model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    with window.registry.session() as session:
        assert session.get(models.Provider, ids["GC_KLEIN_S"]).can_hold_panel is None  # back to the default
    assert page.problem_label.isVisible()


def test_rename_npi_and_specialty_are_edited_in_the_table(window):
    ids = _practice(window.registry)
    _screen, page = _page(window)
    model = page.model
    for column, value in (("display_name", "Sarah Klein, MD"), ("npi", "1234567893"), ("specialty", "family practice")):
        row = _row(page, "GC_KLEIN_S")  # the table re-sorts by name after each change
        assert model.setData(model.index(row, model.COLUMNS.index(column)), value)
    with window.registry.session() as session:
        klein = session.get(models.Provider, ids["GC_KLEIN_S"])
        assert (klein.display_name, klein.npi, klein.specialty) == ("Sarah Klein, MD", "1234567893", "FAMILY PRACTICE")
    row = _row(page, "GC_KLEIN_S")
    assert model.data(model.index(row, model.COLUMNS.index("can_hold_panel"))) == "Yes (specialty)"


def test_merging_selected_user_names_moves_their_visits(window, qtbot):
    ids = _practice(window.registry)
    _screen, page = _page(window)
    page.table.selectRow(_row(page, "KLEINS"))
    assert page.selected_ids() == [ids["KLEINS"]]
    page.merge_into(ids["GC_KLEIN_S"], page.selected_ids())
    assert sorted(r.external_id for r in page.model.rows) == ["GC_KLEIN_S", "HEART"]
    row = _row(page, "GC_KLEIN_S")
    assert page.model.data(page.model.index(row, page.model.COLUMNS.index("also_known_as"))) == "KLEINS"
    with window.registry.session() as session:
        assert session.scalar(select(models.Visit.provider_id)) == ids["GC_KLEIN_S"]
