"""Importing a file again that is exactly what was last imported, with nothing changed since,
skips the work and reports every row unchanged (issue 16); any change makes it a real import."""

from __future__ import annotations

import shutil

from sqlalchemy import select, text

from panelmanager.core import models
from panelmanager.core.concurrency import begin_write
from panelmanager.core.importers import run_import, skip

PM_PATIENTS = (
    "patientid,patient firstname,patient lastname,patientdob,patientsex,patient address1,patient city,"
    "patient state,patient zip\n"
    "101,Ana,Lopez,03/04/1980,F,1 Main St,Springfield,MA,01101\n"
    "102,Ben,Okafor,11/12/1975,M,2 Oak Ave,Springfield,MA,01102\n"
)


def _batches(registry) -> list[models.ImportBatch]:
    with registry.session() as session:
        rows = session.scalars(select(models.ImportBatch).order_by(models.ImportBatch.id)).all()
        session.expunge_all()
        return list(rows)


def test_unchanged_folder_is_skipped_with_the_same_accounting(fresh_registry, synthea_small, monkeypatch):
    [first] = run_import(fresh_registry, [synthea_small], user="test")
    assert first.ok and first.new > 0

    calls = []
    from panelmanager.core import importers

    real = importers.parse_path
    monkeypatch.setattr(importers, "parse_path", lambda *a, **k: calls.append(1) or real(*a, **k))
    [again] = run_import(fresh_registry, [synthea_small], user="test")

    assert again.ok and calls == []  # nothing parsed
    assert (again.new, again.updated) == (0, 0)
    assert again.unchanged == first.new + first.updated + first.unchanged
    assert again.rows_read == first.rows_read and again.imported == first.imported
    assert again.files == first.files and again.accounted
    assert {name: c["unchanged"] for name, c in again.tables.items()} == {
        name: c["new"] for name, c in first.tables.items()
    }
    assert [(r.file_name, r.source_row, r.reason) for r in again.rejections] == [
        (r.file_name, r.source_row, r.reason) for r in first.rejections
    ]
    last = _batches(fresh_registry)[-1]
    assert last.outcome == "committed" and last.import_key and last.id == again.batch_id


def test_a_changed_file_is_imported(fresh_registry, synthea_small, tmp_path):
    folder = tmp_path / "synthea"
    shutil.copytree(synthea_small, folder)
    run_import(fresh_registry, [folder], user="test")
    patients = (folder / "patients.csv").read_text(encoding="utf-8").splitlines()
    patients[1] = patients[1].replace("784 Stamm Lock Unit 46", "785 Stamm Lock Unit 46")
    (folder / "patients.csv").write_text("\n".join(patients) + "\n", encoding="utf-8")

    [again] = run_import(fresh_registry, [folder], user="test")

    assert again.ok and again.updated == 1


def test_a_write_service_in_between_means_a_real_import(fresh_registry, synthea_small, monkeypatch):
    run_import(fresh_registry, [synthea_small], user="test")
    with fresh_registry.session() as session:
        begin_write(session)  # what every write service does first (assignments, settings, outreach...)
    calls = []
    from panelmanager.core import importers

    real = importers.parse_path
    monkeypatch.setattr(importers, "parse_path", lambda *a, **k: calls.append(1) or real(*a, **k))

    [again] = run_import(fresh_registry, [synthea_small], user="test")

    assert again.ok and calls == [1] and again.new == 0


def test_another_import_that_wrote_in_between_means_a_real_import(fresh_registry, tmp_path, monkeypatch):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text(PM_PATIENTS, encoding="utf-8")
    two.write_text(PM_PATIENTS.replace("1 Main St", "9 Elm St"), encoding="utf-8")
    run_import(fresh_registry, [one], user="test")
    [second] = run_import(fresh_registry, [two], user="test")
    assert second.updated == 1

    [again] = run_import(fresh_registry, [one], user="test")

    assert again.ok and again.updated == 1  # "one" is re-applied over what "two" wrote


def test_a_different_mapping_or_profile_is_not_skipped(fresh_registry, tmp_path, monkeypatch):
    path = tmp_path / "patients.csv"
    path.write_text(PM_PATIENTS, encoding="utf-8")
    [first] = run_import(fresh_registry, [path], user="test")
    assert first.ok and first.new == 2
    keys = {skip.import_key("pm-csv", "abc", profile=None, mapping=None, encoding=None)}
    keys.add(skip.import_key("pm-csv", "abc", profile=None, mapping={"first_name": "patient lastname"}, encoding=None))
    keys.add(skip.import_key("pm-csv", "abc", profile="athenahealth", mapping=None, encoding=None))
    keys.add(skip.import_key("pm-csv", "abc", profile=None, mapping=None, encoding="cp1252"))
    assert len(keys) == 4

    calls = []
    from panelmanager.core import importers

    real = importers.parse_path
    monkeypatch.setattr(importers, "parse_path", lambda *a, **k: calls.append(1) or real(*a, **k))
    [mapped] = run_import(fresh_registry, [path], user="test", mapping={"address1": "patient city"})
    assert mapped.ok and calls == [1]

    # An edited profile definition changes the key of every PM file.
    before = skip.import_key("pm-csv", "abc", profile=None, mapping=None, encoding=None)
    profiles = tmp_path / "profiles"
    from panelmanager.core.importers import profiles as profiles_module

    shutil.copytree(profiles_module.profiles_dir(), profiles)
    monkeypatch.setattr(profiles_module, "profiles_dir", lambda: profiles)
    assert skip.import_key("pm-csv", "abc", profile=None, mapping=None, encoding=None) == before
    extra = profiles / "zz_practice.toml"
    extra.write_text("# a practice's own profile\n", encoding="utf-8")
    assert skip.import_key("pm-csv", "abc", profile=None, mapping=None, encoding=None) != before


def test_a_dry_run_is_never_skipped(fresh_registry, synthea_small):
    [first] = run_import(fresh_registry, [synthea_small], user="test")
    [preview] = run_import(fresh_registry, [synthea_small], user="test", dry_run=True)

    assert preview.ok and preview.dry_run and preview.batch_id is None
    assert preview.unchanged == first.new and preview.new == 0


def test_foreign_keys_are_checked_again_after_an_import(fresh_registry, synthea_small):
    with fresh_registry.engine.connect() as conn:  # the connection's own cache (an encrypted one has a larger one)
        usual_cache = conn.execute(text("PRAGMA cache_size")).scalar() if conn.dialect.name == "sqlite" else None
    [outcome] = run_import(fresh_registry, [synthea_small], user="test")
    assert outcome.ok
    if fresh_registry.engine.dialect.name != "sqlite":
        return  # PostgreSQL keeps its checks on throughout
    with fresh_registry.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        assert conn.execute(text("PRAGMA cache_size")).scalar() == usual_cache  # the import's cache is given back


def test_force_imports_an_unchanged_file_again(fresh_registry, synthea_small, monkeypatch):
    run_import(fresh_registry, [synthea_small], user="test")
    calls = []
    from panelmanager.core import importers

    real = importers.parse_path
    monkeypatch.setattr(importers, "parse_path", lambda *a, **k: calls.append(1) or real(*a, **k))

    [again] = run_import(fresh_registry, [synthea_small], user="test", force=True)

    assert again.ok and calls == [1] and (again.new, again.updated) == (0, 0) and again.unchanged > 0
