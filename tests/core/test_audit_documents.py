"""The core services that carry patient data out (prints, exports) audit themselves, whichever client
calls them (issue 14): ``core.actions.audited`` checks the role, then appends one entry naming the
patients by id, in the caller's session when it can and in a transaction of its own when it must."""

from __future__ import annotations

import io

import pytest
from auth_helpers import fast_hashing, make_users
from clinic import CLINIC_DAY
from sqlalchemy import select, update

from panelmanager.core import audit
from panelmanager.core import models as m
from panelmanager.core.actions import audited, record_shown
from panelmanager.core.permissions import PermissionDenied, acting_as
from panelmanager.core.printing import print_huddle_sheet


@pytest.fixture
def actors(fresh_registry, monkeypatch):
    fast_hashing(monkeypatch)
    return make_users(fresh_registry)


def entries(registry, action=None) -> list[audit.AuditRow]:
    with registry.session() as session:
        return list(reversed(audit.list_entries(session, action=action, limit=None)))


def test_a_huddle_print_is_audited_with_its_patients(fresh_registry, clinic_ids, actors):
    ids = clinic_ids
    with fresh_registry.session() as session, acting_as(actors["provider"]):
        sheet, result = print_huddle_sheet(session, CLINIC_DAY, io.BytesIO(), ids["lee"])
    assert result.pages == 1
    [entry] = entries(fresh_registry, "print")
    assert (entry.user_name, entry.role, entry.outcome) == ("provider", "provider", "ok")
    assert entry.patient_ids == tuple(sorted((ids["alice"], ids["bob"])))
    assert entry.details == {"document": "huddle-sheet", "day": CLINIC_DAY.isoformat(), "provider_id": ids["lee"],
                             "to": "preview", "visits": 2, "pages": 1}
    with fresh_registry.session() as session:
        assert audit.verify(session).ok


def test_a_role_that_may_not_print_is_refused_and_audited(fresh_registry, clinic_ids, actors):
    with fresh_registry.session() as session, acting_as(actors["front_desk"]), pytest.raises(PermissionDenied):
        print_huddle_sheet(session, CLINIC_DAY, io.BytesIO())
    [entry] = entries(fresh_registry, "print")
    assert (entry.user_name, entry.outcome, entry.patient_ids) == ("frontdesk", "refused", ())
    with fresh_registry.session() as session, acting_as(actors["front_desk"], emergency_reason="no nurse in"):
        print_huddle_sheet(session, CLINIC_DAY, io.BytesIO())
    entry = entries(fresh_registry, "print")[-1]
    assert entry.outcome == "ok" and entry.emergency and entry.emergency_reason == "no nurse in"
    assert len(entry.patient_ids) == 4


def test_an_error_is_audited_even_though_the_session_rolls_back(fresh_registry, clinic_ids, actors, tmp_path):
    with pytest.raises(OSError), fresh_registry.session() as session, acting_as(actors["manager"]):
        print_huddle_sheet(session, CLINIC_DAY, tmp_path / "no-such-folder" / "h.pdf")
    [entry] = entries(fresh_registry, "print")
    assert entry.outcome == "error" and entry.details["to"] == "file" and "error" in entry.details


def test_no_one_logged_in_records_nothing(fresh_registry, clinic_ids):
    with fresh_registry.session() as session:
        print_huddle_sheet(session, CLINIC_DAY, io.BytesIO())
    assert entries(fresh_registry) == []


def test_a_read_session_that_another_workstation_wrote_past_still_records(fresh_registry, clinic_ids, actors):
    """SQLite: a read transaction whose snapshot is older than the last write cannot become a write;
    the entry then goes into a transaction of its own instead of failing the print."""
    ids = clinic_ids
    with fresh_registry.session() as session, acting_as(actors["manager"]):
        assert session.get(m.Patient, ids["alice"]) is not None  # the read snapshot starts here
        with fresh_registry.write_session() as other:  # another workstation, meanwhile
            other.execute(update(m.Patient).where(m.Patient.id == ids["bob"]).values(phone_home="555"))
        with audited(session, "export", details={"document": "test"}) as note:
            note.patients([ids["alice"], ids["alice"], None])
    [entry] = entries(fresh_registry, "export")
    assert entry.patient_ids == (ids["alice"],) and entry.outcome == "ok"
    with fresh_registry.session() as session:
        assert audit.verify(session).ok


def test_an_audited_write_goes_in_with_the_write(fresh_registry, clinic_ids, actors):
    """A service that writes (an export logged as outreach) appends its entry in the same transaction:
    both are kept, or neither."""
    ids = clinic_ids
    with pytest.raises(RuntimeError), fresh_registry.write_session() as session, acting_as(actors["manager"]):
        with audited(session, "export") as note:
            session.execute(update(m.Patient).where(m.Patient.id == ids["bob"]).values(phone_home="555"))
            note.patients([ids["bob"]])
        raise RuntimeError("the caller fails after the export")
    assert entries(fresh_registry, "export") == []
    with fresh_registry.session() as session:
        assert session.scalar(select(m.Patient.phone_home).where(m.Patient.id == ids["bob"])) != "555"


def test_record_shown_for_a_search(fresh_registry, clinic_ids, actors):
    ids = clinic_ids
    assert not record_shown(fresh_registry, "search", [ids["alice"]])  # no one logged in
    assert record_shown(fresh_registry, "search", [ids["bob"], ids["alice"]], actor=actors["front_desk"],
                        details={"screen": "checkin", "results": 2})
    [entry] = entries(fresh_registry, "search")
    assert entry.patient_ids == tuple(sorted((ids["alice"], ids["bob"]))) and entry.user_name == "frontdesk"
    assert entry.details == {"screen": "checkin", "results": 2}


def test_an_outreach_run_audits_letters_and_exports_apart(fresh_registry, actors):
    from outreach_practice import AS_OF, COLON, build_outreach_practice

    from panelmanager.core.outreach import OutreachFilters
    from panelmanager.core.outreach_run import run_outreach

    with fresh_registry.session() as session:
        ids = build_outreach_practice(session)
    with fresh_registry.session() as session, acting_as(actors["manager"]):
        run = run_outreach(session, AS_OF, OutreachFilters(measure_ids=(COLON,)), letters=io.BytesIO(),
                           labels=io.BytesIO(), portal=io.StringIO(), log=False)
    letters, export = (e for e in entries(fresh_registry) if e.action in ("letters", "export"))
    everyone = tuple(sorted(int(p) for p in run.outreach.rows["patient_id"].unique()))
    assert letters.action == "letters" and letters.patient_ids == everyone  # Ruth left out: still concerned
    assert letters.details["to"] == {"letters": "preview", "labels": "preview"} and letters.details["log"] is False
    assert export.action == "export" and export.details["documents"] == ["portal"]
    assert ids["ruth"] in letters.patient_ids
    with fresh_registry.session() as session, acting_as(actors["ma_nurse"]), pytest.raises(PermissionDenied):
        run_outreach(session, AS_OF, OutreachFilters(measure_ids=(COLON,)), calls=io.BytesIO(), log=False)
    assert entries(fresh_registry, "letters")[-1].outcome == "refused"


def test_no_entry_holds_a_name(fresh_registry, clinic_ids, actors, tmp_path):
    with fresh_registry.session() as session, acting_as(actors["manager"]):
        print_huddle_sheet(session, CLINIC_DAY, tmp_path / "Alice Smith huddle.pdf")
    record_shown(fresh_registry, "search", [clinic_ids["alice"]], actor=actors["manager"],
                 details={"screen": "patients", "results": 1, "by": ["text"]})
    with fresh_registry.session() as session:
        names = session.execute(select(m.Patient.first_name, m.Patient.last_name)).all()
        text = " ".join(str(v) for row in session.execute(select(m.AuditEntry)).scalars()
                        for v in (row.details, row.user_name, row.workstation) if v).lower()
    assert "pdf" not in text
    for first, last in names:
        assert first.lower() not in text and last.lower() not in text
    with fresh_registry.session() as session:
        assert audit.verify(session).ok
