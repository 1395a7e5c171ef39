"""Folded search keys: "nunez" finds Núñez, "NGUYEN DUC" finds Nguyễn Đức.

The registry keeps names exactly as the PM system sent them; the search box compares
against ``patients.search_name``, a folded copy (accents removed, case folded, special
letters spelled out: ß→ss, Đ→d, Ø→o, Æ→ae, Œ→oe, Ł→l, Þ→th) in the form
``" <last words> / <first words>"``. Each word of a name part starts after a space, so a
search word matches the start of any word ("lopez" finds García López) with a plain,
portable ``LIKE '% lopez%'`` on SQLite and PostgreSQL alike; "LAST, FIRST" matches each
side of the slash. Folding is done in Python (SQL engines cannot all strip accents), so
the key is written wherever patients are: the import writer refreshes it after each
patients table (``refresh_search_keys``, set-based), and ORM writes fill it through a
mapper event (``register_orm_events``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import Connection, String, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

if TYPE_CHECKING:  # pandas (~2 s to import without bytecode) only when a whole column is keyed
    import pandas as pd

# Letters NFKD does not decompose into a base letter plus marks.
_SPECIAL = str.maketrans(
    {
        "ß": "ss", "ẞ": "ss", "Đ": "d", "đ": "d", "Ð": "d", "ð": "d", "Ø": "o", "ø": "o", "Æ": "ae", "æ": "ae",
        "Œ": "oe", "œ": "oe", "Ł": "l", "ł": "l", "Þ": "th", "þ": "th", "ı": "i", "Ħ": "h", "ħ": "h",
        "/": " ", "\t": " ", "\u00a0": " ",
    }
)
_SPACES = re.compile(r"[\s\-]+")
SEPARATOR = " /"


def fold(text: object) -> str:
    """``text`` without accents, in lower case, hyphens and runs of spaces as one space."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    value = str(text).translate(_SPECIAL)
    value = unicodedata.normalize("NFKD", value)
    value = "".join(ch for ch in value if not unicodedata.combining(ch))
    return _SPACES.sub(" ", value.casefold().translate(_SPECIAL)).strip()


def name_key(last: object, first: object, middle: object = None) -> str:
    """The stored key for one patient: ``" garcia lopez / maria jose"``."""
    given = " ".join(part for part in (fold(first), fold(middle)) if part)
    return f" {fold(last)}{SEPARATOR} {given}"


def name_keys(last: pd.Series, first: pd.Series, middle: pd.Series) -> pd.Series:
    """``name_key`` over whole columns; each distinct name is folded once."""
    import pandas as pd

    keys = _KeyMaker()
    return pd.Series([keys(a, b, c) for a, b, c in zip(last, first, middle)], index=last.index, dtype=object)


class _KeyMaker:
    """``name_key`` with a cache per distinct name part: a registry repeats its names a lot
    (100,000 patients carry a few thousand distinct last and first names)."""

    def __init__(self) -> None:
        self._folded: dict[object, str] = {}

    def fold(self, value: object) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        found = self._folded.get(value)
        if found is None:
            found = self._folded[value] = fold(value)
        return found

    def __call__(self, last: object, first: object, middle: object = None) -> str:
        given = self.fold(first)
        extra = self.fold(middle)
        if extra:
            given = f"{given} {extra}" if given else extra
        return f" {self.fold(last)}{SEPARATOR} {given}"


def refresh_search_keys(conn: Connection) -> int:
    """Write the key of every patient whose key is missing or out of date; returns how many.

    Reads five columns of every patient as plain tuples (no ORM objects) and writes only
    the keys that differ, with one executemany: about a second at 100,000 patients.
    """
    from panelmanager.core.db import bulk_update
    from panelmanager.core.models import Patient

    table = Patient.metadata.tables[Patient.__tablename__]  # the Table (``__table__`` is typed as a FromClause)
    result = conn.execute(
        select(table.c.id, table.c.last_name, table.c.first_name, table.c.middle_name, table.c.search_name)
    )
    rows = result.cursor.fetchall() if result.cursor is not None else result.all()  # DBAPI tuples: no Row objects
    keys = _KeyMaker()
    stale_ids, stale_keys = [], []
    for pid, last, first, middle, stored in rows:
        key = keys(last, first, middle)
        if key != stored:
            stale_ids.append(pid)
            stale_keys.append(key)
    if stale_ids:
        import pandas as pd

        bulk_update(conn, table, pd.DataFrame({"id": stale_ids, "search_name": stale_keys}))
    return len(stale_ids)


def register_orm_events(patient_class) -> None:
    """Patients added or renamed through the ORM get their key at flush."""
    from sqlalchemy import event

    def fill(_mapper, _connection, target) -> None:
        target.search_name = name_key(target.last_name, target.first_name, target.middle_name)

    event.listen(patient_class, "before_insert", fill)
    event.listen(patient_class, "before_update", fill)



class case_folded(FunctionElement):  # noqa: N801 (an SQL function, named like one)
    """``lower(text)`` for a LIKE that ignores ASCII case: ``case_folded(Patient.mrn).like("%abc%")``.

    PostgreSQL's LIKE is case-sensitive, so there it is ``lower(text)``. SQLite's LIKE already
    ignores ASCII case and its ``lower()`` folds only ASCII too, so there the bare column
    matches the same rows: calling ``lower()`` on every row doubled the cost of an MRN search,
    a scan of the whole patient index (issue 9 item 17). The pattern must be in lower case.
    """

    type = String()
    inherit_cache = True


@compiles(case_folded)
def _case_folded(element: case_folded, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(case_folded, "sqlite")
def _case_folded_sqlite(element: case_folded, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)
