"""The registry, its folder, its -wal/-shm files and every export are owner-only (POSIX)."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from panelmanager.core import models as m
from panelmanager.core.db import open_registry
from panelmanager.core.people import Contact, GapItem
from panelmanager.core.reports.calllist import write_call_list
from panelmanager.core.reports.common import Letterhead
from panelmanager.core.reports.portal_export import write_portal_export

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_registry_its_folder_and_wal_files_are_owner_only(tmp_path):
    path = tmp_path / "new" / "deeper" / "registry.sqlite3"
    registry = open_registry(path, create=True)
    try:
        with registry.session() as session:
            session.add(m.Patient(mrn="1", first_name="Ann", last_name="Lee", source="t", status="active"))
        assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
        assert mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert side.exists() and mode(side) == 0o600, suffix
    finally:
        registry.close()


def test_an_existing_world_readable_registry_is_tightened_on_open(tmp_path):
    path = tmp_path / "registry.sqlite3"
    open_registry(path, create=True).close()
    os.chmod(path, 0o644)
    registry = open_registry(path)
    registry.close()
    assert mode(path) == 0o600


def test_exports_are_owner_only_even_under_a_permissive_umask(tmp_path):
    contact = Contact(patient_id=1, mrn="A1", first_name="Ann", last_name="Lee", dob=dt.date(1960, 1, 1),
                      phone_mobile="(413) 555-0101", email="a@example.org",
                      gaps=(GapItem(measure_id="colorectal-cancer-screening", title="Colorectal cancer screening",
                                    phrase="a colon cancer screening"),))
    letterhead = Letterhead(practice_name="Riverside", phone="(413) 555-0100")
    previous = os.umask(0o000)
    try:
        for name in ("calls.csv", "calls.xlsx", "calls.pdf"):
            write_call_list([contact], tmp_path / name, on=dt.date(2024, 3, 1))
        write_portal_export([contact], tmp_path / "portal.csv", letterhead=letterhead, on=dt.date(2024, 3, 1))
    finally:
        os.umask(previous)
    for name in ("calls.csv", "calls.xlsx", "calls.pdf", "portal.csv"):
        assert mode(tmp_path / name) == 0o600, name
    assert not list(tmp_path.glob("*.part"))
