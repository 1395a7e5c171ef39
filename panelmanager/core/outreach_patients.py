"""An outreach list seen one patient per row, as the outreach screen shows it.

``core.outreach.build_outreach_list`` returns one row per patient and gap;
``outreach_patients`` folds that into one row per patient (in the list's name order)
with the gaps in short form, the letter language, a phone to call, the address on one
line and, when letters and labels cannot reach the patient, why not
(``address_problem``, the letters' own ``mailing_problem`` rule). Everything is pandas
over whole columns; only the address check runs once per patient, on plain strings.

``with_last_outreach`` refreshes the "last outreach" columns after contacts were logged
(one query), and ``outreach_patient_order`` sorts the rows for the table.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from panelmanager.core.outreach import (
    OutreachList,
    as_date,
    describe_last_outreach,
    last_outreach,
    name_sort_key,
    optional_text,
)
from panelmanager.core.people import Contact, language_name, mailing_problem, sorted_name

__all__ = ["PATIENT_COLUMNS", "SORT_KEYS", "outreach_patients", "outreach_patient_order", "with_last_outreach"]

PATIENT_COLUMNS = [
    "patient_id", "mrn", "name", "first_name", "last_name", "dob", "age", "sex", "language", "language_name",
    "phone", "phones", "email", "address", "address_problem", "gaps", "gap_count", "measures", "measure_titles",
    "next_appointment", "last_outreach", "last_outreach_at", "provider_id", "provider_name",
]
# Table sort keys -> columns (names sort by last, then first name).
SORT_KEYS = {
    "name": ["_last", "_first", "mrn"],
    "mrn": ["mrn"],
    "age": ["age"],
    "language": ["language_name"],
    "gaps": ["gap_count"],
    "address": ["_address_ok"],
    "last_outreach": ["last_outreach_at"],
    "next_appointment": ["next_appointment"],
    "provider": ["provider_name"],
}


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _joined(parts: list[pd.Series], separator: str) -> pd.Series:
    """Join the non-empty strings of each row of ``parts`` (whole columns, no per-row Python)."""
    out = parts[0]
    for part in parts[1:]:
        out = out.where(part == "", out.where(out == "", out + separator) + part)
    return out


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PATIENT_COLUMNS})


def outreach_patients(outreach: OutreachList) -> pd.DataFrame:
    """One row per patient on ``outreach`` (columns ``PATIENT_COLUMNS``), in list order."""
    rows = outreach.rows
    if rows.empty:
        return _empty()
    # Each patient's rows, in list order: group boundaries over a stable sort by first appearance
    # (plain slicing, not a per-group pandas call: 100,000 patients take a fraction of a second).
    codes, _uniques = pd.factorize(rows["patient_id"])
    order = np.argsort(codes, kind="stable")
    grouped = codes[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    ends = np.r_[starts[1:], len(grouped)]
    texts = rows["gap_text"].astype(str).to_numpy()[order]
    measures = rows["measure"].astype(str).to_numpy()[order]
    titles = rows["measure_title"].astype(str).to_numpy()[order]
    out = rows.iloc[order[starts]].reset_index(drop=True)
    out["gaps"] = ["\n".join(texts[a:b]) for a, b in zip(starts, ends)]
    out["gap_count"] = ends - starts
    out["measures"] = [tuple(measures[a:b]) for a, b in zip(starts, ends)]
    out["measure_titles"] = [tuple(titles[a:b]) for a, b in zip(starts, ends)]

    out["name"] = [sorted_name(f, last) for f, last in zip(out["first_name"], out["last_name"])]
    out["language"] = out["letter_language"]
    out["language_name"] = out["letter_language"].map(language_name)
    mobile, home, work = _text(out["phone_mobile"]), _text(out["phone_home"]), _text(out["phone_work"])
    out["phone"] = mobile.where(mobile != "", home.where(home != "", work))
    out["phones"] = _joined([("mobile " + mobile).where(mobile != "", ""), ("home " + home).where(home != "", ""),
                             ("work " + work).where(work != "", "")], "\n")
    out["email"] = _text(out["email"])
    city_line = (_text(out["city"]) + ", " + _text(out["state"]) + " " + _text(out["postal_code"])).str.strip(", ")
    out["address"] = _joined([_text(out["address1"]), _text(out["address2"]), city_line], ", ")
    out["address_problem"] = [
        mailing_problem(Contact(0, "", address1=a1, city=c, state=s, postal_code=z))
        for a1, c, s, z in zip(
            out["address1"].map(optional_text), out["city"].map(optional_text), out["state"].map(optional_text), out["postal_code"].map(optional_text)
        )
    ]
    out["next_appointment"] = out["next_appointment"].map(as_date)
    out["dob"] = out["dob"].map(as_date)
    out["last_outreach"] = [
        describe_last_outreach(at, m, o) for at, m, o in zip(out["last_outreach_at"], out["last_method"],
                                                             out["last_outcome"])
    ]
    return _plain(out[PATIENT_COLUMNS])


def with_last_outreach(session: Session, patients: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """``patients`` with ``last_outreach`` / ``last_outreach_at`` re-read from the outreach log."""
    if patients.empty:
        return patients
    recent = last_outreach(session, as_of)
    recent = recent[recent["patient_id"].isin(patients["patient_id"].astype("int64"))]
    out = patients.drop(columns=["last_outreach", "last_outreach_at"]).merge(
        recent[["patient_id", "last_outreach_at", "last_method", "last_outcome"]], on="patient_id", how="left"
    )
    out["last_outreach"] = [
        describe_last_outreach(at, m, o) for at, m, o in zip(out["last_outreach_at"], out["last_method"],
                                                             out["last_outcome"])
    ]
    return _plain(out[PATIENT_COLUMNS])


def outreach_patient_order(patients: pd.DataFrame, key: str | None, descending: bool = False) -> list[int]:
    """Patient ids of ``patients`` sorted by a ``SORT_KEYS`` key (None: the list's own order)."""
    if patients.empty:
        return []
    if key is None:
        ids = patients["patient_id"]
        return [int(i) for i in (ids[::-1] if descending else ids)]
    if key not in SORT_KEYS:
        raise ValueError(f"cannot sort an outreach list by {key!r} (known: {', '.join(SORT_KEYS)}).")
    frame = patients.assign(
        _last=name_sort_key(patients["last_name"]),
        _first=name_sort_key(patients["first_name"]),
        _address_ok=patients["address_problem"].isna(),
    )
    frame = frame.sort_values(SORT_KEYS[key], ascending=not descending, kind="stable", na_position="last")
    return [int(i) for i in frame["patient_id"]]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None (not NaN / NaT / pd.NA), so the screen shows them as blanks."""
    frame = frame.astype(object)
    return frame.where(frame.notna(), None).reset_index(drop=True)
