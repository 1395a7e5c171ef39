"""Issue 9 item 7: a patient whose recorded death is after the as-of date was alive then.

Importers mark a patient with a DEATHDATE ``status = "deceased"``; worked as of an earlier
date, that patient belongs in the assignments, the measure denominators, the outreach
lists and the panel review of that date. A death on or before the as-of date still excludes.
"""

from __future__ import annotations

import datetime as dt

from panelmanager.core import models as m
from panelmanager.core.alive import alive_and_active_mask
from panelmanager.core.empanelment import build_review, suggest_inactivations
from panelmanager.core.measures import evaluate_measures
from panelmanager.core.outreach import build_outreach_list

AS_OF = dt.date(2024, 3, 15)
COLON = "colorectal-cancer-screening"


def _clinic(session) -> dict[str, int]:
    lee = m.Provider(source="t", external_id="LEE", display_name="Dr. Ann Lee", specialty="FAMILY PRACTICE")
    session.add(lee)
    session.flush()
    ids = {"lee": lee.id}
    for mrn, status, died in (
        ("LATER", "deceased", dt.date(2024, 9, 1)),  # Synthea: DEATHDATE after the as-of date
        ("BEFORE", "deceased", dt.date(2024, 1, 10)),
        ("ALIVE", "active", None),
    ):
        p = m.Patient(mrn=mrn, first_name="Pat", last_name=mrn.title(), dob=dt.date(1960, 5, 1), sex="F",
                      source="t", status=status, deceased_date=died)
        session.add(p)
        session.flush()
        ids[mrn] = p.id
        session.add(m.Visit(patient_id=p.id, provider_id=lee.id, source="t", external_id=f"v-{mrn}",
                            start=dt.datetime(2023, 11, 2, 9), visit_class="ambulatory", status="completed"))
    session.flush()
    return ids


def test_a_death_after_the_as_of_date_is_assigned_as_of_then(fresh_registry):
    with fresh_registry.session() as session:
        _clinic(session)
        summary = build_review(session, as_of=AS_OF, user="tester")
        rows = {r["patient"]: r for r in summary.rows()}
    assert set(rows) == {"LATER", "ALIVE"}
    assert (rows["LATER"]["provider"], rows["LATER"]["change"]) == ("LEE", "new")


def test_a_death_after_the_as_of_date_is_not_assigned_after_the_death(fresh_registry):
    with fresh_registry.session() as session:
        _clinic(session)
        rows = {r["patient"] for r in build_review(session, as_of=dt.date(2024, 10, 1), user="tester").rows()}
    assert rows == {"ALIVE"}


def test_a_death_after_the_as_of_date_has_gaps_as_of_then(fresh_registry):
    with fresh_registry.session() as session:
        ids = _clinic(session)
        frame = evaluate_measures(session, AS_OF, measure_ids=[COLON])
        later = evaluate_measures(session, dt.date(2024, 10, 1), measure_ids=[COLON])
    assert set(frame["patient_id"]) == {ids["LATER"], ids["ALIVE"]}
    assert set(later["patient_id"]) == {ids["ALIVE"]}


def test_a_death_after_the_as_of_date_is_on_the_outreach_list(fresh_registry):
    with fresh_registry.session() as session:
        ids = _clinic(session)
        result = build_outreach_list(session, AS_OF, measure_ids=[COLON])
    assert set(result.rows["patient_id"]) == {ids["LATER"], ids["ALIVE"]}


def test_a_death_after_the_as_of_date_is_not_suggested_for_inactivation(fresh_registry):
    with fresh_registry.session() as session:
        ids = _clinic(session)
        session.add(m.Assignment(patient_id=ids["LATER"], provider_id=ids["lee"], cut="1", reason="test",
                                 assigned_on=dt.date(2024, 1, 1), assigned_at=dt.datetime(2024, 1, 1)))
        session.flush()
        before = {s.mrn for s in suggest_inactivations(session, as_of=AS_OF)}
        after = {s.mrn: s.kind for s in suggest_inactivations(session, as_of=dt.date(2024, 10, 1))}
    assert "LATER" not in before
    assert after["LATER"] == "deceased"


def test_the_rule_in_columns():
    import pandas as pd

    status = pd.Series(["active", "active", "deceased", "deceased", "deceased", "moved"])
    died = pd.Series([None, "2024-01-01", "2024-06-01", "2024-01-01", None, None])
    assert alive_and_active_mask(status, died, AS_OF).tolist() == [True, False, True, False, False, False]
