"""Finding patients: one search box that takes a name fragment, a date of birth in any common
format, or an MRN, as the front desk types it. Returns ids (for the lazy table models) and
display rows for a page of ids.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from panelmanager.core.models import Patient, PatientStatus
from panelmanager.core.people import age_on, date_readings, parse_date_text, sorted_name
from panelmanager.core.search_keys import SEPARATOR, case_folded, fold


@dataclass(frozen=True)
class SearchTerms:
    dob: dt.date | None = None
    mrn: str | None = None
    last: str | None = None
    first: str | None = None
    words: tuple[str, ...] = ()
    dobs: tuple[dt.date, ...] = ()  # every reading of a two-digit year when no as_of chose one


def parse_search(text: str, *, as_of: dt.date | None = None) -> SearchTerms:
    """What a search box's text asks for: a birth date, an MRN, "LAST, FIRST" or name words.

    A birth date typed with a two-digit year ("03/04/56") is read as the latest such date
    not after ``as_of``; without ``as_of`` both centuries are searched (a birth date in
    the future matches nobody).
    """
    text = text.strip()
    if not text:
        return SearchTerms()
    if any(ch.isdigit() for ch in text):
        readings = date_readings(text)
        if readings and (len(re.sub(r"\D", "", text)) >= 6 or not text.isalnum()):
            if as_of is not None or len(readings) == 1:
                return SearchTerms(dob=parse_date_text(text, as_of=as_of))
            return SearchTerms(dob=readings[0], dobs=readings)
        if " " not in text and "," not in text:
            return SearchTerms(mrn=text)
    if "," in text:  # "LAST, FIRST"
        last, _, first = text.partition(",")
        return SearchTerms(last=last.strip() or None, first=first.strip() or None)
    return SearchTerms(words=tuple(w for w in text.split() if w))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_key():
    """The folded name key (core.search_keys); rows written before it existed fall back to
    the lower-cased name in the same shape, so they are still found by unaccented text."""
    fallback = " " + func.lower(func.coalesce(Patient.last_name, "")) + SEPARATOR + " " + func.lower(
        func.coalesce(Patient.first_name, "")
    )
    return func.coalesce(Patient.search_name, fallback)


def _word_start(word: str) -> str:
    """LIKE pattern: a name word (in either part of the key) starting with ``word``."""
    return f"% {_like_escape(fold(word))}%"


def search_condition(terms: SearchTerms):
    """The WHERE clause for a search box's text (None: no search, everyone matches).

    Names match without regard to accents or case ("nunez" finds Núñez) at the start of
    any word of the first or last name; an MRN matches anywhere ("358" finds D0000358).
    """
    if terms.dobs:
        return Patient.dob.in_(terms.dobs)
    if terms.dob:
        return Patient.dob == terms.dob
    if terms.mrn:
        return case_folded(Patient.mrn).like(f"%{_like_escape(terms.mrn.lower())}%", escape="\\")
    key = _name_key()
    if terms.last or terms.first:
        last = f"% {_like_escape(fold(terms.last))}" if terms.last else ""
        first = f"% {_like_escape(fold(terms.first))}" if terms.first else ""
        # " last words / first words": the last-name word before the slash, the first after it.
        return key.like(f"{last}%{SEPARATOR}{first}%", escape="\\")
    words = [w for w in terms.words if fold(w)]
    if words:
        # Every word must start a word of the first or the last name: "ann lee" and "lee ann" both work.
        return and_(*(key.like(_word_start(w), escape="\\") for w in words))
    if terms.words:  # only separators typed ("/", "-"): nothing matches
        return Patient.id.is_(None)
    return None


SORT_COLUMNS = {
    "name": (Patient.last_name, Patient.first_name),
    "dob": (Patient.dob,),
    "mrn": (Patient.mrn,),
    "status": (Patient.status,),
}


def patient_id_query(
    text: str = "",
    *,
    as_of: dt.date | None = None,
    statuses: tuple[str, ...] | None = (PatientStatus.ACTIVE.value,),
    sort: str | None = "name",
    descending: bool = False,
) -> Select:
    stmt = select(Patient.id)
    condition = search_condition(parse_search(text, as_of=as_of))
    if condition is not None:
        stmt = stmt.where(condition)
    if statuses:
        stmt = stmt.where(Patient.status.in_(statuses))
    order = SORT_COLUMNS.get(sort or "name", SORT_COLUMNS["name"])
    stmt = stmt.order_by(*(c.desc() if descending else c for c in order), Patient.id)
    return stmt


def search_patient_ids(session: Session, text: str = "", *, limit: int | None = None, **options) -> list[int]:
    stmt = patient_id_query(text, **options)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def patient_rows(session: Session, ids: list[int], as_of: dt.date) -> dict[int, dict]:
    """Display rows for a page of patient ids (one query)."""
    if not ids:
        return {}
    result = session.execute(
        select(
            Patient.id,
            Patient.mrn,
            Patient.first_name,
            Patient.middle_name,
            Patient.last_name,
            Patient.dob,
            Patient.sex,
            Patient.phone_mobile,
            Patient.phone_home,
            Patient.preferred_language,
            Patient.status,
        ).where(Patient.id.in_(ids))
    )
    rows = {}
    for r in result:
        rows[r.id] = {
            "id": r.id,
            "mrn": r.mrn,
            "name": sorted_name(r.first_name, r.last_name, r.middle_name),
            "dob": r.dob.isoformat() if r.dob else "",
            "dob_date": r.dob,
            "age": age_on(r.dob, as_of),
            "sex": r.sex or "",
            "phone": r.phone_mobile or r.phone_home or "",
            "language": r.preferred_language or "",
            "status": r.status,
        }
    return rows


class PatientNotFound(ValueError):
    """No patient (or more than one) answers to what the user typed; the message names no one."""


def find_patient(session: Session, mrn_or_text: str, *, search: bool = False) -> Patient:
    """One patient by MRN, as the CLI and the screens take it.

    With ``search`` the text may also be anything the search box takes (a name, a date of
    birth) as long as exactly one patient matches; a typed MRN always wins. Changes made from
    a command line use the MRN alone (``search=False``) so that a typo never picks someone else.
    """
    wanted = str(mrn_or_text).strip()
    patient = session.scalar(select(Patient).where(Patient.mrn == wanted)) if wanted else None
    if patient is not None:
        return patient
    if search and wanted:
        ids = search_patient_ids(session, wanted, limit=2)
        if len(ids) == 1 and (found := session.get(Patient, ids[0])) is not None:
            return found
        if len(ids) > 1:
            raise PatientNotFound(f"{wanted!r} matches several patients; give the MRN.")
    raise PatientNotFound(f"There is no patient with MRN {wanted!r}.")
