"""Reads never write: building a huddle sheet leaves the registry exactly as it was.

A registry never risk-scored used to be scored (and the scores stored) from inside
``huddle_data``; now the day's patients are scored in memory and nothing is written.
"""

from __future__ import annotations

from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.huddle import huddle_data
from panelmanager.core.reports.huddle import build_huddle_sheet
from panelmanager.core.risk import compute_risk, score_tiers
from tests.core.test_huddle import DAY, _practice


def _snapshot(session) -> dict[str, int]:
    """Row count of every table: any write by a read path shows up here."""
    return {
        name: session.scalar(select(func.count()).select_from(table))
        for name, table in m.Base.metadata.tables.items()
    }


def test_building_a_huddle_sheet_writes_nothing_even_when_never_scored(fresh_registry, tmp_path):
    with fresh_registry.session() as session:
        ids = _practice(session)
    with fresh_registry.session() as session:
        before = _snapshot(session)
        assert before["risk_scores"] == 0 and before["measure_runs"] == 0
        sheet = huddle_data(session, DAY, ids["ana"])
        build_huddle_sheet(sheet, tmp_path / "huddle.pdf")
        assert not session.new and not session.dirty and not session.deleted
        session.flush()
        assert _snapshot(session) == before
    with fresh_registry.session() as session:
        assert _snapshot(session) == before  # and nothing was committed either
    # The tiers were still computed (in memory) for the day's patients.
    assert sheet.risk_available
    assert all(r.risk_tier is not None for r in sheet.sections[0].rows)


def test_in_memory_tiers_match_the_stored_ones(fresh_registry):
    with fresh_registry.session() as session:
        _practice(session)
        patient_ids = list(session.scalars(select(m.Patient.id)))
        some = patient_ids[:3]
        in_memory = score_tiers(session, DAY, some).set_index("patient_id")
        assert session.scalar(select(func.count()).select_from(m.RiskScore)) == 0
        stored = compute_risk(session, DAY).set_index("patient_id")  # the deliberate refresh writes
        assert session.scalar(select(func.count()).select_from(m.RiskScore)) > 0
    assert sorted(in_memory.index) == sorted(set(some) & set(stored.index))
    for column in ("score", "computed_tier", "tier", "reasons"):
        assert in_memory[column].to_dict() == stored.loc[in_memory.index, column].to_dict()
