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

import pandas as pd
from sqlalchemy import Connection, select

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
    """``name_key`` over whole columns (unique names folded once: 100,000 patients in ~0.3 s)."""
    def folded(column: pd.Series) -> pd.Series:
        column = column.astype(object).where(column.notna(), "")
        unique = pd.unique(column.to_numpy())
        return column.map(dict(zip(unique, (fold(v) for v in unique))))

    given = (folded(first) + " " + folded(middle)).str.strip()
    return " " + folded(last) + SEPARATOR + " " + given


def refresh_search_keys(conn: Connection) -> int:
    """Write the key of every patient whose key is missing or out of date; returns how many."""
    from panelmanager.core.db import bulk_update
    from panelmanager.core.models import Patient

    table = Patient.__table__
    rows = conn.execute(
        select(table.c.id, table.c.last_name, table.c.first_name, table.c.middle_name, table.c.search_name)
    ).all()
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["id", "last_name", "first_name", "middle_name", "search_name"])
    fresh = name_keys(frame["last_name"], frame["first_name"], frame["middle_name"])
    stale = frame["search_name"].ne(fresh)
    if not stale.any():
        return 0
    bulk_update(conn, table, pd.DataFrame({"id": frame.loc[stale, "id"], "search_name": fresh[stale]}))
    return int(stale.sum())


def register_orm_events(patient_class) -> None:
    """Patients added or renamed through the ORM get their key at flush."""
    from sqlalchemy import event

    def fill(_mapper, _connection, target) -> None:
        target.search_name = name_key(target.last_name, target.first_name, target.middle_name)

    event.listen(patient_class, "before_insert", fill)
    event.listen(patient_class, "before_update", fill)
