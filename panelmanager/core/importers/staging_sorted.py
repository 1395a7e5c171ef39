"""A staged insert that arrives in parts and is applied as one, in key order (issue 16).

An event file read in chunks (``writer.TableChunks``) gives its new rows part by part.
Each part goes into a TEMP table of its own as it comes (``staging.Stage._stage``, the
same value conversion as any staged row), so Python holds one part at a time. When the
last part is in, ``finish`` copies them, sorted by the natural key, into one TEMP table
whose ``INTEGER PRIMARY KEY`` numbers them from the table's next id, and registers that
table as one staged insert: the registry then receives exactly the rows and ids a
whole-file import gives (new rows in key order, so the unique key index grows at its
end), and the sort runs in SQLite's sorter over the TEMP tables instead of in pandas
over a frame of the whole file.

This uses ``staging.Stage``'s plan side (its TEMP-table writer, id counter and list of
operations); the apply side is untouched.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Table
from sqlalchemy.sql.schema import ColumnDefault

from panelmanager.core.importers import staging

# SQLite refuses a compound SELECT of more than 500 parts (SQLITE_MAX_COMPOUND_SELECT).
_UNION_PARTS = 200


class SortedStage:
    def __init__(self, conn, table: Table, stage: staging.Stage, key: str) -> None:
        self.conn = conn
        self.table = table
        self.stage = stage
        self.key = key
        self.parts: list[str] = []
        self.columns: list[str] | None = None
        self.rows = 0
        self._final: str | None = None

    def add(self, frame: pd.DataFrame) -> None:
        """Stage one part's new rows (any order; no ids yet)."""
        if frame.empty:
            return
        # Core insert() fills the models' Python-side defaults for absent columns (as Stage.insert).
        for column in self.table.c:
            if (column.name != "id" and column.name not in frame.columns and isinstance(column.default, ColumnDefault)
                    and column.default.is_scalar):
                frame = frame.assign(**{column.name: column.default.arg})
        if self.columns is None:
            self.columns = list(frame.columns)
        self.parts.append(self.stage._stage(self.table, frame[self.columns]))
        self.rows += len(frame)

    def _execute(self, sql: str, parameters: tuple = ()) -> None:
        staging._dbapi(self.conn).execute(sql, parameters)

    def finish(self) -> int:
        """Number every staged row in key order from the table's next id; one staged insert."""
        if not self.parts or self.columns is None:
            return 0
        q = staging._q
        cols = ", ".join(q(c) for c in self.columns)
        while len(self.parts) > _UNION_PARTS:  # a file of more than 50M rows
            group, self.parts = self.parts[:_UNION_PARTS], self.parts[_UNION_PARTS:]
            merged = f"pm_import_stage_{next(staging._stage_numbers)}"
            self._execute(f"CREATE TEMP TABLE {q(merged)} AS "
                          + " UNION ALL ".join(f"SELECT {cols} FROM temp.{q(p)}" for p in group))
            self.parts.append(merged)
            for part in group:
                self._execute(f"DROP TABLE temp.{q(part)}")
        start = self.stage._next_id[self.table.name]
        self.stage._next_id[self.table.name] = start + self.rows
        final = self._final = f"pm_import_stage_{next(staging._stage_numbers)}"
        self._execute(f"CREATE TEMP TABLE {q(final)} (id INTEGER PRIMARY KEY, {cols})")
        # A rowid table numbers each inserted row max(id) + 1: a placeholder row just below
        # the first id makes the sorted rows take start, start + 1, ...
        self._execute(f"INSERT INTO temp.{q(final)} (id) VALUES (?)", (start - 1,))
        union = " UNION ALL ".join(f"SELECT {cols} FROM temp.{q(p)}" for p in self.parts)
        self._execute(f"INSERT INTO temp.{q(final)} ({cols}) SELECT {cols} FROM ({union}) ORDER BY {q(self.key)}")
        self._execute(f"DELETE FROM temp.{q(final)} WHERE id = ?", (start - 1,))
        for part in self.parts:
            self._execute(f"DROP TABLE temp.{q(part)}")
        self.parts = []
        self.stage.ops.append(staging._Op("insert", self.table, final, ["id", *self.columns], self.rows))
        self._final = None
        return self.rows

    def discard(self) -> None:
        """Drop what was staged here and not yet handed to the stage (after a failure)."""
        for name in [*self.parts, *([self._final] if self._final else [])]:
            try:
                self._execute(f"DROP TABLE IF EXISTS temp.{staging._q(name)}")
            except Exception:  # a connection in a failed state is discarded by the pool anyway
                pass
        self.parts = []
        self._final = None
