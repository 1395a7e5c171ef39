"""Connection settings for the import's bulk load (SQLite only; PostgreSQL keeps its own).

An import writes millions of rows in one transaction. On SQLite three connection settings
make that cheaper without changing what is written (issue 16, measured in
``tests/benchmarks/bench_import.py``):

- ``foreign_keys=OFF``: SQLite would look up the parent row of every reference on every
  insert (an observation: its patient and its visit). The importer never writes a
  reference it has not resolved itself: every ``patient_ref``/``provider_ref``/
  ``location_ref``/``visit_ref`` is mapped to an id read from the registry inside the
  same transaction (``writer._resolve_refs``), a row whose required patient is unknown
  is rejected with its file, row and fix, and an optional reference that resolves to
  nothing is stored as NULL. The pragma only takes effect outside a transaction, so it is
  set before the import's BEGIN and restored after its COMMIT/ROLLBACK, before the
  connection goes back to the pool.
- ``cache_size``: 64 MB of page cache for this connection (SQLite's default is 2 MB):
  the unique natural-key indexes and the plain indexes rebuilt after a first load stay
  in memory instead of being re-read from the file for every page (64-128 MB: -15% at
  100,000 patients in issue 16's measurements; every MB of cache used is a MB of peak
  memory, and 128 MB showed +90 MB peak at 10,000 patients here).
- ``threads``: lets SQLite sort with a helper thread while it builds an index.

PostgreSQL (and a dry run, which runs inside the caller's open transaction) is left as
it is: its foreign keys stay checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

IMPORT_CACHE_KIB = 64 * 1024
IMPORT_SORT_THREADS = 2


@contextmanager
def bulk_load_settings(conn) -> Iterator[None]:
    """Around one import transaction on ``conn`` (a SQLAlchemy Connection not yet begun)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi.in_transaction:  # pragmas below would be ignored (foreign_keys) or leak: leave as is
        yield
        return
    cursor = dbapi.cursor()
    try:
        cache = cursor.execute("PRAGMA cache_size").fetchone()[0]
        threads = cursor.execute("PRAGMA threads").fetchone()[0]
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        cursor.execute(f"PRAGMA threads={IMPORT_SORT_THREADS}")
    finally:
        cursor.close()
    try:
        yield
    finally:
        cursor = dbapi.cursor()
        try:
            if dbapi.in_transaction:  # never leave the connection's checks off inside an open transaction
                dbapi.rollback()
            from panelmanager.core.importers.staging import drop_leftovers

            drop_leftovers(dbapi)  # a staged import's TEMP tables (importers.staging)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA cache_size={int(cache)}")
            cursor.execute(f"PRAGMA threads={int(threads)}")
            # Give the cache back now rather than when the pool closes the connection.
            cursor.execute("PRAGMA shrink_memory")
        finally:
            cursor.close()
