"""Issue 9 item 6: a foreign or mistyped registry is refused unchanged; creating one is explicit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from panelmanager.core.db import RegistryError, open_registry


def _foreign_sqlite(path: Path, table: str = "customers") -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute(f"INSERT INTO {table} (name) VALUES ('kept')")
    conn.commit()
    conn.close()
    return path


def test_another_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path):
    path = _foreign_sqlite(tmp_path / "accounts.sqlite3")
    before = path.read_bytes()
    with pytest.raises(RegistryError, match="is not a Panel Manager registry: it holds other tables \\(customers\\)"):
        open_registry(path)
    with pytest.raises(RegistryError, match="not a Panel Manager registry"):
        open_registry(path, create=True)  # --create never converts someone else's file
    assert path.read_bytes() == before


def test_a_file_with_a_clashing_table_name_is_refused_and_can_still_be_opened_by_its_owner(tmp_path):
    path = _foreign_sqlite(tmp_path / "other.db", table="patients")
    with pytest.raises(RegistryError, match="not a Panel Manager registry"):
        open_registry(path, create=True)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"patients"} and conn.execute("SELECT name FROM patients").fetchall() == [("kept",)]
    conn.close()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("MRN,NAME\n1,Someone\n")
    with pytest.raises(RegistryError, match="not a SQLite database at all"):
        open_registry(path, create=True)
    assert path.read_text() == "MRN,NAME\n1,Someone\n"


def test_a_mistyped_path_is_refused_and_nothing_is_created(tmp_path):
    path = tmp_path / "registy.sqlite3"
    with pytest.raises(RegistryError, match="There is no registry at .*registy.sqlite3.*--create"):
        open_registry(path)
    assert not path.exists()


def test_a_mistyped_folder_says_so(tmp_path):
    with pytest.raises(RegistryError, match="the folder .* does not exist either"):
        open_registry(tmp_path / "no-such-folder" / "registry.sqlite3")
    assert not (tmp_path / "no-such-folder").exists()


def test_create_makes_a_new_registry_which_then_opens_without_it(tmp_path):
    path = tmp_path / "new.sqlite3"
    open_registry(path, create=True).close()
    open_registry(path).close()


def test_an_empty_sqlite_file_needs_create(tmp_path):
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()  # a zero-byte file, as some tools leave
    with pytest.raises(RegistryError, match="There is no registry"):
        open_registry(path)
    open_registry(path, create=True).close()
