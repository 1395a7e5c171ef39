"""The Audit screen's date filter without an index on every entry's time (migration 0015_audit_late).

``at`` is each workstation's own clock: entries are not in time order across workstations, across
a DST change, or from a PC whose clock is days off. The filter must still return exactly the
entries whose time falls in the range; these tests compare it with a plain scan of the trail."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from alembic import command
from sqlalchemy import inspect, text

from panelmanager.core import audit
from panelmanager.core.db import _alembic_config
from panelmanager.core.permissions import Actor

DESK = Actor(user_id=3, username="desk", display_name="Desk", role="front_desk", workstation="front-1")
BEHIND = Actor(user_id=4, username="nurse", display_name="Nurse", role="ma_nurse", workstation="old-pc")
START = dt.datetime(2026, 3, 1, 7, 0)


def _times(count: int, seed: int) -> list[tuple[Actor, dt.datetime]]:
    """Clinic days in order, with clocks a few minutes apart, a PC three days behind, one a day ahead,
    and a DST fall-back hour repeated."""
    rng = random.Random(seed)
    out = []
    now = START
    for n in range(count):
        now += dt.timedelta(minutes=rng.choice((1, 7, 30, 200, 900)))
        kind = rng.random()
        if kind < 0.1:
            out.append((BEHIND, now - dt.timedelta(days=3, minutes=rng.randint(0, 600))))
        elif kind < 0.13:
            out.append((DESK, now + dt.timedelta(days=1)))
        elif kind < 0.2 and n > 5:
            out.append((DESK, now - dt.timedelta(minutes=rng.randint(1, 70))))  # a clock behind, or the DST hour
        else:
            out.append((DESK, now + dt.timedelta(seconds=rng.randint(-240, 240))))
    return out


def _fill(registry, times) -> None:
    with registry.write_session() as session:
        for n, (actor, at) in enumerate(times):
            audit.record(session, actor, "view_patient", patient_ids=[n + 1], at=at)


def _exact(registry, date_from, date_to, **filters) -> list[int]:
    """The entries a plain scan of the whole trail finds."""
    with registry.session() as session:
        rows = audit.list_entries(session, limit=None, **filters)
    lo = dt.datetime.combine(date_from, dt.time()) if date_from else dt.datetime.min
    hi = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time()) if date_to else dt.datetime.max
    return [r.seq for r in rows if lo <= r.at < hi]


def _filtered(registry, date_from, date_to, **filters) -> list[int]:
    with registry.session() as session:
        return [r.seq for r in audit.list_entries(session, date_from=date_from, date_to=date_to, **filters)]


def test_the_date_filter_finds_exactly_the_entries_of_each_range(fresh_registry):
    _fill(fresh_registry, _times(400, seed=5))
    with fresh_registry.session() as session:
        days = sorted({r.at.date() for r in audit.list_entries(session, limit=None)})
    assert len(days) > 30
    checked = 0
    for first in days[::3]:
        for length in (0, 1, 6):
            last = first + dt.timedelta(days=length)
            expected = _exact(fresh_registry, first, last)
            assert _filtered(fresh_registry, first, last) == expected, (first, last)
            checked += bool(expected)
    assert checked > 20
    for first, last in ((days[4], None), (None, days[-6]), (days[0] - dt.timedelta(days=9), days[1])):
        assert _filtered(fresh_registry, first, last) == _exact(fresh_registry, first, last)
    # with the other filters, and a limit that keeps the newest
    assert (_filtered(fresh_registry, days[2], days[-3], user="nurse")
            == _exact(fresh_registry, days[2], days[-3], user="nurse"))
    with fresh_registry.session() as session:
        newest = [r.seq for r in audit.list_entries(session, date_from=days[2], date_to=days[-3], limit=15)]
    assert newest == _exact(fresh_registry, days[2], days[-3])[:15]
    with fresh_registry.session() as session:
        assert audit.verify(session).ok


def test_only_an_entry_far_behind_the_newest_time_is_late(fresh_registry):
    """A late entry is found through the late entries' index; the others by seq order."""
    times = [(DESK, START), (DESK, START + dt.timedelta(hours=5)), (DESK, START + dt.timedelta(hours=4)),
             (BEHIND, START - dt.timedelta(days=2)), (DESK, START + dt.timedelta(hours=6))]
    _fill(fresh_registry, times)
    with fresh_registry.engine.connect() as conn:
        late = [bool(v) for (v,) in conn.execute(text("SELECT late FROM audit_log ORDER BY seq"))]
        newest = conn.execute(text("SELECT audit_at_max FROM registry_changes WHERE id = 1")).scalar()
    assert late == [False, False, False, True, False]  # one hour behind (a DST change) is in order
    assert str(newest).startswith("2026-03-01 13:00")
    assert _filtered(fresh_registry, dt.date(2026, 2, 27), dt.date(2026, 2, 27)) == [4]


def test_an_entry_a_few_minutes_behind_across_midnight_is_found_on_its_day(fresh_registry):
    """In-order entries are not in time order: the seq range is widened by LATE_AFTER both ways."""
    day = dt.date(2026, 3, 2)
    midnight = dt.datetime.combine(day, dt.time())
    _fill(fresh_registry, [(DESK, midnight + dt.timedelta(minutes=5)), (BEHIND, midnight - dt.timedelta(minutes=2))])
    assert _filtered(fresh_registry, None, day - dt.timedelta(days=1)) == [2]
    assert _filtered(fresh_registry, day, None) == [1]
    _fill(fresh_registry, [(DESK, midnight + dt.timedelta(hours=6))])
    assert _filtered(fresh_registry, day, day) == [3, 1]
    assert _filtered(fresh_registry, day - dt.timedelta(days=1), day - dt.timedelta(days=1)) == [2]


def _migrate(registry, how, revision: str) -> None:
    with registry.engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        how(cfg, revision)


@pytest.mark.parametrize("copied_head", [False, True])
def test_a_trail_from_before_the_upgrade_is_marked_and_filtered(fresh_registry, copied_head):
    """Entries written at 0013 (no ``late``): the upgrade marks the late ones; appends go on.
    ``copied_head``: the newest time is missing from the head (a copy that kept only seq and hash)."""
    _migrate(fresh_registry, command.downgrade, "0013_auditlean")
    assert "late" not in {c["name"] for c in inspect(fresh_registry.engine).get_columns("audit_log")}
    times = _times(60, seed=9)
    prev, at_0013 = audit.GENESIS, []
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("INSERT INTO registry_changes (id, counter) SELECT 1, 0 WHERE NOT EXISTS "
                          "(SELECT 1 FROM registry_changes WHERE id = 1)"))
        for n, (actor, at) in enumerate(times, start=1):
            values = {"seq": n, "at": at, "user_id": actor.user_id, "user_name": actor.username, "role": actor.role,
                      "workstation": actor.workstation, "action": "view_patient", "patient_ids": f",{n},",
                      "outcome": "ok", "emergency": False, "emergency_reason": None, "details": None}
            values["prev_hash"], values["hash"] = prev, audit.row_hash(values, prev)
            conn.execute(text(
                "INSERT INTO audit_log (seq, at, user_id, user_name, role, workstation, action, patient_ids, outcome, "
                "emergency, emergency_reason, details, prev_hash, hash) VALUES (:seq, :at, :user_id, :user_name, "
                ":role, :workstation, :action, :patient_ids, :outcome, :emergency, :emergency_reason, :details, "
                ":prev_hash, :hash)"), values)
            prev = values["hash"]
            at_0013.append(at)
        conn.execute(text("UPDATE registry_changes SET audit_seq = :s, audit_hash = :h WHERE id = 1"),
                     {"s": len(times), "h": prev})
    _migrate(fresh_registry, command.upgrade, "head")
    running, expected_late = None, []
    for at in at_0013:
        expected_late.append(running is not None and at < running - audit.LATE_AFTER)
        running = at if running is None or at > running else running
    with fresh_registry.engine.begin() as conn:
        late = [bool(v) for (v,) in conn.execute(text("SELECT late FROM audit_log ORDER BY seq"))]
        if copied_head:
            conn.execute(text("UPDATE registry_changes SET audit_at_max = NULL WHERE id = 1"))
    assert late == expected_late and any(late)
    more = _times(120, seed=10)[60:]  # later clinic days
    _fill(fresh_registry, more)
    with fresh_registry.session() as session:
        assert audit.verify(session).ok
    for first in (at.date() for _actor, at in times[::7] + more[::9]):
        last = first + dt.timedelta(days=2)
        assert _filtered(fresh_registry, first, last) == _exact(fresh_registry, first, last)
    with pytest.raises(Exception, match="append-only"), fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET late = NULL WHERE seq = 2"))  # the triggers came back
