"""The Dashboard's figures straight from the care-gap cache, with when they were computed (never recomputed)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from test_measures_support import AS_OF, Practice

from panelmanager.core import models
from panelmanager.core.measures import measure_rates, refresh_gaps
from panelmanager.core.panel_lists import dashboard_figures, gaps_computed_at, practice_rates


def _practice(fresh_registry) -> Practice:
    practice = Practice(fresh_registry)
    ann = practice.provider("Ann Adams", specialty="Family Medicine")
    for i, dob in enumerate((dt.date(1960, 1, 1), dt.date(1962, 5, 1), dt.date(1975, 3, 3))):
        patient = practice.patient(f"mrn-{i}", dob=dob)
        practice.visit(patient, dt.date(2023, 11, 1), "wellness", provider=ann)
    practice.procedure(practice.patient("screened", dob=dt.date(1961, 1, 1)), dt.date(2023, 11, 1), "77067", system="CPT")
    return practice


def test_no_cache_yet_gives_empty_figures_and_no_time(fresh_registry):
    _practice(fresh_registry)
    with fresh_registry.session() as session:
        figures = dashboard_figures(session, AS_OF)
        assert figures.computed_at is None and figures.stale
        assert figures.by_provider.empty and figures.practice.empty
        assert session.scalar(select(func.count()).select_from(models.MeasureResult)) == 0  # nothing computed


def test_figures_come_from_the_cache_even_when_stale(fresh_registry):
    practice = _practice(fresh_registry)
    with fresh_registry.session() as session:
        refresh_gaps(session, AS_OF)
    with fresh_registry.session() as session:
        figures = dashboard_figures(session, AS_OF)
        assert not figures.stale
        assert figures.computed_at == gaps_computed_at(session, AS_OF)
        expected = measure_rates(session, AS_OF, by="provider")
        pd.testing.assert_frame_equal(figures.by_provider, expected)
        pd.testing.assert_frame_equal(figures.practice, practice_rates(expected))
        rows = session.scalar(select(func.count()).select_from(models.MeasureResult))
    practice.patient("new-patient", dob=dt.date(1958, 2, 2))  # the registry changes: the cache is stale
    with fresh_registry.session() as session:
        later = dashboard_figures(session, AS_OF)
        assert later.stale and later.computed_at == figures.computed_at
        pd.testing.assert_frame_equal(later.by_provider, figures.by_provider)  # the old figures, not recomputed
        assert session.scalar(select(func.count()).select_from(models.MeasureResult)) == rows
        stale_rates = measure_rates(session, AS_OF, by="practice", refresh=False)
        assert int(stale_rates["denominator"].sum()) == int(figures.practice["denominator"].sum())


def test_stored_figures_are_read_back_as_computed_and_marked_outdated_when_what_they_used_changed(fresh_registry):
    # Issue 10: the Dashboard's first paint reads what refresh_dashboard stored, not the 4-cut over the registry.
    from panelmanager.core.dashboard import panel_bars, refresh_dashboard, stored_dashboard_figures
    from panelmanager.core.settings import load_settings, save_settings

    _practice(fresh_registry)
    with fresh_registry.session() as session:
        stored = refresh_dashboard(session, AS_OF)  # the gaps were never computed: computes them first
    with fresh_registry.session() as session:
        figures = dashboard_figures(session, AS_OF)
        fresh = measure_rates(session, AS_OF, by="provider", refresh=False)
        assert not figures.stale and not figures.outdated
        assert figures.computed_at == stored.gaps_computed_at == gaps_computed_at(session, AS_OF)
        pd.testing.assert_frame_equal(figures.by_provider, fresh)
        pd.testing.assert_frame_equal(figures.practice, practice_rates(fresh))
        assert figures.bars == panel_bars(session, AS_OF) and figures.bars
    with fresh_registry.session() as session:
        settings = load_settings(session)
        settings.lookback_months = 12  # the 4-cut's look-back: another split per provider
        save_settings(session, settings)
    with fresh_registry.session() as session:
        assert dashboard_figures(session, AS_OF).outdated
        refresh_dashboard(session, AS_OF, gaps=False)
    with fresh_registry.session() as session:
        assert not dashboard_figures(session, AS_OF).outdated
        refresh_gaps(session, AS_OF)  # recomputed elsewhere (the CLI): the stored figures predate them
        run = session.scalar(select(models.MeasureRun).where(models.MeasureRun.kind == "gaps"))
        run.computed_at = stored.gaps_computed_at + dt.timedelta(minutes=1)  # (not within the same second)
    with fresh_registry.session() as session:
        assert dashboard_figures(session, AS_OF).outdated
        assert stored_dashboard_figures(session, AS_OF) is not None
