"""encrypt / decrypt: the registry and its backups change form together; a wrong passphrase is a message."""

from __future__ import annotations

from panelmanager.cli import main
from panelmanager.core import encryption
from panelmanager.core.backup import list_backups


def test_encrypt_then_decrypt_a_registry_and_its_backups(tmp_path, monkeypatch, capsys):
    db = tmp_path / "registry.sqlite3"
    assert main(["--db", str(db), "--create", "demo", "--patients", "30"]) == 0
    assert main(["--db", str(db), "backup"]) == 0
    monkeypatch.setenv(encryption.PASSPHRASE_ENV, "short")
    assert main(["--db", str(db), "encrypt"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err and not encryption.is_encrypted(db)

    monkeypatch.setenv(encryption.PASSPHRASE_ENV, "a good passphrase")
    assert main(["--db", str(db), "encrypt"]) == 0
    assert "comes from your passphrase" in capsys.readouterr().out
    assert encryption.is_encrypted(db)
    assert all(encryption.is_encrypted(p) for _w, _r, p in list_backups(db))
    encryption.forget_key(db)

    monkeypatch.setenv(encryption.PASSPHRASE_ENV, "not the passphrase")
    assert main(["--db", str(db), "stats"]) == 1
    err = capsys.readouterr().err
    assert "does not open the registry" in err and "Traceback" not in err
    monkeypatch.delenv(encryption.PASSPHRASE_ENV)
    assert main(["--db", str(db), "stats"]) == 1
    assert "is encrypted" in capsys.readouterr().err

    monkeypatch.setenv(encryption.PASSPHRASE_ENV, "a good passphrase")
    assert main(["--db", str(db), "stats", "--json"]) == 0
    assert '"patients": 30' in capsys.readouterr().out
    assert main(["--db", str(db), "decrypt"]) == 0
    assert not encryption.is_encrypted(db)
    assert not any(encryption.is_encrypted(p) for _w, _r, p in list_backups(db))
    monkeypatch.delenv(encryption.PASSPHRASE_ENV)
    assert main(["--db", str(db), "stats"]) == 0
