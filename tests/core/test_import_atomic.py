"""An import is all or nothing: a failure or a cancel part-way leaves the registry as it was."""

from __future__ import annotations

import shutil
import sqlite3

import pandas as pd
import pytest
import sqlalchemy.exc
from sqlalchemy import select

from panelmanager.core import models
from panelmanager.core.importers import run_import, synthea, writer
from panelmanager.core.jobs import Cancelled, CancelToken
from panelmanager.core.stats import registry_stats

MAYNARD = "3edac2e3-d223-6fae-d515-daf96ef6bc76"
DATA_TABLES = ("patients", "providers", "locations", "visits", "observations", "immunizations", "procedures",
               "conditions", "medications")


def data_counts(registry) -> dict[str, int]:
    with registry.session() as session:
        counts = registry_stats(session)
    return {name: counts[name] for name in DATA_TABLES}


def batches(registry) -> list[tuple[str, str | None]]:
    with registry.session() as session:
        return [(b.outcome, b.message) for b in session.scalars(select(models.ImportBatch).order_by(models.ImportBatch.id))]


def fail_at(monkeypatch, table: str, error: BaseException) -> None:
    """The writer raises ``error`` as it reaches ``table``, whether that table comes whole
    (``_sync_table``) or in parts (``_sync_event_parts``: an event file read in chunks)."""
    for function in ("_sync_table", "_sync_event_parts"):
        real = getattr(writer, function)

        def failing(conn, name, *args, _real=real, **kwargs):
            if name == table:
                raise error
            return _real(conn, name, *args, **kwargs)

        monkeypatch.setattr(writer, function, failing)


@pytest.fixture
def observations_fail(monkeypatch):
    """The writer raises as it reaches observations, after patients and visits were written."""
    fail_at(monkeypatch, "observations", RuntimeError("disk went away"))


def test_failure_part_way_keeps_nothing(fresh_registry, synthea_small, observations_fail):
    [outcome] = run_import(fresh_registry, [synthea_small], user="test")

    assert not outcome.ok
    assert "Nothing from this file was kept" in outcome.error
    assert "disk went away" in outcome.error
    assert (outcome.new, outcome.updated) == (0, 0)
    assert data_counts(fresh_registry) == dict.fromkeys(DATA_TABLES, 0)
    [(result, message)] = batches(fresh_registry)
    assert result == "failed" and "Nothing from this file was kept" in message


def test_failure_part_way_keeps_the_earlier_import_intact(fresh_registry, synthea_small, tmp_path, monkeypatch):
    [first] = run_import(fresh_registry, [synthea_small], user="test")
    assert first.ok
    before = data_counts(fresh_registry)
    newer = tmp_path / "newer"
    shutil.copytree(synthea_small, newer, copy_function=shutil.copyfile)
    patients = pd.read_csv(newer / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[patients["Id"] == MAYNARD, "ADDRESS"] = "12 New Road"
    patients.to_csv(newer / "patients.csv", index=False)
    fail_at(monkeypatch, "observations", RuntimeError("disk went away"))

    [outcome] = run_import(fresh_registry, [newer], user="test")

    assert not outcome.ok and "Nothing from this file was kept" in outcome.error
    assert data_counts(fresh_registry) == before
    with fresh_registry.session() as session:
        maynard = session.scalars(select(models.Patient).where(models.Patient.mrn == MAYNARD)).one()
        assert maynard.address1 == "784 Stamm Lock Unit 46"  # the patients step was rolled back too


def test_a_database_error_message_does_not_carry_patient_data(fresh_registry, synthea_small, monkeypatch):
    fail_at(monkeypatch, "visits", sqlalchemy.exc.IntegrityError(
        "INSERT INTO patients ...", {"first_name": "Maynard", "mrn": MAYNARD},
        sqlite3.IntegrityError("UNIQUE constraint failed: visits.source, visits.external_id"),
    ))

    [outcome] = run_import(fresh_registry, [synthea_small], user="test")

    assert not outcome.ok
    assert "UNIQUE constraint failed" in outcome.error
    assert "Maynard" not in outcome.error and MAYNARD not in outcome.error
    assert data_counts(fresh_registry)["patients"] == 0


def test_failure_in_a_later_part_of_a_file_keeps_nothing(fresh_registry, synthea_small, monkeypatch):
    # observations.csv (990 rows) read 200 rows at a time: two parts are written (staged)
    # before the third fails; none of them, nor anything before, may stay.
    monkeypatch.setattr(synthea, "CHUNK_ROWS", 200)
    real, parts = writer._split, []

    def failing(frame, lookup, key):
        if key == "natural_key":
            parts.append(len(frame))
            if len(parts) == 3:
                raise RuntimeError("disk went away")
        return real(frame, lookup, key)

    monkeypatch.setattr(writer, "_split", failing)

    [outcome] = run_import(fresh_registry, [synthea_small], user="test")

    assert len(parts) == 3
    assert not outcome.ok and "Nothing from this file was kept" in outcome.error
    assert data_counts(fresh_registry) == dict.fromkeys(DATA_TABLES, 0)
    monkeypatch.setattr(writer, "_split", real)  # the same connection, used again, imports it all
    [again] = run_import(fresh_registry, [synthea_small], user="test")
    assert again.ok and data_counts(fresh_registry)["observations"] == 990


@pytest.mark.parametrize("stage", ["Reading encounters.csv", "Writing visits", "Writing observations"])
def test_cancel_mid_way_raises_and_keeps_nothing(fresh_registry, synthea_small, stage):
    token = CancelToken()
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)
        if stage in message:
            token.cancel()

    with pytest.raises(Cancelled):
        run_import(fresh_registry, [synthea_small], user="test", progress=progress, cancel=token)

    assert any(stage in m for m in seen)
    assert data_counts(fresh_registry) == dict.fromkeys(DATA_TABLES, 0)
    [(result, message)] = batches(fresh_registry)
    assert result == "cancelled" and "nothing from this file was kept" in message


def test_cancelling_a_reimport_keeps_the_first_import(fresh_registry, synthea_small):
    run_import(fresh_registry, [synthea_small], user="test")
    before = data_counts(fresh_registry)
    token = CancelToken()

    def progress(done: int, total: int, message: str = "") -> None:
        if "Writing observations" in message:
            token.cancel()

    with pytest.raises(Cancelled):
        # force: an unchanged folder is otherwise skipped (issue 16) and there is nothing to cancel.
        run_import(fresh_registry, [synthea_small], user="test", progress=progress, cancel=token, force=True)

    assert data_counts(fresh_registry) == before


def test_dry_run_counts_but_writes_nothing(fresh_registry, synthea_small):
    [outcome] = run_import(fresh_registry, [synthea_small], user="test", dry_run=True)

    assert outcome.ok and outcome.dry_run
    assert outcome.tables["patients"]["new"] == 27
    assert outcome.tables["observations"]["new"] == 990
    assert data_counts(fresh_registry) == dict.fromkeys(DATA_TABLES, 0)
    assert batches(fresh_registry) == []
