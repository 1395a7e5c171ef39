"""Dashboard screen: the rate grid coloured against the goals, the drill-down to exactly the
patients with that gap, opening a patient, the panel chart, and refreshing the care gaps."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.measures import gaps_are_stale, measure_rates, patient_providers
from panelmanager.ui.widgets.charts import GREEN_BG, RED_BG

pytest.importorskip("pytestqt")

AS_OF = dt.date(2025, 1, 15)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    """A small demo practice (300 patients) built once; each test works on a copy."""
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    registry = open_registry(path, create=True)
    load_demo(registry, patients=300, seed=1, as_of=AS_OF)
    registry.close()
    return path


@pytest.fixture
def demo_window(qtbot, tmp_path, demo_template):
    from panelmanager.core.db import open_registry
    from panelmanager.ui.main_window import MainWindow

    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    registry = open_registry(path, create=True)
    window = MainWindow(registry=registry)
    qtbot.addWidget(window)
    window.resize(1366, 860)
    window.show()
    qtbot.waitExposed(window)
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=AS_OF))
    yield window
    window.close()
    registry.close()


def _dashboard(window):
    screen = window.show_screen("dashboard")
    screen.refresh()
    window.activateWindow()
    QApplication.processEvents()
    return screen


def _expected_rates(window):
    with window.registry.session() as s:
        return measure_rates(s, AS_OF, by="provider")


def test_grid_shows_every_provider_and_the_practice_coloured_against_the_goals(qtbot, demo_window):
    window = demo_window
    rates = _expected_rates(window)  # computes the cache, so the screen reads it as is
    influenza = rates[rates["measure"] == "influenza-immunization"].dropna(subset=["provider_id"])
    # A goal between the providers' influenza rates: some cells green, some red.
    values = sorted(100 * influenza["rate"])
    goal = round((values[0] + values[-1]) / 2, 1)
    goals = {"influenza-immunization": goal, "diabetes-a1c-poor-control": 30.0}
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, measure_goals=goals))
    screen = _dashboard(window)
    model = screen.grid_model

    providers = {f"provider:{int(p)}": name for p, name in zip(influenza["provider_id"], influenza["provider"])}
    keys = [r.key for r in model.grid_rows]
    assert set(providers) <= set(keys)
    assert keys[0] == "practice" and model.grid_rows[0].label == "Practice"
    assert "unassigned" in keys  # the demo has not been empanelled: some patients have no provider
    column = model.column_of("influenza-immunization")
    assert model.headerData(column, Qt.Orientation.Horizontal).endswith(f"goal ≥ {goal:g}%")

    seen = {True: 0, False: 0}
    for record in influenza.itertuples():
        row = model.row_of(f"provider:{int(record.provider_id)}")
        index = model.index(row, column)
        meets = round(100 * record.rate, 1) >= goal
        seen[meets] += 1
        assert index.data(model.MEETS_ROLE) is meets
        assert index.data(Qt.ItemDataRole.BackgroundRole).color() == (GREEN_BG if meets else RED_BG)
        assert index.data(Qt.ItemDataRole.DisplayRole) == f"{100 * record.rate:.1f}%\n{record.numerator:,}/{record.denominator:,}"
    assert seen[True] and seen[False]

    # The inverse measure is green at or below its goal.
    a1c = rates[(rates["measure"] == "diabetes-a1c-poor-control") & rates["provider_id"].notna()]
    a1c_column = model.column_of("diabetes-a1c-poor-control")
    for record in a1c.itertuples():
        index = model.index(model.row_of(f"provider:{int(record.provider_id)}"), a1c_column)
        assert index.data(model.MEETS_ROLE) is (round(100 * record.rate, 1) <= 30.0)

    # The practice row adds up every provider's (and the unassigned patients') counts.
    practice = model.cell(model.row_of("practice"), column)
    all_flu = rates[rates["measure"] == "influenza-immunization"]
    assert (practice.numerator, practice.denominator) == (int(all_flu["numerator"].sum()), int(all_flu["denominator"].sum()))

    # Changing a goal in Settings recolours the grid.
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, measure_goals={**goals, "influenza-immunization": 0.0}))
    screen.refresh()
    assert all(model.index(r, column).data(model.MEETS_ROLE) for r in range(model.rowCount()))


def _open_gap_ids(window, measure, provider_id=None, unassigned=False, statuses=("open",)):
    """Worked out here from the cache table and the patients' providers, not from the screen's query."""
    with window.registry.session() as s:
        rows = s.execute(
            select(m.MeasureResult.patient_id).where(
                m.MeasureResult.as_of == AS_OF, m.MeasureResult.measure_id == measure, m.MeasureResult.status.in_(statuses)
            )
        ).scalars().all()
        providers, _how = patient_providers(s, AS_OF)
    owner = dict(zip(providers["patient_id"], providers["provider_id"]))
    if provider_id is not None:
        return {p for p in rows if owner.get(p) == provider_id}
    if unassigned:
        return {p for p in rows if p not in owner}
    return set(rows)


def test_drill_down_lists_exactly_the_patients_with_that_gap(qtbot, demo_window):
    window = demo_window
    screen = _dashboard(window)
    model = screen.grid_model
    column = model.column_of("influenza-immunization")
    provider_rows = [r for r, g in enumerate(model.grid_rows) if g.provider_id is not None]
    row = max(provider_rows, key=lambda r: model.cell(r, column).denominator)
    provider_id = model.grid_rows[row].provider_id

    rect = screen.grid.visualRect(model.index(row, column))
    # Qt 6's QTest double-click has no press before it: click first, as a user does.
    qtbot.mouseClick(screen.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(screen.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    expected = _open_gap_ids(window, "influenza-immunization", provider_id=provider_id)
    assert expected and set(screen.gap_patient_ids()) == expected
    assert len(screen.gap_patient_ids()) == len(expected) == model.cell(row, column).open
    assert f"{len(expected):,} patients with open gaps" in screen.drill_title.text()
    assert set(screen.gap_model.frame["status"]) == {"open"}

    # Due-soon patients join the list when asked for.
    screen.include_due_soon.setChecked(True)
    assert set(screen.gap_patient_ids()) == _open_gap_ids(window, "influenza-immunization", provider_id, statuses=("open", "due-soon"))
    screen.include_due_soon.setChecked(False)

    # Enter on the Practice row lists every open gap; on Unassigned only the patients with no provider.
    screen.grid.setFocus()
    screen.grid.setCurrentIndex(model.index(model.row_of("practice"), column))
    qtbot.keyClick(screen.grid, Qt.Key.Key_Return)
    assert set(screen.gap_patient_ids()) == _open_gap_ids(window, "influenza-immunization")
    screen.drill_down(model.row_of("unassigned"), column)
    assert set(screen.gap_patient_ids()) == _open_gap_ids(window, "influenza-immunization", unassigned=True)


def test_a_row_of_the_drill_down_opens_the_patient(qtbot, demo_window, monkeypatch):
    window = demo_window
    screen = _dashboard(window)
    model = screen.grid_model
    screen.drill_down(model.row_of("practice"), model.column_of("breast-cancer-screening"))
    first = screen.gap_model.id_at(0)
    screen.gap_table.setFocus()
    screen.gap_table.setCurrentIndex(screen.gap_model.index(0, 0))
    patients = window.screens["patients"]
    opened = []
    original = patients.select_patient
    monkeypatch.setattr(patients, "select_patient", lambda pid: (opened.append(pid), original(pid)))
    with qtbot.waitSignal(screen.patient_requested) as blocker:
        qtbot.keyClick(screen.gap_table, Qt.Key.Key_Return)
    assert blocker.args == [first]
    assert window.current_screen() is patients
    assert opened == [first]


def test_chart_shows_each_panel_against_its_target(qtbot, demo_window):
    from panelmanager.core.capacity import panel_capacity
    from panelmanager.core.empanelment import accept_review_items, build_review

    window = demo_window
    with window.registry.session() as s:
        review = build_review(s, as_of=AS_OF, user="mgr")
        accept_review_items(s, review.review_id, user="mgr")
        capacity = [r for r in panel_capacity(s, AS_OF) if r.holds_panel or r.assigned]
    screen = _dashboard(window)
    bars = screen.chart.bars
    assert [(b.label, b.assigned, b.target) for b in bars] == [(r.name, r.assigned, r.target) for r in capacity]
    assert sum(b.assigned for b in bars) > 0
    image = screen.chart.grab().toImage()
    assert not image.isNull() and image.width() > 300
    assert "Target:" in screen.chart.tooltip_for(bars[0])
    # After empanelment the grid's provider rows are the panels.
    panel_rows = {g.provider_id for g in screen.grid_model.grid_rows if g.provider_id is not None}
    assert panel_rows == {r.provider_id for r in capacity if r.assigned}


def test_stale_care_gaps_are_computed_as_a_job_and_a_cancel_leaves_the_grid_empty(qtbot, demo_window, monkeypatch):
    from panelmanager.ui import jobs

    window = demo_window
    with window.registry.session() as s:
        assert gaps_are_stale(s, AS_OF)
    original = jobs.Job._on_progress

    def cancel_at_once(self, done, total, message):
        self.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        original(self, done, total, message)

    monkeypatch.setattr(jobs.Job, "_on_progress", cancel_at_once)
    screen = _dashboard(window)
    assert screen.grid_model.rowCount() == 0
    assert screen.banner.isVisibleTo(screen) and "cancelled" in screen.banner.text()
    with window.registry.session() as s:
        assert gaps_are_stale(s, AS_OF)
    monkeypatch.setattr(jobs.Job, "_on_progress", original)

    # Showing the screen again does not start the cancelled work by itself; Refresh (F5) does.
    screen.reload()
    assert screen.grid_model.rowCount() == 0 and screen.banner.isVisibleTo(screen)
    screen.grid.setFocus()
    qtbot.keyClick(screen.grid, Qt.Key.Key_F5)
    with window.registry.session() as s:
        assert not gaps_are_stale(s, AS_OF)
    assert screen.grid_model.rowCount() > 0 and not screen.banner.isVisibleTo(screen)
    assert "care gaps computed" in screen.computed_label.text()


def test_the_dashboard_names_measures_whose_source_data_is_absent(qtbot, demo_window):
    # Issue 9 item 11: an export without lab results or vital signs is not the patients' failure.
    window = demo_window
    screen = _dashboard(window)
    assert not screen.data_warning.isVisibleTo(screen)
    with window.registry.session() as s:
        s.execute(m.Observation.__table__.delete())
    screen.reload()
    qtbot.waitUntil(lambda: screen.data_warning.isVisibleTo(screen), timeout=20000)
    text = screen.data_warning.text()
    assert "Controlling high blood pressure: source data absent" in text
    assert "Diabetes: A1c above 9 or none this year: source data absent" in text


def _make_stale(window) -> dt.datetime:
    """An import since the care gaps were computed: the cache is out of date. Returns when it was computed."""
    with window.registry.session() as s:
        run = s.scalar(select(m.MeasureRun).where(m.MeasureRun.kind == "gaps", m.MeasureRun.as_of == AS_OF))
        run.data_version = "before-an-import"
        computed = run.computed_at
    with window.registry.session() as s:
        assert gaps_are_stale(s, AS_OF)
    return computed


def _held_refresh(monkeypatch):
    """The background recompute waits until the test releases it (jobs run on real threads here)."""
    import threading

    from panelmanager.core import dashboard  # the screen's job: refresh_dashboard, which refreshes the gaps
    from panelmanager.ui.jobs import JobRunner

    release = threading.Event()
    original = dashboard.refresh_gaps

    def held(*args, **kwargs):
        assert threading.current_thread() is not threading.main_thread()
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(dashboard, "refresh_gaps", held)
    monkeypatch.setattr(JobRunner, "synchronous", False)
    return release


def test_cached_figures_show_with_when_they_were_computed_before_the_background_recompute(qtbot, demo_window,
                                                                                          monkeypatch):
    # Issue 10: the first open at 100,000 patients waited half a minute for a recompute behind a modal dialog.
    from panelmanager.ui.jobs import JobRunner

    window = demo_window
    screen = _dashboard(window)  # computes the cache once (synchronous jobs)
    before = sorted((c.numerator, c.denominator) for c in screen.grid_model.cells.values())
    computed = _make_stale(window)
    release = _held_refresh(monkeypatch)
    try:
        screen.reload()
        qtbot.waitUntil(screen.recomputing, timeout=20000)
        # The old figures are on screen, saying when they were computed, while the recompute runs.
        assert screen.grid_model.rowCount() > 0
        assert sum(c.denominator for c in screen.grid_model.cells.values()) > 0
        assert f"care gaps computed {computed:%Y-%m-%d %H:%M}" in screen.computed_label.text()
        assert screen.banner.isVisibleTo(screen)
        assert f"computed {computed:%Y-%m-%d %H:%M}" in screen.banner.text() and "background" in screen.banner.text()
        assert screen.stop_button.isVisibleTo(screen) and screen.recompute_label.isVisibleTo(screen)
        # Nothing modal: no progress dialog blocks the window, the grid can be used meanwhile.
        assert not any(job.dialog.isVisible() for job in JobRunner.running())
        assert QApplication.activeModalWidget() is None
        screen.drill_down(0, 0)
        qtbot.waitUntil(lambda: screen.gap_model.rowCount() > 0 or "patients with" in screen.drill_title.text(),
                        timeout=20000)
    finally:
        release.set()
    qtbot.waitUntil(lambda: not screen.recomputing() and not JobRunner.running(), timeout=60000)
    with window.registry.session() as s:
        assert not gaps_are_stale(s, AS_OF)
    assert not screen.banner.isVisibleTo(screen) and not screen.stop_button.isVisibleTo(screen)
    assert "care gaps computed" in screen.computed_label.text()
    # Nothing changed in the registry: the recomputed figures are the cached ones.
    assert sorted((c.numerator, c.denominator) for c in screen.grid_model.cells.values()) == before


def test_stop_keeps_the_cached_figures_and_says_they_are_out_of_date(qtbot, demo_window, monkeypatch):
    from panelmanager.ui.jobs import JobRunner

    window = demo_window
    screen = _dashboard(window)
    cells = screen.grid_model.rowCount()
    computed = _make_stale(window)
    release = _held_refresh(monkeypatch)
    try:
        screen.reload()
        qtbot.waitUntil(screen.recomputing, timeout=20000)
        qtbot.mouseClick(screen.stop_button, Qt.MouseButton.LeftButton)
    finally:
        release.set()
    qtbot.waitUntil(lambda: not screen.recomputing() and not JobRunner.running(), timeout=60000)
    with window.registry.session() as s:
        assert gaps_are_stale(s, AS_OF)  # nothing was kept of the stopped recompute
    assert screen.grid_model.rowCount() == cells
    assert f"computed {computed:%Y-%m-%d %H:%M}" in screen.banner.text() and "cancelled" in screen.banner.text()
    screen.reload()  # showing the screen again does not start it again by itself
    qtbot.waitUntil(lambda: not JobRunner.running(), timeout=20000)
    assert not screen.recomputing() and screen.grid_model.rowCount() == cells
