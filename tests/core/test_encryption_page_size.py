"""Encrypted registries: new ones get bigger cipher pages, older ones keep theirs and still open."""

from __future__ import annotations

import pytest

from panelmanager.core import encryption

pytestmark = pytest.mark.skipif(not encryption.available(), reason="SQLCipher driver not installed")


def _page_size(path, key) -> int:
    conn = encryption.connect(path, key=key)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def _legacy_registry(path, key) -> None:
    """A registry encrypted before this change: SQLCipher 4's default 4 KiB pages."""
    conn = encryption._driver().connect(str(path))
    conn.execute(f'PRAGMA key = "{key}"')
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("INSERT INTO t VALUES ('kept')")
    conn.commit()
    conn.close()


def test_a_new_encrypted_registry_gets_the_new_page_size(tmp_path):
    key = encryption.new_random_key()
    path = tmp_path / "new.sqlite3"
    conn = encryption.connect(path, key=key)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.commit()
    conn.close()
    encryption._PAGE_SIZES.clear()  # as a new process would
    assert _page_size(path, key) == encryption.CIPHER_PAGE_SIZE


def test_a_registry_encrypted_with_the_old_page_size_still_opens(tmp_path):
    key = encryption.new_random_key()
    path = tmp_path / "old.sqlite3"
    _legacy_registry(path, key)
    encryption._PAGE_SIZES.clear()
    assert _page_size(path, key) == encryption.LEGACY_CIPHER_PAGE_SIZE
    conn = encryption.connect(path, key=key)
    assert conn.execute("SELECT x FROM t").fetchall() == [("kept",)]
    conn.close()
    # A copy (backup, conversion) is a new file: it gets the new size and opens too.
    copy = tmp_path / "copy.sqlite3"
    encryption.copy_database(path, copy, key=key, target_key=key)
    assert _page_size(copy, key) == encryption.CIPHER_PAGE_SIZE
    assert _page_size(path, key) == encryption.LEGACY_CIPHER_PAGE_SIZE


def test_a_wrong_key_is_still_refused(tmp_path):
    key = encryption.new_random_key()
    path = tmp_path / "old.sqlite3"
    _legacy_registry(path, key)
    with pytest.raises(encryption.EncryptionError, match="does not open the registry"):
        encryption._check_key(path, encryption.new_random_key())
    encryption._check_key(path, key)
