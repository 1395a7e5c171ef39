"""Issue 10: the Dashboard opens from the figures stored when they were last computed.

Opening it reads one stored document (rates per provider, the practice's rates, the panel
chart, the source-data warnings) and says when the care gaps were computed, without
recomputing anything first; the stored per-provider figures are those a fresh compute
gives; a change of the panels makes them outdated, and only the figures (not the care
gaps) are then recomputed in the background.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from clinic import CLINIC_DAY, build_clinic
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.dashboard import panel_bars, refresh_dashboard, stored_dashboard_figures
from panelmanager.core.measures import measure_rates, refresh_gaps
from panelmanager.core.panel_lists import dashboard_figures, practice_rates
from panelmanager.ui.models.dashboard import MeasureGridModel

pytest.importorskip("pytestqt")


@pytest.fixture
def clinic(fresh_registry):
    with fresh_registry.session() as session:
        ids = build_clinic(session)
    return fresh_registry, ids


def _grid(by_provider: pd.DataFrame) -> dict:
    model = MeasureGridModel()
    model.set_rates(by_provider, practice_rates(by_provider), {})
    return {(r.label, key[1]): (c.numerator, c.denominator, c.open) for r in model.grid_rows
            for key, c in model.cells.items() if key[0] == r.key}


def test_stored_per_provider_figures_equal_a_fresh_compute(clinic):
    registry, _ids = clinic
    with registry.session() as session:
        refresh_gaps(session, CLINIC_DAY)
    with registry.session() as session:
        refresh_dashboard(session, CLINIC_DAY, gaps=False)
    with registry.session() as session:
        stored = stored_dashboard_figures(session, CLINIC_DAY)
        fresh = measure_rates(session, CLINIC_DAY, by="provider", refresh=False)
        assert stored is not None and not fresh.empty
        pd.testing.assert_frame_equal(stored.by_provider, fresh)  # every column, value and dtype
        assert stored.bars == panel_bars(session, CLINIC_DAY)
        figures = dashboard_figures(session, CLINIC_DAY)
        assert not figures.outdated and not figures.stale
        pd.testing.assert_frame_equal(figures.practice, practice_rates(fresh))
    assert _grid(stored.by_provider) == _grid(fresh)


def test_opening_with_stored_figures_shows_them_and_when_without_recomputing(qtbot, window, clinic, monkeypatch):
    registry, _ids = clinic
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=CLINIC_DAY))
    with registry.session() as session:
        stored = refresh_dashboard(session, CLINIC_DAY)  # computes the care gaps, then stores the figures
    import panelmanager.core.dashboard as core_dashboard
    import panelmanager.core.measures as measures

    def never(*_args, **_kwargs):
        raise AssertionError("the first paint recomputed something")

    for module, name in ((measures, "measure_rates"), (measures, "patient_providers"), (measures, "refresh_gaps"),
                         (core_dashboard, "refresh_gaps"), (core_dashboard, "compute_dashboard_figures"),
                         (core_dashboard, "panel_bars")):
        monkeypatch.setattr(module, name, never)
    screen = window.show_screen("dashboard")
    qtbot.waitUntil(lambda: screen.data is not None, timeout=20000)
    QApplication.processEvents()
    assert not screen.recomputing()
    assert f"care gaps computed {stored.gaps_computed_at:%Y-%m-%d %H:%M}" in screen.computed_label.text()
    assert not screen.banner.isVisibleTo(screen)
    shown = {(r.label, key[1]): (c.numerator, c.denominator, c.open) for r in screen.grid_model.grid_rows
             for key, c in screen.grid_model.cells.items() if key[0] == r.key}
    assert shown == _grid(stored.by_provider)
    assert [b.label for b in screen.chart.bars] == [b["name"] for b in stored.bars]
    assert {"Dr. Ann Lee", "Dr. Bo Park"} <= {b.label for b in screen.chart.bars}


def test_a_panel_change_recomputes_only_the_figures_in_the_background(qtbot, window, clinic, monkeypatch):
    from panelmanager.core.empanelment import reassign_patient

    registry, ids = clinic
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, as_of_override=CLINIC_DAY))
    with registry.session() as session:
        refresh_dashboard(session, CLINIC_DAY)
    with registry.session() as session:
        patient = session.execute(select(m.Assignment.patient_id, m.Assignment.provider_id).order_by(m.Assignment.id)).first()
        other = ids["park"] if patient.provider_id == ids["lee"] else ids["lee"]
        reassign_patient(session, patient.patient_id, other, reason="test", user="test", as_of=CLINIC_DAY)
    with registry.session() as session:
        figures = dashboard_figures(session, CLINIC_DAY)
        assert figures.outdated and not figures.stale  # the panels changed, the care gaps did not
    import panelmanager.core.dashboard as core_dashboard

    def never(*_args, **_kwargs):
        raise AssertionError("the care gaps were recomputed")

    monkeypatch.setattr(core_dashboard, "refresh_gaps", never)
    screen = window.show_screen("dashboard")
    qtbot.waitUntil(lambda: screen.data is not None and not screen.data.outdated and not screen.recomputing(),
                    timeout=20000)
    assert not screen.banner.isVisibleTo(screen)  # no "could not be recomputed" either
    with registry.session() as session:
        after = dashboard_figures(session, CLINIC_DAY)
        assert not after.outdated
        pd.testing.assert_frame_equal(after.by_provider, measure_rates(session, CLINIC_DAY, by="provider", refresh=False))
