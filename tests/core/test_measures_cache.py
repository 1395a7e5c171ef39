"""The care-gap cache, provider panels and rates: refresh_gaps, gaps, measure_rates, patient_providers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from test_measures_support import AS_OF, Practice

from panelmanager.core import models
from panelmanager.core.jobs import Cancelled, CancelToken
from panelmanager.core.measures import (
    evaluate_measures,
    gaps,
    gaps_are_stale,
    measure_rates,
    patient_providers,
    refresh_gaps,
)


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def _two_panels(practice: Practice) -> dict[str, int]:
    """Two providers; Ann's patient is screened, Bob's two are not."""
    ann = practice.provider("Ann Adams", specialty="Family Medicine")
    bob = practice.provider("Bob Brown", specialty="Family Medicine")
    screened = practice.patient("screened", dob=dt.date(1960, 1, 1))
    practice.visit(screened, dt.date(2023, 11, 1), "wellness", provider=ann)
    practice.procedure(screened, dt.date(2023, 11, 1), "77067", system="CPT")
    for mrn in ("unscreened-1", "unscreened-2"):
        patient = practice.patient(mrn, dob=dt.date(1962, 1, 1))
        practice.visit(patient, dt.date(2023, 9, 1), "ambulatory", provider=ann)
        practice.visit(patient, dt.date(2023, 12, 1), "ambulatory", provider=bob)  # the latest visit
    return {"ann": ann, "bob": bob}


def test_refresh_writes_the_cache_and_gaps_reads_it(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        done = refresh_gaps(session, AS_OF)
    assert done.rows > 0 and done.patients == 3 and not done.errors
    with fresh_registry.session() as session:
        assert session.scalar(select(func.count()).select_from(models.MeasureResult)) == done.rows
        assert not gaps_are_stale(session, AS_OF)
        breast = gaps(session, AS_OF, measure="breast-cancer-screening")
    assert breast.set_index("mrn")["status"].to_dict() == {
        "screened": "met",
        "unscreened-1": "open",
        "unscreened-2": "open",
    }
    assert list(breast.columns[:8]) == ["patient_id", "mrn", "measure", "status", "due_date", "last_date", "last_code", "last_value"]


def test_gaps_match_a_fresh_evaluation(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        cached = gaps(session, AS_OF)
        fresh = evaluate_measures(session, AS_OF)
    key = ["mrn", "measure"]
    columns = ["status", "due_date", "last_date", "last_code", "last_value"]
    left = cached.sort_values(key).set_index(key)[columns]
    right = fresh.sort_values(key).set_index(key)[columns]
    assert left.astype(object).where(left.notna(), None).equals(right.astype(object).where(right.notna(), None))


def test_the_cache_is_refreshed_when_the_registry_changes(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        refresh_gaps(session, AS_OF)
    patient = practice.patient("new-patient", dob=dt.date(1961, 1, 1))
    with fresh_registry.session() as session:
        assert gaps_are_stale(session, AS_OF)
        frame = gaps(session, AS_OF, measure="breast-cancer-screening")
    assert "new-patient" in set(frame["mrn"])
    practice.procedure(patient, dt.date(2024, 1, 2), "77067", system="CPT")
    with fresh_registry.session() as session:
        frame = gaps(session, AS_OF, measure="breast-cancer-screening")
    assert frame.set_index("mrn").loc["new-patient", "status"] == "met"


def test_the_cache_is_refreshed_when_a_patient_becomes_inactive(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        assert "unscreened-1" in set(gaps(session, AS_OF)["mrn"])
    with fresh_registry.session() as session:
        patient = session.scalar(select(models.Patient).where(models.Patient.mrn == "unscreened-1"))
        patient.status = "inactive"
    with fresh_registry.session() as session:
        assert "unscreened-1" not in set(gaps(session, AS_OF)["mrn"])


def test_gaps_filter_by_status_measure_and_provider(practice, fresh_registry):
    providers = _two_panels(practice)
    with fresh_registry.session() as session:
        open_breast = gaps(session, AS_OF, measure=["breast-cancer-screening"], status="open")
        bobs = gaps(session, AS_OF, provider=providers["bob"], status=["open", "due-soon"])
        anns = gaps(session, AS_OF, provider=providers["ann"])
    assert set(open_breast["mrn"]) == {"unscreened-1", "unscreened-2"}
    assert set(bobs["mrn"]) == {"unscreened-1", "unscreened-2"}
    assert set(bobs["status"]) <= {"open", "due-soon"}
    assert set(anns["mrn"]) == {"screened"}
    assert set(anns["provider"]) == {"Ann Adams (proposed)"}


def test_before_the_first_review_gap_lists_show_the_proposal_never_an_ed_provider(practice, fresh_registry):
    # Issue 9 item 14: the 4-cut proposal (marked proposed) or "Unassigned".
    family = practice.provider("Fay Family", specialty="Family Medicine")
    ed_doctor = practice.provider("Ed Emergency", specialty="Emergency Medicine")
    urgent = practice.provider("Uma Urgent", specialty="Family Medicine")
    regular = practice.patient("regular", dob=dt.date(1960, 1, 1))
    practice.visit(regular, dt.date(2023, 6, 1), "wellness", provider=family)
    practice.visit(regular, dt.date(2024, 2, 1), "emergency", provider=ed_doctor)  # the latest visit
    practice.visit(regular, dt.date(2024, 3, 1), "urgentcare", provider=urgent)
    ed_only = practice.patient("ed-only", dob=dt.date(1962, 1, 1))
    practice.visit(ed_only, dt.date(2024, 1, 1), "emergency", provider=ed_doctor)
    with fresh_registry.session() as session:
        frame = gaps(session, AS_OF, measure="breast-cancer-screening")
    shown = frame.set_index("mrn")["provider"].to_dict()
    assert shown == {"regular": "Fay Family (proposed)", "ed-only": "Unassigned"}


def test_provider_is_the_proposal_until_panels_are_assigned(practice, fresh_registry):
    providers = _two_panels(practice)
    with fresh_registry.session() as session:
        frame, how = patient_providers(session, AS_OF)
        assert how == "proposal"
        mrns = dict(session.execute(select(models.Patient.id, models.Patient.mrn)).all())
        by_mrn = {mrns[p]: v for p, v in zip(frame["patient_id"], frame["provider_id"])}
        assert by_mrn == {"screened": providers["ann"], "unscreened-1": providers["bob"], "unscreened-2": providers["bob"]}
        # Once the practice assigns panels, the assignment is the provider.
        patient_id = next(p for p, m in mrns.items() if m == "unscreened-1")
        session.add(
            models.Assignment(
                patient_id=patient_id,
                provider_id=providers["ann"],
                cut="manual",
                reason="test",
                assigned_on=AS_OF,
                assigned_at=dt.datetime(2024, 3, 1),
            )
        )
        session.flush()
        frame, how = patient_providers(session, AS_OF)
    assert how == "assignment"
    assert frame.set_index("patient_id")["provider_id"].to_dict() == {patient_id: providers["ann"]}


def test_rates_per_provider_and_for_the_practice(practice, fresh_registry):
    providers = _two_panels(practice)
    with fresh_registry.session() as session:
        practice_rates = measure_rates(session, AS_OF, by="practice").set_index("measure")
        provider_rates = measure_rates(session, AS_OF, by="provider")
    breast = practice_rates.loc["breast-cancer-screening"]
    assert (breast["numerator"], breast["denominator"]) == (1, 3)
    assert breast["rate"] == pytest.approx(1 / 3)
    per = provider_rates[provider_rates["measure"] == "breast-cancer-screening"].set_index("provider_id")
    assert (per.loc[providers["ann"], "numerator"], per.loc[providers["ann"], "denominator"]) == (1, 1)
    assert (per.loc[providers["bob"], "numerator"], per.loc[providers["bob"], "denominator"]) == (0, 2)
    assert per.loc[providers["bob"], "provider"] == "Bob Brown"


def test_unassigned_patients_are_a_group_of_their_own(practice, fresh_registry):
    practice.patient("nobody-seen", dob=dt.date(1960, 1, 1))
    with fresh_registry.session() as session:
        rates = measure_rates(session, AS_OF, by="provider")
    breast = rates[rates["measure"] == "breast-cancer-screening"]
    assert breast["provider"].tolist() == ["Unassigned"]
    assert breast["provider_id"].isna().all()


def test_practice_goals_come_from_settings(practice, fresh_registry):
    _two_panels(practice)
    from panelmanager.core.settings import load_settings, save_settings

    with fresh_registry.session() as session:
        settings = load_settings(session)
        settings.measure_goals = {"breast-cancer-screening": 0.75}
        save_settings(session, settings)
    with fresh_registry.session() as session:
        rates = measure_rates(session, AS_OF, by="practice").set_index("measure")
    assert rates.loc["breast-cancer-screening", "goal"] == 0.75


def test_evaluating_a_few_patients_gives_their_full_evaluation_rows(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        everyone = evaluate_measures(session, AS_OF)
        ids = everyone.loc[everyone["mrn"] == "screened", "patient_id"].unique().tolist()
        few = evaluate_measures(session, AS_OF, patient_ids=ids)
    mine = everyone[everyone["mrn"] == "screened"].reset_index(drop=True)
    assert few.reset_index(drop=True)[["measure", "status", "due_date"]].equals(mine[["measure", "status", "due_date"]])


def test_unknown_measure_is_refused(fresh_registry):
    with fresh_registry.session() as session, pytest.raises(ValueError, match="unknown measure 'colon'"):
        evaluate_measures(session, AS_OF, measure_ids=["colon"])


def test_cancel_stops_a_refresh_and_keeps_the_old_cache(practice, fresh_registry):
    _two_panels(practice)
    with fresh_registry.session() as session:
        first = refresh_gaps(session, AS_OF)
    token = CancelToken()
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled), fresh_registry.session() as session:
        session.execute(models.MeasureResult.__table__.delete())
        refresh_gaps(session, AS_OF, progress=progress, cancel=token)
    with fresh_registry.session() as session:
        assert session.scalar(select(func.count()).select_from(models.MeasureResult)) == first.rows
    assert any("Evaluating" in m for m in seen)


def test_an_empty_registry_has_no_gaps(fresh_registry):
    with fresh_registry.session() as session:
        frame = gaps(session, AS_OF)
        rates = measure_rates(session, AS_OF, by="provider")
    assert frame.empty and rates.empty


def test_only_the_latest_three_as_of_dates_stay_cached(practice, fresh_registry):
    _two_panels(practice)
    days = [AS_OF - dt.timedelta(days=n) for n in range(4, 0, -1)]
    for day in days:
        with fresh_registry.session() as session:
            refresh_gaps(session, day)
    with fresh_registry.session() as session:
        cached = set(session.scalars(select(models.MeasureResult.as_of).distinct()).all())
        runs = set(session.scalars(select(models.MeasureRun.as_of).where(models.MeasureRun.kind == "gaps")).all())
    assert cached == runs == set(days[1:])


def _rows_per_date(registry) -> dict:
    r = models.MeasureResult
    with registry.session() as session:
        return dict(session.execute(select(r.as_of, func.count()).group_by(r.as_of)).all())


def test_refreshing_a_date_again_replaces_only_that_dates_rows(practice, fresh_registry):
    _two_panels(practice)
    earlier = AS_OF - dt.timedelta(days=7)
    with fresh_registry.session() as session:
        first = refresh_gaps(session, AS_OF)
    with fresh_registry.session() as session:
        again = refresh_gaps(session, AS_OF)  # the only cached date: the table is emptied
    assert _rows_per_date(fresh_registry) == {AS_OF: again.rows} and again.rows == first.rows
    with fresh_registry.session() as session:
        other = refresh_gaps(session, earlier)
    with fresh_registry.session() as session:
        third = refresh_gaps(session, AS_OF)  # another date is cached: only this date's rows go
    assert _rows_per_date(fresh_registry) == {AS_OF: third.rows, earlier: other.rows}
    with fresh_registry.session() as session:
        assert gaps(session, earlier, refresh=False).shape[0] == other.rows
