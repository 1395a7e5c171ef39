"""One table of a PM export to registry frames: every mapped column cleaned at once.

Part of ``pm.py`` (the public entry points stay there): see that module's docstring.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import String

from panelmanager.core.importers import normalize as nz
from panelmanager.core.importers.pm_read import (
    CELL_LIMIT,
    EARLIEST_DOB,
    NAME_FIELDS,
    _Table,
)
from panelmanager.core.importers.profiles import (
    OPEN_SLOT,
    Profile,
    VisitTypeRules,
)
from panelmanager.core.importers.writer import FILE, ROW, TABLES, Rejection, row_hashes

# --------------------------------------------------------------------------- raw rows for rejections


class _RawRows(Mapping):
    """``(file, row) -> {header: value}`` read from the table when a rejection needs it."""

    def __init__(self) -> None:
        self._tables: dict[str, pd.DataFrame] = {}

    def add(self, label: str, data: pd.DataFrame) -> None:
        self._tables[label] = data

    def __getitem__(self, key: tuple[str, int]) -> dict[str, str]:
        label, row = key
        table = self._tables.get(str(label))
        if table is None or row not in table.index:
            raise KeyError(key)
        values = table.loc[row]
        if isinstance(values, pd.DataFrame):  # pragma: no cover - lines are unique
            values = values.iloc[0]
        return {str(k): ("" if pd.isna(v) else str(v)) for k, v in values.items()}

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for label, table in self._tables.items():
            for row in table.index:
                yield (label, int(row))

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())


# --------------------------------------------------------------------------- one table -> frames


@dataclass
class _TableResult:
    patients: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None
    providers: pd.DataFrame | None = None  # key, raw, _row, _file (+ npi/first/last)
    locations: pd.DataFrame | None = None
    rejected: list[Rejection] = field(default_factory=list)
    combined: bool = False
    # Patient id -> the rejection of a row that would have given that patient.
    rejected_patients: dict[str, Rejection] = field(default_factory=dict)
    duplicates: list[Rejection] = field(default_factory=list)  # exact duplicates of an earlier row
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows that gave a record
    skipped: int = 0  # open slots and schedule blocks: rows of no patient


class _TableParser:
    """Cleans the mapped columns of one table and builds its frames, set-wise."""

    def __init__(
        self,
        table: _Table,
        profile: Profile,
        columns: dict[str, str],
        visit_types: VisitTypeRules,
        as_of: dt.date,
        frames: set[str],
        fallbacks: dict[str, list[str]] | None = None,
    ) -> None:
        self.table = table
        self.data = table.data
        self.profile = profile
        self.columns = columns
        self.fallbacks = fallbacks or {}
        self._raw: dict[str, tuple[pd.Series, ...]] = {}
        self.visit_types = visit_types
        self.as_of = as_of
        self.frames = frames
        self.index = table.data.index
        self.reasons: list[pd.Series] = []

    # ---- column access

    def has(self, name: str) -> bool:
        return name in self.columns

    def header(self, name: str) -> str:
        return self.columns[name]

    def _clean(self, name: str, then: Callable[[pd.Series], pd.Series] | None = None) -> tuple[pd.Series, ...]:
        """(raw, translated, text, cleaned) of a field, in one pass over its distinct values."""
        options = {
            "placeholders": self.profile.name_placeholders if name in NAME_FIELDS else self.profile.placeholders,
            "patterns": self.profile.placeholder_patterns if name == "email" else (),
            "values": self.profile.values.get(name),
            "then": then,
        }
        parts = nz.clean_field(self.data[self.columns[name]], **options)
        for extra in self.fallbacks.get(name, ()):
            more = nz.clean_field(self.data[extra], **options)
            present = parts[0].notna()
            parts = tuple(part.where(present, other) for part, other in zip(parts, more))
        self._raw[name] = parts
        return parts

    def raw(self, name: str) -> pd.Series:
        """The field's cells, trimmed, empty as missing; gaps filled from fallback columns."""
        return (self._raw.get(name) or self._clean(name))[0]

    def translated(self, name: str) -> pd.Series:
        """Raw text with the profile's [values.<field>] translations applied (unmatched kept)."""
        return (self._raw.get(name) or self._clean(name))[1]

    def text(self, name: str) -> pd.Series:
        """Translated text with the profile's placeholders ("N/A", "No Email") made missing."""
        return (self._raw.get(name) or self._clean(name))[2]

    def cleaned(self, name: str, then: Callable[[pd.Series], pd.Series]) -> pd.Series:
        """``then(self.text(name))``, computed in the same pass over the distinct values."""
        return self._clean(name, then)[3]

    def vocabulary(self, name: str) -> tuple[pd.Series, pd.Series]:
        """Coded values through [values.X] then [words.X]; returns (value, unmatched-present mask)."""
        values = self.raw(name)
        mapped, unmatched = nz.map_values(values, self.profile.values.get(name, {}))
        by_words = nz.map_words(values.where(unmatched), self.profile.words.get(name, {}))
        mapped = mapped.where(~unmatched, by_words)
        empty = nz.drop_placeholders(values, self.profile.placeholders).isna()
        still = unmatched & by_words.isna() & ~empty
        return mapped, still

    # ---- problems

    def reject(self, mask: pd.Series, reasons: pd.Series | str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        if isinstance(reasons, str):
            self.reasons.append(pd.Series(reasons, index=self.index[mask.to_numpy()], dtype=object))
        else:
            self.reasons.append(reasons[mask].astype(object))

    def reject_value(self, mask: pd.Series, name: str, message: str, values: pd.Series | None = None) -> None:
        """Reject rows with "<column> '<value>' <message>", built for the rejected rows only."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        shown = (values if values is not None else self.raw(name))[mask].astype(object).fillna("")
        self.reasons.append(f"{self.header(name)} '" + shown + f"' {message}")

    def dates(self, name: str, *, past_only: bool = False, applies: pd.Series) -> pd.Series:
        values, bad = nz.parse_dates(self.raw(name), past_only=past_only, as_of=self.as_of, excel_serials=self.table.excel)
        self.reject_value(bad & applies, name, f"is not a date; expected {nz.DATE_EXPECTED}")
        return values.where(~bad)

    # ---- people

    def names(self) -> pd.DataFrame:
        parts = pd.DataFrame(index=self.index)
        if self.has("full_name"):
            split = nz.split_full_name(self.text("full_name"))
            for column in split.columns:
                parts[column] = split[column]
        for column in ("first_name", "middle_name", "last_name", "suffix"):
            if self.has(column):
                own = self.text(column)
                parts[column] = own if column not in parts else own.where(own.notna(), parts[column])
        for column in ("first_name", "middle_name", "last_name"):
            if column in parts:
                parts[column] = _clean_name(parts[column])
        if "suffix" in parts:
            parts["suffix"] = nz.normalize_suffix(parts["suffix"])
        return parts

    def patient_frame(self, ids: pd.Series, applies: pd.Series) -> pd.DataFrame:
        frame = pd.DataFrame({"external_id": ids}, index=self.index)
        if self.has("mrn"):
            frame["mrn"] = self.translated("mrn")
        names = self.names()
        for column in names.columns:
            frame[column] = names[column]
        no_last = applies & frame["last_name"].isna()
        if self.has("last_name"):
            self.reject(no_last, f"{self.header('last_name')} is empty; every patient needs a last name")
        else:
            whole = self.header("full_name")
            empty = self.raw("full_name").isna()
            self.reject(no_last & empty, f"{whole} is empty; every patient needs a name")
            self.reject_value(no_last & ~empty, "full_name", "has no last name")

        dob_raw = self.raw("dob")
        self.reject(applies & dob_raw.isna(), f"{self.header('dob')} is empty; every patient needs a date of birth")
        dob = self.dates("dob", past_only=True, applies=applies)
        today = pd.Timestamp(self.as_of)
        self.reject_value(applies & (dob > today), "dob", "is in the future")
        self.reject_value(applies & (dob < EARLIEST_DOB), "dob", "is before 1900")
        frame["dob"] = dob

        if self.has("sex"):
            sex, unknown = self.vocabulary("sex")
            frame["sex"] = sex.where(~unknown, "U")
        for column in ("address1", "address2", "city"):
            if self.has(column):
                frame[column] = self.text(column)
        if self.has("state"):
            states = self.profile.values.get("state")
            frame["state"] = self.cleaned("state", functools.partial(nz.clean_state, names=states))
        if self.has("postal_code"):
            frame["postal_code"] = self.cleaned("postal_code", nz.clean_postal_code)
        for column in ("phone_home", "phone_mobile", "phone_work"):
            if self.has(column):
                frame[column] = self.cleaned(column, nz.format_phone)
        if self.has("email"):
            frame["email"] = self.cleaned("email", nz.clean_email)
        if self.has("preferred_language"):
            frame["preferred_language"] = self.cleaned(
                "preferred_language",
                functools.partial(nz.normalize_language, languages=self.profile.values.get("preferred_language", {})),
            )
        deceased = None
        if self.has("deceased_date"):
            deceased = self.dates("deceased_date", applies=applies)
            frame["deceased_date"] = deceased
        # Status only when the file speaks of it (new patients otherwise get the registry's
        # default, "active"); a date of death makes a patient deceased whatever the status says.
        if self.has("patient_status") or deceased is not None:
            if self.has("patient_status"):
                status, _unknown = self.vocabulary("patient_status")
                status = status.fillna("active")
            else:
                status = pd.Series("active", index=self.index, dtype=object)
            if deceased is not None:
                status = status.mask(deceased.notna(), "deceased")
            frame["status"] = status
        if self.has("pcp"):
            frame["pm_provider_ref"] = _provider_key(self.text("pcp"))
        return frame

    # ---- appointments

    def visit_frame(self, ids: pd.Series, applies: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
        """The visits frame and the mask of rows that hold an appointment."""
        date_raw = self.raw("appt_date")
        appt_id = self.translated("appt_id") if self.has("appt_id") else pd.Series(np.nan, index=self.index, dtype=object)
        if "patients" in self.frames:
            # A combined report lists patients without appointments with no date and no id.
            holds = applies & (date_raw.notna() | appt_id.notna())
        else:
            holds = applies.copy()
        status = None
        if self.has("appt_status"):
            status, unknown = self.vocabulary("appt_status")
            holds &= status.ne(OPEN_SLOT).fillna(True).astype(bool)
            self.reject_value(
                holds & unknown,
                "appt_status",
                f"is not an appointment status the {self.profile.name} profile knows; add it under "
                f"[values.appt_status] in {self.profile.path.name}",
            )
        self.reject(holds & date_raw.isna(), f"{self.header('appt_date')} is empty; every appointment needs a date")
        time_raw = self.raw("appt_time") if self.has("appt_time") else None
        start, bad_date, bad_time = nz.parse_datetimes(date_raw, time_raw, excel_serials=self.table.excel)
        self.reject_value(holds & bad_date, "appt_date", f"is not a date; expected {nz.DATE_EXPECTED}")
        time_field = "appt_time" if self.has("appt_time") else "appt_date"
        time_text = time_raw if time_raw is not None else date_raw
        self.reject_value(holds & bad_time, time_field, f"is not a time; expected {nz.TIME_EXPECTED}", values=time_text)

        frame = pd.DataFrame({"patient_ref": ids, "start": start}, index=self.index)
        provider_key = None
        if self.has("provider"):
            provider_key = _provider_key(self.text("provider"))
            frame["provider_ref"] = provider_key
        if self.has("location"):
            frame["location_ref"] = _provider_key(self.text("location"))
        visit_type = None
        if self.has("visit_type"):
            visit_type = self.text("visit_type")
            frame["visit_type"] = visit_type.str.slice(0, 120)
        frame["visit_class"] = _visit_classes(visit_type, self.visit_types, self.index)
        cancelled = None
        if self.has("cancelled_date"):
            cancelled = self.dates("cancelled_date", applies=holds)
            frame["cancelled_date"] = cancelled
        if status is None:
            # No status column: an appointment still to come is scheduled, a past one happened.
            status = pd.Series(
                np.where(start >= pd.Timestamp(self.as_of), "scheduled", "completed"), index=self.index, dtype=object
            )
            if cancelled is not None:
                status = status.mask(cancelled.notna(), "cancelled")
        else:
            past = start < pd.Timestamp(self.as_of)
            status = status.where(status.notna(), pd.Series(np.where(past, "completed", "scheduled"), index=self.index))
        if self.has("cancel_reason"):
            no_show = self.text("cancel_reason").str.contains(r"(?i)no[\s_-]?show", regex=True, na=False)
            status = status.mask((status == "cancelled") & no_show, "no-show")
        frame["status"] = status
        if self.has("reason"):
            frame["reason"] = self.text("reason").str.slice(0, 200)

        # Appointments the export gives no id get one in parse(), once exact duplicates are out.
        frame.insert(0, "external_id", appt_id.copy())
        return frame, holds

    # ---- the whole table

    def parse(self) -> _TableResult:
        result = _TableResult(combined=self.frames == {"patients", "visits"})
        id_field = "patient_id" if self.has("patient_id") else "mrn"
        ids = self.translated(id_field)
        rows = pd.Series(True, index=self.index)
        no_patient = pd.Series(False, index=self.index)
        if "visits" in self.frames:
            # Open slots and schedule blocks belong to no patient: nothing to import or reject,
            # but they are counted as skipped. A row is one when its status says "open" or its
            # patient id is the system's "no patient" value (OpenEMR's pc_pid 0).
            no_patient = ids.isna() & self.raw(id_field).notna()
            if self.has("appt_status"):
                status, _unknown = self.vocabulary("appt_status")
                no_patient |= ids.isna() & status.eq(OPEN_SLOT).fillna(False).astype(bool)
            rows &= ~no_patient
        needs = "every appointment needs a patient identifier" if "visits" in self.frames else "every patient needs an identifier"
        self.reject(rows & ids.isna(), f"{self.header(id_field)} is empty; {needs}")
        self._reject_oversized_cells()

        patients = visits = None
        holds = pd.Series(False, index=self.index)
        if "patients" in self.frames:
            patients = self.patient_frame(ids, rows & ids.notna())
            if id_field == "mrn":
                # A chart number is typed by staff and gets re-used; a system's own patient id does not.
                self._reject_reused_ids(patients, id_field, rows & ids.notna())
        if "visits" in self.frames:
            visits, holds = self.visit_frame(ids, rows)

        rejected_rows = pd.Index([], dtype=np.int64)
        if self.reasons:
            reasons = pd.concat(self.reasons)
            joined = reasons.groupby(level=0, sort=True).agg(lambda r: "; ".join(dict.fromkeys(r)))
            rejected_rows = joined.index
            result.rejected = [
                Rejection(file_name=self.table.label, source_row=int(row), reason=str(reason))
                for row, reason in joined.items()
            ]
            if patients is not None:
                for ident, rejection in zip(ids.loc[rejected_rows].tolist(), result.rejected):
                    if isinstance(ident, str) and ident not in result.rejected_patients:
                        result.rejected_patients[ident] = rejection
        ok = rows & ~self.index.isin(rejected_rows) & ids.notna()
        label = self.table.label
        provider_parts = []
        kept = pd.Series(False, index=self.index)
        if patients is not None:
            frame = patients.loc[ok]
            kept |= ok
            if "visits" in self.frames:
                # A patient with several appointments is listed once per appointment; keep the last.
                frame = frame.loc[~frame["external_id"].duplicated(keep="last")]
            result.patients = _finish(frame, label)
            if "pm_provider_ref" in frame:
                provider_parts.append(self._provider_sources(frame.index, "pcp"))
        if visits is not None:
            frame = visits.loc[ok & holds]
            frame, duplicates = _exact_duplicates(frame)
            kept |= ok & holds & ~self.index.isin(duplicates.index)
            result.duplicates = [
                Rejection(file_name=label, source_row=int(row), reason=f"exact duplicate of row {int(first)}")
                for row, first in duplicates.items()
            ]
            frame = _with_visit_ids(frame)
            result.visits = _finish(frame, label)
            if "provider_ref" in frame:
                provider_parts.append(self._provider_sources(frame.index, "provider"))
            if "location_ref" in frame:
                names = self.text("location").loc[frame.index]
                locations = pd.DataFrame(
                    {"external_id": frame["location_ref"], "name": names.str.slice(0, 200), ROW: frame.index, FILE: label}
                ).dropna(subset=["external_id"])
                result.locations = locations.drop_duplicates("external_id").reset_index(drop=True)
        if provider_parts:
            result.providers = pd.concat(provider_parts, ignore_index=True)
        # Every row read is accounted for: imported, rejected, an exact duplicate or a skipped
        # open slot. A row that is none of these (a layout nobody foresaw) is rejected, never lost.
        rejected_mask = self.index.isin(rejected_rows)
        dup_mask = self.index.isin([r.source_row for r in result.duplicates])
        skipped = ~kept.to_numpy() & ~rejected_mask & ~dup_mask & (no_patient.to_numpy() | ~holds.to_numpy())
        if "patients" in self.frames:
            skipped &= no_patient.to_numpy()
        lost = ~kept.to_numpy() & ~rejected_mask & ~dup_mask & ~skipped
        if lost.any():
            result.rejected += [
                Rejection(file_name=label, source_row=int(row), reason="nothing on this row could be imported: it holds no "
                          "patient or appointment Panel Manager can read; check the row in the file")
                for row in self.index[lost]
            ]
            result.rejected.sort(key=lambda r: r.source_row)
        result.kept = self.index[kept.to_numpy()].to_numpy(dtype=np.int64)
        result.skipped = int(skipped.sum())
        return result

    def _reject_oversized_cells(self) -> None:
        """A cell longer than any field of an export can be (a quote mark missing its partner
        swallows the lines after it) rejects its row instead of stopping the import."""
        for column in self.table.columns:
            values = self.data[column].to_numpy(dtype=object)
            if not len(values):
                continue
            try:
                longest = max(map(len, values))
            except TypeError:  # a missing cell (Excel)
                longest = max(len(v) for v in values if isinstance(v, str)) if any(isinstance(v, str) for v in values) else 0
            if longest <= CELL_LIMIT:
                continue
            lengths = self.data[column].str.len()
            mask = (lengths > CELL_LIMIT).fillna(False)
            self.reasons.append(
                (f"{column} holds " + lengths[mask].astype("int64").map("{:,}".format)
                 + f" characters, more than a cell can hold ({CELL_LIMIT:,}); a quote mark is probably missing on "
                 "this row: correct the row in the file (or the PM system) and import again").astype(object)
            )

    def _reject_reused_ids(self, patients: pd.DataFrame, id_field: str, applies: pd.Series) -> None:
        """An MRN given to two different people (another name and another date of birth) in a
        file identified by MRN rejects the later rows: merging them would give one patient the
        other's visits."""
        frame = patients.loc[applies.to_numpy(dtype=bool)]
        if frame.empty or not frame["external_id"].duplicated().any():
            return
        repeated = frame.loc[frame["external_id"].duplicated(keep=False)]
        first = repeated.loc[~repeated["external_id"].duplicated()].set_index("external_id")

        def same(column: str) -> pd.Series:
            if column not in repeated:
                return pd.Series(True, index=repeated.index)
            mine = repeated[column]
            theirs = repeated["external_id"].map(first[column])
            if column == "dob":
                return (mine == theirs) | mine.isna() | theirs.isna()
            return (mine.str.casefold() == theirs.str.casefold()) | mine.isna() | theirs.isna()
        other_name = ~(same("last_name") & same("first_name"))
        other_dob = ~same("dob")
        clash = other_name & other_dob
        if not clash.any():
            return
        rows_of = pd.Series(repeated.index[~repeated["external_id"].duplicated().to_numpy()], index=first.index)
        header = self.header(id_field)
        shown = repeated.loc[clash, "external_id"]
        self.reasons.append(
            (f"{header} '" + shown + "' is given at row " + shown.map(rows_of).astype(str)
             + " to a different patient (other name and date of birth); one " + header
             + " cannot belong to two patients: correct the " + header + " of one of them in the PM system and export again"
             ).astype(object)
        )

    def _provider_sources(self, rows: pd.Index, name: str) -> pd.DataFrame:
        raw = self.text(name).loc[rows]
        part = pd.DataFrame({"key": _provider_key(raw), "raw": raw, ROW: rows, FILE: self.table.label})
        if name == "provider":
            for extra, column in (("provider_npi", "npi"), ("provider_first_name", "first_name"), ("provider_last_name", "last_name")):
                if self.has(extra):
                    part[column] = self.text(extra).loc[rows].to_numpy()
        return part.dropna(subset=["key"])


def _cut(series: pd.Series, length: int) -> pd.Series:
    """Text cut to ``length`` characters; only the few cells that are longer are touched."""
    cells = series.to_numpy(dtype=object)
    try:
        longest = max(map(len, cells[pd.notna(cells)].tolist()), default=0)
    except TypeError:  # a cell that is not text
        longest = length + 1
    if longest <= length:
        return series
    too_long = (series.str.len() > length).fillna(False).to_numpy(dtype=bool)
    return series.mask(too_long, series[too_long].str.slice(0, length))


def _fit_lengths(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cut text to the registry column's length (PostgreSQL refuses longer values; SQLite would keep them)."""
    table = TABLES[name]
    frame = frame.copy()
    for column in frame.columns:
        if column in table.c and isinstance(table.c[column].type, String) and table.c[column].type.length:
            values = frame[column]
            if values.dtype == object or pd.api.types.is_string_dtype(values):
                frame[column] = _cut(values, table.c[column].type.length)
    return frame


def _finish(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    frame = frame.copy()
    frame[ROW] = frame.index.to_numpy(dtype=np.int64)
    frame[FILE] = label
    return frame.reset_index(drop=True)


@nz.per_unique
def _clean_name(series: pd.Series) -> pd.Series:
    """An initial loses its full stop ("A." -> "A"); ALL CAPS names are title-cased."""
    return nz.proper_case(series.str.replace(r"^([^\W\d_])\.$", r"\1", regex=True)).str.slice(0, 80)


@nz.per_unique
def _provider_key(series: pd.Series) -> pd.Series:
    """How a provider (or location) named in a PM export is identified: spacing and case ignored."""
    text = series.astype(object).where(series.notna(), None)
    text = pd.Series(text, index=series.index, dtype=object)
    key = (
        text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        .str.replace(r"(?i)^dr\b\.?\s*", "", regex=True)
        .str.replace(".", " ", regex=False)
        .str.replace(r"\s*,\s*", ", ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip(" ,")
        .str.upper()
    )
    return key.mask(key == "").str.slice(0, 80)


def _visit_classes(visit_type: pd.Series | None, rules: VisitTypeRules, index: pd.Index) -> pd.Series:
    if visit_type is None:
        return pd.Series(rules.default, index=index, dtype=object)
    classes = nz.map_words(visit_type, rules.as_words())
    return classes.fillna(rules.default)


def _exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Appointments without an id that repeat an earlier row in every imported field.

    Returns the frame without them and, per dropped row, the row it repeats. Rows that
    differ in anything (a cancelled appointment and its checked-out rebooking in one
    slot) are all kept.
    """
    no_id = frame["external_id"].isna()
    if no_id.sum() < 2:
        return frame, pd.Series(dtype=np.int64)
    values = frame.loc[no_id].drop(columns=["external_id"])
    keys = pd.Series(row_hashes(values, list(values.columns)), index=values.index)
    repeated = keys.duplicated(keep="first")
    if not repeated.any():
        return frame, pd.Series(dtype=np.int64)
    first_row = pd.Series(keys.index, index=keys.to_numpy())
    first_row = first_row[~first_row.index.duplicated(keep="first")]
    firsts = keys[repeated].map(first_row)
    return frame.drop(index=firsts.index), firsts


def _with_visit_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Appointments without an id get a stable one: patient + date and time + provider, and for
    a second (third...) appointment in that slot (a cancelled visit and its rebooking) the
    occurrence number in file order. The first in a slot keeps the id earlier versions gave it,
    so re-importing a file imported before changes nothing."""
    needs = frame["external_id"].isna()
    if not needs.any():
        return frame
    provider = frame.loc[needs, "provider_ref"] if "provider_ref" in frame else None
    base = _synthetic_visit_ids(frame.loc[needs, "patient_ref"], frame.loc[needs, "start"], provider)
    occurrence = base.groupby(base.to_numpy()).cumcount()
    suffix = ("-" + (occurrence + 1).astype(str)).where(occurrence > 0, "")
    frame = frame.copy()
    frame.loc[needs, "external_id"] = base + suffix
    return frame


def _synthetic_visit_ids(ids: pd.Series, start: pd.Series, provider: pd.Series | None) -> pd.Series:
    """A stable id for appointments the export gives no id: patient + date and time + provider."""
    stamp = np.datetime_as_string(start.to_numpy(dtype="datetime64[m]"), unit="m").astype(object)
    parts = ids.astype(object).fillna("") + "|" + pd.Series(stamp, index=ids.index)
    if provider is not None:
        parts = parts + "|" + provider.astype(object).fillna("")
    hashed = pd.util.hash_array(parts.to_numpy(dtype=object), categorize=False)
    # Sixteen hex digits per hash, without a Python call per row.
    nibbles = (hashed[:, None] >> np.arange(60, -4, -4, dtype=np.uint64)) & np.uint64(15)
    digits = np.array(list("0123456789abcdef"))[nibbles.astype(np.intp)]
    text = np.ascontiguousarray(digits).view("<U16").ravel()
    return "pm-" + pd.Series(text, index=ids.index, dtype=object)


# --------------------------------------------------------------------------- providers


def _providers_frame(parts: list[pd.DataFrame], profile: Profile) -> pd.DataFrame | None:
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return None
    sources = pd.concat(parts, ignore_index=True)
    first = sources.drop_duplicates("key", keep="first").set_index("key")
    names = nz.split_provider_names(first["raw"], id_label=profile.provider_id_label)
    frame = pd.DataFrame({"external_id": first.index.to_numpy()}, index=first.index)
    frame["display_name"] = names["display_name"].str.slice(0, 200)
    frame["first_name"] = names["first_name"]
    frame["last_name"] = names["last_name"]
    frame["credentials"] = names["credentials"].str.slice(0, 40)
    for column in ("first_name", "last_name", "npi"):
        if column in sources:
            # The first value given for each provider, where the file names one.
            given = sources.dropna(subset=[column]).drop_duplicates("key").set_index("key")[column]
            given = given.reindex(first.index)
            if column == "npi":
                given = given.str.replace(r"\D", "", regex=True).where(lambda s: s.str.len() == 10)
                frame["npi"] = given
            else:
                given = nz.proper_case(given)
                frame[column] = given.where(given.notna(), frame[column])
    if "first_name" in sources or "last_name" in sources:
        full = (frame["first_name"].fillna("") + " " + frame["last_name"].fillna("")).str.strip()
        with_creds = full.where(frame["credentials"].isna(), full + ", " + frame["credentials"].fillna(""))
        frame["display_name"] = with_creds.where(full != "", frame["display_name"])
    frame[ROW] = first[ROW].to_numpy(dtype=np.int64)
    frame[FILE] = first[FILE].to_numpy()
    return frame.reset_index(drop=True)

