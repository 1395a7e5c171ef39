"""Hear at once that another workstation changed a PostgreSQL registry (LISTEN/NOTIFY, issue 13).

Every write service bumps the registry's change counter (``concurrency.begin_write``); on
PostgreSQL the same transaction also sends ``NOTIFY panelmanager_changes``, which the server
delivers to every listening connection when (and only if) the transaction commits. A
``ChangeListener`` keeps one dedicated autocommit connection that LISTENs on that channel;
``pending()`` reads what has arrived on its socket without a round trip to the server, so a
screen can call it every few hundred milliseconds (or when ``fileno()`` becomes readable)
and reload within about a second of a change made anywhere.

SQLite has no such channel: ``ChangeListener.open`` returns None there and the screens keep
polling the change counter (``concurrency.ChangeWatcher``). A listener whose connection was
lost says so by raising from ``pending()``; the caller falls back to the counter poll, which
keeps running on PostgreSQL too as a safety net.
"""

from __future__ import annotations

from panelmanager.core.db import Registry

CHANGE_CHANNEL = "panelmanager_changes"


def notify_sql() -> str:
    """The statement a write transaction runs on PostgreSQL to wake the listeners at commit."""
    return f"NOTIFY {CHANGE_CHANNEL}"


class ChangeListener:
    """One LISTENing connection to a PostgreSQL registry."""

    def __init__(self, conn) -> None:
        self._conn = conn  # a psycopg connection of its own, out of the registry's pool

    @classmethod
    def open(cls, registry: Registry) -> ChangeListener | None:
        """A listener on ``registry``, or None when it is not PostgreSQL."""
        if registry.engine.dialect.name != "postgresql":
            return None
        # The registry's own engine connects it (same host, TLS, role and password source);
        # detached, it leaves the pool and is this listener's alone.
        raw = registry.engine.raw_connection()
        conn = raw.driver_connection
        assert conn is not None  # a connection just taken from the pool is open
        raw.detach()
        try:
            conn.rollback()  # whatever the pool's ping opened
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANGE_CHANNEL}")
        except Exception:
            conn.close()
            raise
        return cls(conn)

    def fileno(self) -> int:
        """The connection's socket, readable when a notification (or anything) arrives."""
        return self._conn.fileno()

    def pending(self) -> bool:
        """True when at least one change was notified since the last call (all are consumed)."""
        return sum(1 for _ in self._conn.notifies(timeout=0)) > 0

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - a connection already lost needs no closing
            pass
