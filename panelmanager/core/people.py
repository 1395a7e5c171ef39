"""People and dates as every service and document shows them: names, ages, dates, contacts.

One place for the formatting rules the services, screens and printed documents share
(``sorted_name`` for lists, ``patient_name`` for letters, ``age_on`` an explicit day,
``parse_date_text`` a date typed any common way), and the plain data the documents take
(``Contact``, ``GapItem``). Nothing here knows about PDFs or the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- people and dates

_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
}
_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}


def long_date(day: dt.date, language: str = "en", weekday: bool = False) -> str:
    """``March 4, 2024`` / ``4 de marzo de 2024`` without depending on the OS locale."""
    lang = language if language in _MONTHS else "en"
    month = _MONTHS[lang][day.month - 1]
    if lang == "es":
        text = f"{day.day} de {month} de {day.year}"
    else:
        text = f"{month} {day.day}, {day.year}"
    if weekday:
        text = f"{_WEEKDAYS[lang][day.weekday()]}, {text}"
    return text


def iso(value: Any) -> str:
    """A date (or timestamp) as YYYY-MM-DD; missing is empty."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
        if isinstance(value, pd.Timestamp):
            return value.date().isoformat()
    except (TypeError, ValueError):
        pass
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def age_on(dob: dt.date | None, day: dt.date) -> int | None:
    if dob is None:
        return None
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def clean_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            import pandas as pd

            if pd.isna(value):
                return ""
        except (TypeError, ValueError):
            pass
    return str(value).strip()


def patient_name(first: Any, last: Any, middle: Any = None, suffix: Any = None) -> str:
    """``María García`` (for letters and labels)."""
    parts = [clean_text(first), clean_text(middle)[:1] + "." if clean_text(middle) else "", clean_text(last), clean_text(suffix)]
    return " ".join(p for p in parts if p) or "Patient"


def sorted_name(first: Any, last: Any, middle: Any = None) -> str:
    """``García, María`` (for lists); with a middle name ``García, María J.``."""
    first, last, middle = clean_text(first), clean_text(last), clean_text(middle)
    given = " ".join(p for p in (first, middle[:1] + "." if middle else "") if p)
    if last and given:
        return f"{last}, {given}"
    return last or given or "(no name)"


# --------------------------------------------------------------------------- dates typed by people

_DATE_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%Y-%m-%d", "%m/%d/%y", "%m-%d-%y", "%Y%m%d", "%m%d%Y", "%d.%m.%Y", "%b %d %Y", "%B %d %Y", "%d %b %Y")


def date_readings(text: str) -> tuple[dt.date, ...]:
    """Every date that ``text`` can mean, typed any common way: () when it is no date.

    One reading, except for a two-digit year ("03/04/56"): then the later century first,
    then the one before (2056-03-04, 1956-03-04).
    """
    cleaned = re.sub(r"\s+", " ", text.strip().replace(",", " ")).strip()
    for fmt in _DATE_FORMATS:
        try:
            value = dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
        if "%y" in fmt:
            try:
                return (value, value.replace(year=value.year - 100))
            except ValueError:  # 29 February of a year that is no leap year a century earlier
                return (value,)
        return (value,)
    return ()


def parse_date_text(text: str, *, as_of: dt.date | None = None, past: bool = True) -> dt.date | None:
    """A date typed any common way ("3/4/1956", "1956-03-04", "03041956", "Mar 4 1956"); None if none.

    A two-digit year with ``past`` (a birth date is never in the future) is the latest
    reading not after ``as_of``; that needs ``as_of``, the day the question is asked.
    """
    readings = date_readings(text)
    if not readings:
        return None
    if len(readings) == 1 or not past:
        return readings[0]
    if as_of is None:
        raise ValueError("A two-digit year needs as_of to say which century is meant.")
    return next((d for d in readings if d <= as_of), readings[-1])


# --------------------------------------------------------------------------- reaching a patient


_LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def language_name(value: str | None) -> str:
    """``es`` -> ``Spanish``; a name as imported stays as it is."""
    text = (value or "").strip()
    return _LANGUAGE_NAMES.get(text.lower(), text)


_ZIP = re.compile(r"^\d{5}(-?\d{4})?$")
_NO_ADDRESS = {"unknown", "homeless", "none", "n/a", "na", "no address", "returned mail", "undeliverable",
               "address unknown", "general delivery"}


def mailing_problem(contact: Contact) -> str | None:
    """Why a letter cannot be mailed to this patient, or None when the address is usable."""
    street = clean_text(contact.address1)
    if not street or street.lower() in _NO_ADDRESS:
        return "no street address"
    if not clean_text(contact.city) or not clean_text(contact.state):
        return "no city or state"
    zip_code = clean_text(contact.postal_code)
    if not zip_code:
        return "no ZIP code"
    if not _ZIP.match(zip_code):
        return f"ZIP code {zip_code!r} is not valid"
    return None


@dataclass
class PatientIdentity:
    """Who a patient is, as every view of one patient starts: the patient record, the check-in
    subject and the panel review row take these fields first."""

    patient_id: int
    mrn: str
    name: str  # sorted_name: "Last, First M."
    dob: dt.date | None
    age: int | None  # on the view's date
    sex: str


def identity_of(patient: Any, on: dt.date) -> dict[str, Any]:
    """The ``PatientIdentity`` fields of a registry patient (``models.Patient``), the age on ``on``."""
    return {
        "patient_id": patient.id,
        "mrn": patient.mrn,
        "name": sorted_name(patient.first_name, patient.last_name, patient.middle_name),
        "dob": patient.dob,
        "age": age_on(patient.dob, on),
        "sex": patient.sex or "",
    }


# --------------------------------------------------------------------------- documents' input


@dataclass(frozen=True)
class GapItem:
    """One open care gap as documents show it."""

    measure_id: str
    title: str  # for staff: "Colorectal cancer screening"
    phrase: str  # for patients (English): "a colon cancer screening"
    short: str = ""  # for huddle sheets and call lists: "A1c 9.8% (2023-08-14)"
    status: str = "open"
    last_date: dt.date | None = None
    last_value: str | None = None
    due_date: dt.date | None = None


@dataclass
class Contact:
    """A patient on an outreach list, with what documents need to reach them."""

    patient_id: int
    mrn: str
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    dob: dt.date | None = None
    sex: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    phone_home: str | None = None
    phone_mobile: str | None = None
    phone_work: str | None = None
    email: str | None = None
    preferred_language: str | None = None
    provider_id: int | None = None
    provider_name: str | None = None
    gaps: tuple[GapItem, ...] = ()
    last_outreach: str | None = None  # "2024-02-01 call (no answer)"
    next_appointment: dt.date | None = None
    best_time: str | None = None

    @property
    def name(self) -> str:
        return patient_name(self.first_name, self.last_name)

    @property
    def list_name(self) -> str:
        return sorted_name(self.first_name, self.last_name)

    def phones(self) -> list[str]:
        out: list[str] = []
        for label, value in (("mobile", self.phone_mobile), ("home", self.phone_home), ("work", self.phone_work)):
            text = clean_text(value)
            if text and text not in [p.split(" ", 1)[1] for p in out]:
                out.append(f"{label} {text}")
        return out
