"""With an encrypted registry a patient's name is nowhere in plaintext on disk, except in exports asked for.

The whole program runs in a sandbox folder (home, data, config and temp folders inside
it): import, assignment, care gaps, letters, a backup, and a registry held open with
its -wal file full. Then every file in the sandbox is scanned for the patient's name.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from panelmanager.cli import main
from panelmanager.core import encryption

NAME = "Quixotewomble"
PASSPHRASE = "a long practice passphrase"
PATIENTS = (
    "MRN,Last Name,First Name,DOB,Sex,Address,City,State,Zip,Mobile,Email,Provider\n"
    f"Q1,{NAME},Zelda,01/02/1960,F,1 Elm St,Springfield,MA,01103,(413) 555-0101,z@example.org,DR LEE\n"
    "Q2,Lee,Ann,13/45/1980,F,2 Elm St,Springfield,MA,01103,,,DR LEE\n"  # rejected: its row is kept too
)


def _files_holding(root: Path, needle: str, skip: tuple[Path, ...]) -> list[str]:
    patterns = [needle.encode(enc) for enc in ("utf-8", "utf-16-le")] + [needle.upper().encode()]
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or any(path.is_relative_to(s) for s in skip):
            continue
        data = path.read_bytes()
        if any(p in data for p in patterns):
            found.append(str(path.relative_to(root)))
    return sorted(found)


@pytest.mark.parametrize("kind", ["encrypted", "plain"])
def test_a_patient_name_is_not_on_disk_in_plaintext(tmp_path, monkeypatch, capsys, kind):
    for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_CACHE_HOME", "cache"), ("TMPDIR", "tmp"), ("SQLITE_TMPDIR", "tmp")):
        (tmp_path / sub).mkdir(exist_ok=True)
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setattr(tempfile, "tempdir", None)
    inbox, exports = tmp_path / "inbox", tmp_path / "exports"
    inbox.mkdir()
    exports.mkdir()
    (inbox / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    db = str(tmp_path / "data" / "PanelManager" / "registry.sqlite3")
    monkeypatch.setenv("PANELMANAGER_DB", db)
    monkeypatch.setenv(encryption.PASSPHRASE_ENV, PASSPHRASE)

    assert main(["--create", "stats"]) == 0  # first start: an empty registry
    if kind == "encrypted":
        assert main(["encrypt"]) == 0
        encryption.forget_key(db)  # later commands unlock it from the passphrase, as a new process would
    assert main(["--create", "import", str(inbox / "patients.csv")]) == 0
    assert main(["assign", "--as-of", "2024-03-01"]) in (0, 1)
    assert main(["gaps", "--as-of", "2024-03-01"]) == 0
    assert main(["letters", "--measure", "colorectal-cancer-screening", "--as-of", "2024-03-01",
                 "--calls", str(exports / "calls.csv")]) == 0
    assert main(["backup"]) == 0
    assert main(["stats"]) == 0
    capsys.readouterr()

    from panelmanager.core.db import open_registry

    registry = open_registry(db)  # held open: its -wal file holds the latest pages
    try:
        with registry.session() as session:
            session.connection().exec_driver_sql(
                "UPDATE patients SET last_name = last_name || '' WHERE mrn = 'Q1'"
            )
        assert Path(db + "-wal").exists()
        found = _files_holding(tmp_path, NAME, skip=(inbox, exports))
    finally:
        registry.close()
        encryption.forget_key(db)
    if kind == "encrypted":
        assert found == []
        assert _files_holding(exports, NAME, skip=()) == ["calls.csv"]  # the exports asked for
    else:  # the control: the same scan does find the name in a plain registry
        assert any(f.endswith("registry.sqlite3") or f.endswith("-wal") for f in found)
