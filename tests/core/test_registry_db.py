"""Opening registries: default location, --db / PANELMANAGER_DB, pragmas, migrations, newer versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from panelmanager.core.db import (
    RegistryError,
    default_registry_path,
    open_registry,
    resolve_registry_url,
    schema_heads,
)


@pytest.mark.sqlite_only
def test_sqlite_registry_runs_with_wal_foreign_keys_full_sync_and_busy_timeout(fresh_registry):
    with fresh_registry.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_opening_a_registry_applies_every_migration(fresh_registry):
    with fresh_registry.engine.connect() as conn:
        versions = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    tables = set(inspect(fresh_registry.engine).get_table_names())
    assert versions == schema_heads()
    assert {"patients", "providers", "visits", "observations", "immunizations", "procedures", "conditions",
            "import_batches", "rejected_rows", "locations", "patient_identifiers"} <= tables


def test_reopening_a_registry_keeps_its_data(registry_path: Path):
    first = open_registry(registry_path, create=True)
    with first.session() as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('probe', 'kept')"))
    first.close()
    second = open_registry(registry_path, create=True)
    with second.session() as session:
        assert session.execute(text("SELECT value FROM settings WHERE key='probe'")).scalar() == "kept"
    second.close()


def test_a_registry_from_a_newer_version_is_refused_and_left_untouched(registry_path: Path):
    registry = open_registry(registry_path, create=True)
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    registry.close()
    before = registry_path.read_bytes()
    with pytest.raises(RegistryError, match="newer version of Panel Manager"):
        open_registry(registry_path, create=True)
    assert registry_path.read_bytes() == before


def test_db_option_beats_environment_variable_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("PANELMANAGER_DB", str(tmp_path / "from-env.sqlite3"))
    assert resolve_registry_url(tmp_path / "given.sqlite3").database.endswith("given.sqlite3")
    assert resolve_registry_url(None).database.endswith("from-env.sqlite3")
    monkeypatch.delenv("PANELMANAGER_DB")
    assert resolve_registry_url(None).database == str(default_registry_path().resolve())


def test_default_registry_lives_in_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path = default_registry_path()
    assert path.name == "registry.sqlite3"
    assert "PanelManager" in path.parts


def test_postgresql_urls_are_accepted_as_urls_not_paths():
    url = resolve_registry_url("postgresql://clinic:secret@db.local/panel")
    assert url.get_backend_name() == "postgresql"
    assert url.database == "panel"


def test_a_malformed_url_gives_a_clear_error():
    with pytest.raises(RegistryError, match="not a database URL"):
        resolve_registry_url("nosuchdialect+x://")


def test_a_registry_folder_that_cannot_be_created_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RegistryError, match="Cannot create the registry folder"):
        open_registry(blocker / "sub" / "registry.sqlite3", create=True)
