"""Where a staged SQLite import keeps the rows it planned (importers.staging, issue 13).

On an encrypted registry the rows wait in an attached scratch database, encrypted with a key
that only the importing connection holds (not in memory: 1.4 GB at 100,000 patients), and
the scratch file is gone once the import is done.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from panelmanager.core.importers import run_import
from panelmanager.core.importers.staging import STAGE_FOLDER_PREFIX


def _scratch_files() -> list[Path]:
    base = Path(tempfile.gettempdir())
    mine = f"{STAGE_FOLDER_PREFIX}{os.getpid()}-"
    return [p / "stage.db" for p in base.iterdir() if p.name.startswith(mine)]


@pytest.mark.parametrize("registry_kind", ["encrypted"], indirect=True)
def test_an_encrypted_registrys_planned_rows_wait_encrypted_on_disk_and_are_removed(fresh_registry, registry_backend,
                                                                                     synthea_small):
    if registry_backend == "postgresql":
        pytest.skip("PostgreSQL stages nothing (COPY, MVCC)")
    headers: list[bytes] = []

    def look_while_applying(_done: int, _total: int, message: str = "") -> None:
        if "Saving observations" in message and not headers:  # planned, being applied
            [scratch] = _scratch_files()
            headers.append(scratch.read_bytes()[:16])

    [outcome] = run_import(fresh_registry, [synthea_small], write_rejects=False, user="test",
                           progress=look_while_applying)
    assert outcome.ok and outcome.new > 0
    assert headers and headers[0] != b"SQLite format 3\x00" and len(headers[0]) == 16  # written, and encrypted
    assert _scratch_files() == []  # removed with the import
