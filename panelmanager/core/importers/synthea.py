"""Reading a Synthea CSV export folder into a ``ParsedImport`` for the registry writer.

Synthea (https://github.com/synthetichealth/synthea) writes one CSV per record type.
Columns are found by their header name, so the older layout (the shared test data) and
the newer one (MIDDLE/FIPS/INCOME in patients, SYSTEM in conditions and procedures,
procedures with START/STOP instead of DATE, observations with CATEGORY) both load, in
any column order. Only ``patients.csv`` is required; files Panel Manager does not use
(allergies, careplans, claims, devices, imaging, payers, supplies) are ignored.

Everything is column-wise pandas: files are read as text with the C parser, dates are
parsed with an explicit format (then ISO 8601 for whatever did not match), and a row
that cannot be used (an unreadable date, no patient id) is rejected with its line
number and a reason naming the column and the value; it never stops the import. A
line with more fields than the header (an unquoted comma) is rejected the same way.
Timestamps carry a ``Z``: they are stored as naive UTC datetimes.

Why this is one module of ~880 lines: it is the whole Synthea format in one place (the file
list, each file's columns and their older and newer spellings, the per-file checks and their
messages, and the chunked reading of the event files, which must number duplicate events
across chunks exactly as a whole-file read does); split, each part would import the others'
column tables.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.importers.normalize import EARLIEST_DATE, LATEST_DATE
from panelmanager.core.importers.writer import EVENT_IDENTITY, FILE, ROW, ParsedImport, Rejection, TableChunks
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress

__all__ = ["SOURCE", "FORMAT", "parse_synthea_folder", "parse_timestamps", "strip_synthea_digits"]

SOURCE = "synthea"
FORMAT = "synthea-csv"

# Rows per read_csv chunk: bounds the memory spent on columns that are read and dropped.
# (Every column is read, not ``usecols``: with usecols the C parser silently accepts a
# line with surplus fields, shifting its values, instead of reporting it.)
CHUNK_ROWS = 250_000

# %z reads Synthea's trailing "Z" (and keeps pandas on its fast ISO parser, which a
# literal "Z" in the format would not).
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_DATE_FORMAT = "%Y-%m-%d"

VISIT_CLASSES = frozenset({"wellness", "ambulatory", "outpatient", "emergency", "inpatient", "urgentcare", "virtual"})

# Synthea's SYSTEM values (and their FHIR URIs) -> the short names the registry uses.
CODE_SYSTEMS = {
    "SNOMED": "SNOMED",
    "SNOMED-CT": "SNOMED",
    "SNOMED CT": "SNOMED",
    "SNOMEDCT": "SNOMED",
    "HTTP://SNOMED.INFO/SCT": "SNOMED",
    "LOINC": "LOINC",
    "HTTP://LOINC.ORG": "LOINC",
    "RXNORM": "RxNorm",
    "HTTP://WWW.NLM.NIH.GOV/RESEARCH/UMLS/RXNORM": "RxNorm",
    "CVX": "CVX",
    "HTTP://HL7.ORG/FHIR/SID/CVX": "CVX",
    "ICD-10": "ICD10CM",
    "ICD10": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD10CM": "ICD10CM",
    "HTTP://HL7.ORG/FHIR/SID/ICD-10-CM": "ICD10CM",
    "CPT": "CPT",
    "HTTP://WWW.AMA-ASSN.ORG/GO/CPT": "CPT",
}


@dataclass(frozen=True)
class _FileSpec:
    """One Synthea file: the registry table it fills and the columns it needs."""

    file_name: str
    table: str
    # Each entry lists alternative header names, the first being the current one.
    required: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = ()


SPECS: tuple[_FileSpec, ...] = (
    _FileSpec("organizations.csv", "locations", (("ID",), ("NAME",)), ("ADDRESS", "CITY", "STATE", "ZIP", "PHONE")),
    _FileSpec("providers.csv", "providers", (("ID",), ("NAME",)), ("ORGANIZATION", "SPECIALITY", "SPECIALTY")),
    _FileSpec(
        "patients.csv",
        "patients",
        (("ID",), ("BIRTHDATE",), ("FIRST",), ("LAST",), ("GENDER",)),
        ("DEATHDATE", "MIDDLE", "SUFFIX", "ADDRESS", "CITY", "STATE", "ZIP"),
    ),
    _FileSpec(
        "encounters.csv",
        "visits",
        (("ID",), ("START",), ("PATIENT",)),
        ("STOP", "ORGANIZATION", "PROVIDER", "ENCOUNTERCLASS", "DESCRIPTION", "REASONCODE", "REASONDESCRIPTION"),
    ),
    _FileSpec(
        "observations.csv",
        "observations",
        (("DATE",), ("PATIENT",), ("CODE",)),
        ("ENCOUNTER", "CATEGORY", "DESCRIPTION", "VALUE", "UNITS", "TYPE"),
    ),
    _FileSpec("immunizations.csv", "immunizations", (("DATE",), ("PATIENT",), ("CODE",)), ("ENCOUNTER", "DESCRIPTION")),
    _FileSpec(
        "procedures.csv",
        "procedures",
        (("START", "DATE"), ("PATIENT",), ("CODE",)),
        ("ENCOUNTER", "SYSTEM", "DESCRIPTION"),
    ),
    _FileSpec(
        "conditions.csv",
        "conditions",
        (("START",), ("PATIENT",), ("CODE",)),
        ("STOP", "ENCOUNTER", "SYSTEM", "DESCRIPTION"),
    ),
    _FileSpec("medications.csv", "medications", (("START",), ("PATIENT",), ("CODE",)), ("STOP", "ENCOUNTER", "DESCRIPTION")),
)


# --------------------------------------------------------------------------- column helpers


def strip_synthea_digits(names: pd.Series) -> pd.Series:
    """``"Antone63"`` -> ``"Antone"``, ``"Ludivina884 Steuber698"`` -> ``"Ludivina Steuber"``.

    Synthea appends digits to every generated name to keep them unique; a name that is
    only digits is left alone.
    """
    return names.str.replace(r"(?<=[^\d\s])\d+(?=\s|$)", "", regex=True)


def parse_timestamps(text: pd.Series) -> pd.Series:
    """Synthea dates and timestamps as naive UTC datetimes; NaT where missing or unreadable.

    The format of the first value is tried on the whole column (the fast path); only
    values it does not match are parsed again as ISO 8601 (offsets converted to UTC).
    """
    present = text.notna()
    if not present.any():
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    sample = str(text[present].iloc[0])
    if len(sample) == 10:
        stamps = pd.to_datetime(text, format=_DATE_FORMAT, errors="coerce")
    else:
        stamps = pd.to_datetime(text, format=_TIMESTAMP_FORMAT, errors="coerce", utc=True).dt.tz_convert(None)
    retry = present & stamps.isna()
    if retry.any():
        again = pd.to_datetime(text[retry], format="ISO8601", errors="coerce", utc=True).dt.tz_convert(None)
        stamps = stamps.copy()
        stamps[retry] = again.astype(stamps.dtype)
    # A year such as 0001 or 9999 is an edit gone wrong, not a date (and would not fit
    # datetime64[ns] on pandas 2): it is reported as not a date.
    usable = stamps.isna() | ((stamps >= EARLIEST_DATE) & (stamps <= LATEST_DATE))
    if not usable.all():
        stamps = stamps.where(usable)
    return stamps


def _per_value(values: pd.Series, convert: Callable[[str], object], missing: object = None) -> pd.Series:
    """``convert`` applied once per distinct value, not per row: a million encounters
    hold a handful of classes, and the result shares one object per class."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([convert(str(u)) for u in uniques] + [missing], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype=object)


def _code_system(frame: pd.DataFrame, default: str) -> pd.Series:
    if "SYSTEM" not in frame.columns:
        return pd.Series(default, index=frame.index, dtype=object)
    return _per_value(frame["SYSTEM"], lambda v: CODE_SYSTEMS.get(v.strip().upper(), v.strip()) or default, default)


def _visit_class(classes: pd.Series) -> pd.Series:
    def convert(value: str) -> str:
        lowered = value.strip().lower()
        return lowered if lowered in VISIT_CLASSES else "other"

    return _per_value(classes, convert, "other")


def _sex(gender: pd.Series) -> pd.Series:
    return _per_value(gender, lambda v: v.strip().upper()[:1] if v.strip().upper()[:1] in ("F", "M") else "U")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column of the file, or all-missing when this export's layout has no such column."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.nan, index=frame.index, dtype=object)


class _RowChecks:
    """Collects, column-wise, the first reason each row of one file cannot be used."""

    def __init__(self, frame: pd.DataFrame, headers: dict[str, str] | None = None) -> None:
        self.frame = frame
        self.headers = headers or {}  # canonical name -> the file's own spelling, for messages
        self.reason = pd.Series(None, index=frame.index, dtype=object)

    def name(self, column: str) -> str:
        return self.headers.get(column, column)

    def flag(self, mask: pd.Series, reason: Callable[[pd.Series], pd.Series] | str) -> None:
        fresh = mask & self.reason.isna()
        if fresh.any():
            self.reason[fresh] = reason if isinstance(reason, str) else reason(self.frame.loc[fresh])

    def required(self, column: str, what: str) -> None:
        self.flag(self.frame[column].isna(), f"{self.name(column)} is empty: no {what} on this row")

    def timestamps(self, column: str, *, required: bool, date_only: bool = False) -> pd.Series:
        text = _column(self.frame, column)
        stamps = parse_timestamps(text)
        label = self.name(column)
        if required:
            self.flag(text.isna(), f"{label} is empty: the row has no date")
        self.flag(
            text.notna() & stamps.isna(),
            lambda rows: rows[column].map(
                lambda v: f"{label} '{v}' is not a date (expected e.g. 2023-01-27 or 2023-01-27T16:17:47Z)"
            ),
        )
        return stamps.dt.normalize() if date_only else stamps

    @property
    def bad(self) -> pd.Series:
        return self.reason.notna()


# --------------------------------------------------------------------------- reading


@dataclass
class _ReadFile:
    path: Path
    frame: pd.DataFrame  # upper-case header names, plus _row and _file
    rows_read: int
    rejected: list[Rejection]
    headers: dict[str, str]  # upper-case name -> the header as the file spells it


_RESAVE = "save it again as CSV UTF-8 (or export the folder again from Synthea) and import the folder again"


def _check_text_file(path: Path) -> None:
    """Refuse, with the fix, a file that is not UTF-8 CSV text at all (a workbook, UTF-16)."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportFileError(
            f"{path}: this is an Excel workbook (or another packed file) with a .csv name, not CSV text. "
            f"Synthea writes plain CSV: if the file was opened in Excel, {_RESAVE}."
        )
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(0) > len(head) // 4
    if utf16 or b"\x00" in head:
        what = "UTF-16 text" if utf16 else "binary data"
        raise ImportFileError(f"{path}: this file holds {what}, not UTF-8 CSV text; {_RESAVE}.")


def _not_utf8_error(path: Path) -> ImportFileError:
    """Which line first holds a byte that is not UTF-8, and how to fix the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object is the undecoded tail of the last chunk plus this one; the
                # tail holds no line break (it is part of one character).
                line = lines_before + exc.object[: exc.start].count(b"\n") + 1
                byte = exc.object[exc.start]
                return ImportFileError(
                    f"{path}: line {line} is not UTF-8 text (byte 0x{byte:02X}; an accented letter saved by Excel or "
                    f"another program as Windows-1252, for example). Synthea writes UTF-8: {_RESAVE}."
                )
            if not chunk:
                break
            lines_before += chunk.count(b"\n")
    return ImportFileError(f"{path}: the file is not UTF-8 text; {_RESAVE}.")


def _header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0, dtype=str, engine="c", encoding="utf-8").columns]
    except pd.errors.EmptyDataError:
        return []
    except UnicodeDecodeError:
        raise _not_utf8_error(path) from None
    except pd.errors.ParserError as exc:
        raise _unreadable_csv_error(path, exc) from None


def _unreadable_csv_error(path: Path, exc: Exception) -> ImportFileError:
    return ImportFileError(
        f"{path}: the file is not a readable CSV ({exc}). A quote mark may be missing its partner; {_RESAVE}."
    )


def _normalise(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().upper()


def _resolve_columns(path: Path, spec: _FileSpec, header: list[str]) -> dict[str, str]:
    """File header name -> the canonical name used here; ImportFileError when one is missing."""
    found = {_normalise(name): name for name in reversed(header)}
    missing: list[str] = []
    chosen: dict[str, str] = {}
    for alternatives in spec.required:
        present = [a for a in alternatives if a in found]
        if present:
            chosen[found[present[0]]] = present[0]
        else:
            missing.append(" or ".join("Id" if a == "ID" else a for a in alternatives))
    if missing:
        shown = ", ".join(header) if header else "no header line at all"
        raise ImportFileError(
            f"{path}: this Synthea file lacks the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}. Columns found: {shown}. "
            "Export the folder again with Synthea's CSV exporter (exporter.csv.export = true)."
        )
    for name in spec.optional:
        if name in found and found[name] not in chosen:
            chosen[found[name]] = name
    return chosen


def _bad_line_rejections(path: Path, messages: list[str]) -> tuple[list[int], list[Rejection]]:
    """Lines the C parser skipped (more fields than the header), with their text."""
    skipped: dict[int, str] = {}
    for message in messages:
        for match in re.finditer(r"Skipping line (\d+): (.*)", message):
            skipped[int(match.group(1))] = match.group(2).strip()
    if not skipped:
        return [], []
    wanted = set(skipped)
    texts: dict[int, str] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                texts[number] = line.rstrip("\r\n")
                if len(texts) == len(wanted):
                    break
    rejections = [
        Rejection(
            file_name=str(path),
            source_row=number,
            reason=f"the line has the wrong number of fields ({skipped[number]}); is there an unquoted comma?",
            raw={"line": texts.get(number, "")},
        )
        for number in sorted(skipped)
    ]
    return sorted(skipped), rejections


def _surplus_first_lines(path: Path, width: int) -> dict[int, str]:
    """Lines right under the header with more fields than it has.

    pandas would take the first data line's extra field as a row label and shift that
    line's values, and every later line's, one column to the left (or fail); these
    lines are skipped and rejected instead, like any later line with too many fields.
    """
    found: dict[int, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader, None)
            for fields in reader:
                if len(fields) <= width:
                    break
                found[reader.line_num] = f"expected {width} fields, saw {len(fields)}"
        except csv.Error:  # a cell beyond the csv module's size limit: pandas reads it
            pass
    return found


class _FileReader:
    """One file of the folder read in ``CHUNK_ROWS`` parts, each with its source line numbers.

    ``chunks()`` yields the raw rows (upper-case names, ``_row``, ``_file``; blank lines
    left out); once it is exhausted ``rows_read`` and ``rejected`` (lines with the wrong
    number of fields) are final. An event file goes through the whole import one part at
    a time (issue 16: memory bounded by a part, not by the file); the other files are
    read whole (``_read_file``).
    """

    def __init__(self, path: Path, spec: _FileSpec, cancel: CancelToken, on_chunk: Callable[[int], None]) -> None:
        _check_text_file(path)
        header = _header(path)
        self.path, self.cancel, self.on_chunk = path, cancel, on_chunk
        # An empty optional file is the same as no file.
        self.empty = not header and spec.file_name != "patients.csv"
        self.width = len(header)
        self.columns = {} if self.empty else _resolve_columns(path, spec, header)
        self.headers = {v: k for k, v in self.columns.items()}  # upper-case name -> the file's spelling
        self.rows_read = 0
        self.rejected: list[Rejection] = []

    def chunks(self):
        if self.empty:
            return
        path, columns = self.path, self.columns
        messages: list[str] = []
        try:
            surplus = _surplus_first_lines(path, self.width)
            messages += [f"Skipping line {line}: {reason}" for line, reason in surplus.items()]
            reader = pd.read_csv(
                path,
                dtype=str,
                engine="c",
                encoding="utf-8",
                keep_default_na=False,  # "NA", "None" and "null" are values (names, results)
                na_values=[""],
                skip_blank_lines=False,  # keeps the index in step with the line numbers
                on_bad_lines="warn",
                skiprows=[line - 1 for line in surplus] or None,
                chunksize=CHUNK_ROWS,
            )
            with reader:
                rows = 0
                while True:
                    # Warnings are caught around each read only (not across the yield: the
                    # caller's own warnings are none of this reader's business).
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", pd.errors.ParserWarning)
                        chunk = next(reader, None)
                    messages += [str(w.message) for w in caught if issubclass(w.category, pd.errors.ParserWarning)]
                    if chunk is None:
                        break
                    self.cancel.raise_if_cancelled()
                    chunk = chunk[list(columns)]
                    chunk.columns = [columns[c] for c in chunk.columns]
                    rows += len(chunk)
                    self.on_chunk(rows)
                    frame = self._numbered(chunk, messages)
                    self.rows_read += len(frame)
                    yield frame
        except UnicodeDecodeError:
            raise _not_utf8_error(path) from None
        except pd.errors.ParserError as exc:
            raise _unreadable_csv_error(path, exc) from None
        _skipped, self.rejected = _bad_line_rejections(path, messages)
        self.rows_read += len(self.rejected)

    def _numbered(self, chunk: pd.DataFrame, messages: list[str]) -> pd.DataFrame:
        """The chunk with each row's source line; blank lines left out.

        Every line skipped before a row of this chunk has been reported by the time the
        chunk is read, so the line numbers are those a whole-file read gives."""
        skipped = sorted({int(m.group(1)) for message in messages for m in re.finditer(r"Skipping line (\d+): ", message)})
        lines = chunk.index.to_numpy(dtype=np.int64) + 2
        for line in skipped:  # ascending: each skipped line pushes the later rows down one
            lines[lines >= line] += 1
        frame = chunk
        frame[ROW] = lines
        frame[FILE] = str(self.path)
        value_columns = [c for c in frame.columns if c not in (ROW, FILE)]
        blank = frame[value_columns].isna().all(axis=1) if value_columns else pd.Series(False, index=frame.index)
        if blank.any():
            frame = frame.loc[~blank]
        return frame


def _read_file(path: Path, spec: _FileSpec, cancel: CancelToken, on_chunk: Callable[[int], None]) -> _ReadFile:
    reader = _FileReader(path, spec, cancel, on_chunk)
    if reader.empty:
        return _ReadFile(path, pd.DataFrame(columns=[ROW, FILE]), 0, [], {})
    chunks = list(reader.chunks())
    if chunks:
        frame = pd.concat(chunks).reset_index(drop=True)
    else:
        frame = pd.DataFrame(columns=[*reader.columns.values(), ROW, FILE])
        frame[ROW] = frame[ROW].astype(np.int64)
    chunks.clear()  # the chunks' column arrays are copied into ``frame``: not held twice from here on
    return _ReadFile(path, frame, reader.rows_read, reader.rejected, reader.headers)


# --------------------------------------------------------------------------- one builder per table


def _locations(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    checks.required("ID", "organization id")
    checks.required("NAME", "organization name")
    return pd.DataFrame(
        {
            "external_id": raw["ID"],
            "name": raw["NAME"],
            "address": _column(raw, "ADDRESS"),
            "city": _column(raw, "CITY"),
            "state": _column(raw, "STATE"),
            "postal_code": _column(raw, "ZIP"),
            "phone": _column(raw, "PHONE"),
        }
    )


def _providers(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    checks.required("ID", "provider id")
    checks.required("NAME", "provider name")
    name = strip_synthea_digits(raw["NAME"]).str.strip()
    parts = name.str.split(n=1, expand=True, regex=False) if len(raw) else pd.DataFrame(columns=[0, 1])
    specialty = _column(raw, "SPECIALITY")
    if "SPECIALTY" in raw.columns:
        specialty = specialty.fillna(raw["SPECIALTY"])
    # can_hold_panel stays out: None means "decide from the specialty", and a practice's
    # own choice must survive a re-import.
    return pd.DataFrame(
        {
            "external_id": raw["ID"],
            "display_name": name,
            "first_name": parts[0] if 0 in parts.columns else None,
            "last_name": parts[1] if 1 in parts.columns else None,
            "specialty": specialty,
            "location_ref": _column(raw, "ORGANIZATION"),
        },
        index=raw.index,
    )


def _patients(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    checks.required("ID", "patient id")
    dob = checks.timestamps("BIRTHDATE", required=True, date_only=True)
    died = checks.timestamps("DEATHDATE", required=False, date_only=True)
    # No phones or e-mails in Synthea: those columns stay out so a PM import's survive.
    return pd.DataFrame(
        {
            "external_id": raw["ID"],
            "mrn": raw["ID"],
            "first_name": strip_synthea_digits(raw["FIRST"]),
            "middle_name": strip_synthea_digits(_column(raw, "MIDDLE")),
            "last_name": strip_synthea_digits(raw["LAST"]),
            "suffix": _column(raw, "SUFFIX"),
            "dob": dob,
            "sex": _sex(raw["GENDER"]),
            "address1": _column(raw, "ADDRESS"),
            "city": _column(raw, "CITY"),
            "state": _column(raw, "STATE"),
            "postal_code": _column(raw, "ZIP"),
            "status": np.where(died.notna(), "deceased", "active").astype(object),
            "deceased_date": died,
        },
        index=raw.index,
    )


def _visits(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    checks.required("ID", "encounter id")
    checks.required("PATIENT", "patient id")
    start = checks.timestamps("START", required=True)
    stop = checks.timestamps("STOP", required=False)
    return pd.DataFrame(
        {
            "external_id": raw["ID"],
            "patient_ref": raw["PATIENT"],
            "provider_ref": _column(raw, "PROVIDER"),
            "location_ref": _column(raw, "ORGANIZATION"),
            "start": start,
            "end": stop,
            "visit_class": _visit_class(_column(raw, "ENCOUNTERCLASS")),
            "visit_type": _column(raw, "DESCRIPTION"),
            "status": "completed",
            "reason_code": _column(raw, "REASONCODE"),
            "reason": _column(raw, "REASONDESCRIPTION"),
        },
        index=raw.index,
    )


def _event_refs(raw: pd.DataFrame, checks: _RowChecks) -> dict[str, pd.Series]:
    checks.required("PATIENT", "patient id")
    checks.required("CODE", "code")
    return {"patient_ref": raw["PATIENT"], "visit_ref": _column(raw, "ENCOUNTER")}


def _observations(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    refs = _event_refs(raw, checks)
    date = checks.timestamps("DATE", required=True)
    value = _column(raw, "VALUE")
    number = pd.to_numeric(value, errors="coerce").astype("float64")
    if "TYPE" in raw.columns:
        # Synthea says which values are numbers; a numeric-looking text answer is still text.
        numeric = _per_value(raw["TYPE"], lambda v: v.strip().lower() == "numeric", True).astype(bool)
        number = number.where(numeric)
    number = number.where(np.isfinite(number))
    return pd.DataFrame(
        {
            **refs,
            "date": date,
            "category": _column(raw, "CATEGORY"),
            "code_system": "LOINC",
            "code": raw["CODE"],
            "description": _column(raw, "DESCRIPTION"),
            "value": value,
            "value_num": number,
            "unit": _column(raw, "UNITS"),
        },
        index=raw.index,
    )


def _immunizations(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    refs = _event_refs(raw, checks)
    date = checks.timestamps("DATE", required=True)
    return pd.DataFrame(
        {**refs, "date": date, "cvx": raw["CODE"], "description": _column(raw, "DESCRIPTION")}, index=raw.index
    )


def _procedures(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    refs = _event_refs(raw, checks)
    date = checks.timestamps("START" if "START" in raw.columns else "DATE", required=True)
    return pd.DataFrame(
        {
            **refs,
            "date": date,
            "code_system": _code_system(raw, "SNOMED"),
            "code": raw["CODE"],
            "description": _column(raw, "DESCRIPTION"),
        },
        index=raw.index,
    )


def _conditions(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    refs = _event_refs(raw, checks)
    onset = checks.timestamps("START", required=True, date_only=True)
    resolved = checks.timestamps("STOP", required=False, date_only=True)
    return pd.DataFrame(
        {
            **refs,
            "code_system": _code_system(raw, "SNOMED"),
            "code": raw["CODE"],
            "description": _column(raw, "DESCRIPTION"),
            "onset": onset,
            "resolved": resolved,
        },
        index=raw.index,
    )


def _medications(raw: pd.DataFrame, checks: _RowChecks) -> pd.DataFrame:
    refs = _event_refs(raw, checks)
    start = checks.timestamps("START", required=True)
    stop = checks.timestamps("STOP", required=False)
    return pd.DataFrame(
        {
            **refs,
            "start": start,
            "stop": stop,
            "code_system": "RxNorm",
            "code": raw["CODE"],
            "description": _column(raw, "DESCRIPTION"),
        },
        index=raw.index,
    )


_BUILDERS: dict[str, Callable[[pd.DataFrame, _RowChecks], pd.DataFrame]] = {
    "locations": _locations,
    "providers": _providers,
    "patients": _patients,
    "visits": _visits,
    "observations": _observations,
    "immunizations": _immunizations,
    "procedures": _procedures,
    "conditions": _conditions,
    "medications": _medications,
}


def _raw_values(rows: pd.DataFrame, headers: dict[str, str]) -> list[dict[str, str]]:
    """The rows' values as read, under the file's own column names ("" when empty)."""
    values = rows.drop(columns=[ROW, FILE]).astype(object)
    values = values.where(values.notna(), "").rename(columns=headers)
    return values.to_dict("records")


def _raw_rows_of(rows: pd.DataFrame, headers: dict[str, str], into: dict[tuple[str, int], dict[str, str]]) -> None:
    if rows.empty:
        return
    for file_name, line, raw in zip(rows[FILE].tolist(), rows[ROW].tolist(), _raw_values(rows, headers)):
        into[(str(file_name), int(line))] = raw


# --------------------------------------------------------------------------- the entry point


def parse_synthea_folder(
    path: Path,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    lazy: bool = False,
) -> ParsedImport:
    """Read the Synthea CSV export in ``path`` (the folder holding ``patients.csv``).

    Raises ``ImportFileError`` when a file lacks a column Panel Manager needs (the
    message names the file, the missing columns and the columns found) or is not a CSV.

    ``lazy`` (the import uses it) reads each file only when the writer takes its table
    (``parsed.frames.pop``), so one file's rows are held at a time instead of the whole
    folder's (issue 16: 100,000 patients peaked at 1.25 GB); row counts and rejections
    then fill in as the files are written.
    """
    path = Path(path)
    if not (path / "patients.csv").is_file():
        raise ImportFileError(f"{path}: this folder holds no patients.csv, so it is not a Synthea CSV export.")
    present = [spec for spec in SPECS if (path / spec.file_name).is_file()]
    parsed = ParsedImport(
        path=str(path),
        format=FORMAT,
        profile=None,
        source=SOURCE,
        rows_read=0,
        frames={},
        rejected=[],
        raw_rows={},
        files=[str(path / spec.file_name) for spec in present],
        rejected_ids={"patients": {}},
        rows_per_file={},
    )
    state = _FolderState()

    def read(index: int) -> pd.DataFrame | None:
        return _parse_one(path, present, index, parsed, state, progress, cancel, chunked=lazy)

    if lazy:
        parsed.frames = _LazyFrames([spec.table for spec in present], read)
        return parsed
    for index, spec in enumerate(present):
        frame = read(index)
        if frame is not None:
            parsed.frames[spec.table] = frame
    progress(len(present), len(present), "Read")
    return parsed


class _FolderState:
    def __init__(self) -> None:
        self.patient_ids: pd.Index | None = None


class _LazyFrames(dict):
    """Table -> frame, each table's file read (in folder order) when first asked for."""

    def __init__(self, tables: list[str], read: Callable[[int], pd.DataFrame | None]) -> None:
        super().__init__()
        self._tables = tables
        self._read = read
        self._next = 0

    def _upto(self, name: str) -> None:
        while name in self._tables[self._next :]:
            index = self._next
            self._next += 1
            frame = self._read(index)
            if frame is not None:
                dict.__setitem__(self, self._tables[index], frame)

    def __contains__(self, name: object) -> bool:
        return name in self._tables[self._next :] or dict.__contains__(self, name)

    def __getitem__(self, name: str) -> pd.DataFrame:
        self._upto(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default=None):
        self._upto(name)
        return dict.get(self, name, default)

    def pop(self, name: str, *default):
        self._upto(name)
        return dict.pop(self, name, *default)


def _parse_one(
    path: Path,
    present: list[_FileSpec],
    index: int,
    parsed: ParsedImport,
    state: _FolderState,
    progress: Progress,
    cancel: CancelToken,
    chunked: bool = False,
) -> pd.DataFrame | TableChunks | None:
    """Read one file of the folder into its table's frame; rejections and counts go into ``parsed``.

    ``chunked`` (a lazy parse) hands an event table over as ``TableChunks``: the file is
    read, checked and built one ``CHUNK_ROWS`` part at a time as the writer takes them.
    """
    spec = present[index]
    cancel.raise_if_cancelled()
    progress(index, len(present), f"Reading {spec.file_name}")

    def on_chunk(rows: int) -> None:
        progress(index, len(present), f"Reading {spec.file_name} ({rows:,} rows)")

    file_path = path / spec.file_name
    if chunked and spec.table in EVENT_IDENTITY:
        reader = _FileReader(file_path, spec, cancel, on_chunk)
        if reader.empty:
            parsed.rows_per_file[str(file_path)] = 0
            return None
        return TableChunks(_built_chunks(reader, spec, parsed, state))
    read = _read_file(file_path, spec, cancel, on_chunk)
    parsed.rows_read += read.rows_read
    parsed.rows_per_file[str(file_path)] = read.rows_read
    parsed.rejected.extend(read.rejected)
    if not len(read.frame):
        return None
    built = _built(spec, read.frame, read.headers, parsed, state, parsed.rejected)
    return built.reset_index(drop=True)


def _built_chunks(reader: _FileReader, spec: _FileSpec, parsed: ParsedImport, state: _FolderState):
    """The table's frame, part by part; the file's counts and rejections once it is read."""
    checked: list[Rejection] = []
    for raw in reader.chunks():
        if len(raw):
            yield _built(spec, raw, reader.headers, parsed, state, checked).reset_index(drop=True)
    # In the order a whole-file read gives: lines with the wrong number of fields, then rows.
    parsed.rows_read += reader.rows_read
    parsed.rows_per_file[str(reader.path)] = reader.rows_read
    parsed.rejected.extend(reader.rejected)
    parsed.rejected.extend(checked)


def _built(
    spec: _FileSpec,
    raw: pd.DataFrame,
    headers: dict[str, str],
    parsed: ParsedImport,
    state: _FolderState,
    rejected: list[Rejection],
) -> pd.DataFrame:
    """The table's rows built from a file's raw rows (all of them, or one part); the rows
    that cannot be used go to ``rejected``."""
    raw_rows = parsed.raw_rows
    rejected_patients = parsed.rejected_ids["patients"]
    checks = _RowChecks(raw, headers)
    built = _BUILDERS[spec.table](raw, checks)
    built[ROW] = raw[ROW]
    built[FILE] = raw[FILE]
    bad = checks.bad
    if bad.any():
        rows = raw.loc[bad]
        fresh = [
            Rejection(file_name=str(f), source_row=int(r), reason=str(reason), raw=values)
            for f, r, reason, values in zip(
                rows[FILE].tolist(), rows[ROW].tolist(), checks.reason[bad].tolist(), _raw_values(rows, headers)
            )
        ]
        rejected.extend(fresh)
        if spec.table == "patients":
            # Events of these patients are rejected by the writer; it names this row.
            for ident, rejection in zip(rows["ID"].tolist(), fresh):
                if isinstance(ident, str) and ident not in rejected_patients:
                    rejected_patients[ident] = rejection
        built = built.loc[~bad]
        raw = raw.loc[~bad]
    # Keep the input of rows the writer may still reject: repeated ids, and events
    # whose patient is not (or not validly) in this folder.
    maybe = pd.Series(False, index=built.index)
    if "external_id" in built.columns:
        maybe |= built["external_id"].duplicated(keep=False)
    if "patient_ref" in built.columns and state.patient_ids is not None:
        maybe |= ~built["patient_ref"].isin(state.patient_ids)
    if maybe.any():
        _raw_rows_of(raw.loc[maybe], headers, raw_rows)
    if spec.table == "patients":
        state.patient_ids = pd.Index(built["external_id"].unique())
    return built
