"""Other workstations hear a change at once on PostgreSQL (LISTEN/NOTIFY, issue 13).

A write that commits on one connection is notified on another connection's listener; a
write that rolls back is not. SQLite has no channel: there is no listener and the screens
poll the change counter (tests/core/test_concurrency.py).
"""

from __future__ import annotations

import time

import pytest

from panelmanager.core.change_listener import ChangeListener
from panelmanager.core.concurrency import begin_write, run_write
from panelmanager.core.db import open_registry
from panelmanager.core.empanelment import confirm_assignment


def _heard(listener: ChangeListener, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if listener.pending():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def other(registry_url):
    registry = open_registry(registry_url)  # the MA's workstation
    yield registry
    registry.close()


def test_a_commit_on_one_connection_is_notified_on_another(fresh_registry, clinic_ids, other, registry_backend):
    listener = ChangeListener.open(other)
    if not registry_backend.startswith("postgresql"):
        assert listener is None  # SQLite: the counter poll does it
        return
    try:
        assert listener.pending() is False
        started = time.monotonic()
        run_write(fresh_registry, confirm_assignment, clinic_ids["alice"], by="patient", user="desk")
        assert _heard(listener)
        assert time.monotonic() - started < 2.0
        assert listener.pending() is False  # consumed: one change, one wake-up
    finally:
        listener.close()


def test_a_write_that_rolls_back_is_not_notified(fresh_registry, other, registry_backend):
    listener = ChangeListener.open(other)
    if listener is None:
        pytest.skip("no notification channel on SQLite")
    try:
        with fresh_registry.session() as session:
            begin_write(session)
            session.rollback()
        assert _heard(listener, within=0.5) is False
        with fresh_registry.session() as session:
            begin_write(session)
            session.commit()
        assert _heard(listener)
    finally:
        listener.close()
