"""The connection settings issue 15's cost-of-encryption figures were measured with are in effect.

An encrypted registry's connections get: no per-allocation memory wiping
(``cipher_memory_security`` off), a 64 MB page cache, temporary tables in memory, and a
driver that binds ``None`` as NULL without searching for an adapter each time
(``encryption.bind_none_directly``), which must not change what is stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from panelmanager.core import encryption
from panelmanager.core.db import open_registry

pytestmark = pytest.mark.skipif(not encryption.available(), reason="SQLCipher driver not installed")


@pytest.fixture
def encrypted_registry(tmp_path):
    path = tmp_path / "registry.sqlite3"
    encryption.register_key(path, encryption.new_random_key())
    registry = open_registry(path, create=True)
    yield registry
    registry.close()
    encryption.forget_key(path)


def test_an_opened_encrypted_registry_has_the_measured_settings(encrypted_registry):
    with encrypted_registry.engine.connect() as conn:
        assert str(conn.execute(text("PRAGMA cipher_memory_security")).scalar()) == "0"
        assert int(conn.execute(text("PRAGMA cache_size")).scalar()) == -encryption.ENCRYPTED_CACHE_KIB
        assert int(conn.execute(text("PRAGMA temp_store")).scalar()) == 2  # MEMORY
        assert int(conn.execute(text("PRAGMA cipher_page_size")).scalar()) == encryption.CIPHER_PAGE_SIZE
        assert str(conn.execute(text("PRAGMA cipher_use_hmac")).scalar()) == "1"  # tamper evidence kept


def test_none_is_bound_directly_and_still_stored_as_null(encrypted_registry):
    driver = encryption._driver()
    assert (type(None), driver.PrepareProtocol) in driver.adapters
    with encrypted_registry.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?)", [(None, 1, "x"), ("y", None, None)])
        conn.execute(text("INSERT INTO t VALUES (:a, :b, :c)"), {"a": None, "b": None, "c": "z"})
        rows = conn.exec_driver_sql("SELECT typeof(a), typeof(b), typeof(c), a, b, c FROM t ORDER BY rowid").fetchall()
    assert rows == [
        ("null", "integer", "text", None, 1, "x"),
        ("text", "null", "null", "y", None, None),
        ("null", "null", "text", None, None, "z"),
    ]
